package pgwire

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/xdg-go/scram"
)

// roles is an in-memory role table for the SCRAM tests (the control plane
// serves the real one; see compute/auth and the e2e tests).
func roles(t *testing.T, passwords map[string]string) SCRAMLookup {
	creds := map[string]scram.StoredCredentials{}
	for user, pw := range passwords {
		c, err := scram.SHA256.NewClient(user, pw, "")
		if err != nil {
			t.Fatal(err)
		}
		creds[user] = c.GetStoredCredentials(scram.KeyFactors{Salt: "0123456789abcdef", Iters: 4096})
	}
	return func(_ context.Context, user string) (scram.StoredCredentials, error) {
		if c, ok := creds[user]; ok {
			return c, nil
		}
		return scram.StoredCredentials{}, fmt.Errorf("%w: %s", ErrUnknownRole, user)
	}
}

// selfSigned returns a server TLS config with a fresh self-signed
// certificate for 127.0.0.1.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func dial(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg)
}

func TestSCRAMAuthentication(t *testing.T) {
	_, addr := startServer(t, Config{SCRAM: roles(t, map[string]string{"app": "s3cret pässword"})})
	ctx := testCtx(t)
	c, err := dial(ctx, "postgres://app:s3cret%20p%C3%A4ssword@"+addr+"/phantom?sslmode=disable")
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("query after login: %v", err)
	}
	c.Close(ctx)
	for _, dsn := range []string{
		"postgres://app:wrong@" + addr + "/phantom?sslmode=disable",
		"postgres://app@" + addr + "/phantom?sslmode=disable",
		"postgres://nobody:s3cret@" + addr + "/phantom?sslmode=disable",
	} {
		_, err := dial(ctx, dsn)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28P01" {
			t.Fatalf("%s: %v, want 28P01", dsn, err)
		}
	}
	// The failures left the server serving.
	c, err = dial(ctx, "postgres://app:s3cret%20p%C3%A4ssword@"+addr+"/phantom?sslmode=disable")
	if err != nil {
		t.Fatalf("after failed logins: %v", err)
	}
	c.Close(ctx)
}

func TestConfigRequiresAnAuthChoice(t *testing.T) {
	if _, err := New(Config{NewSession: EngineSessions(newEngine(t))}); err == nil {
		t.Fatal("a server with neither SCRAM nor Trust must not start")
	}
}

func TestTLS(t *testing.T) {
	_, addr := startServer(t, Config{TLS: selfSigned(t), SCRAM: roles(t, map[string]string{"app": "pw"})})
	ctx := testCtx(t)
	c, err := dial(ctx, "postgres://app:pw@"+addr+"/phantom?sslmode=require")
	if err != nil {
		t.Fatalf("sslmode=require: %v", err)
	}
	if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("connection is %T, not TLS", c.PgConn().Conn())
	}
	var s string
	if err := c.QueryRow(ctx, "SELECT 'over tls'").Scan(&s); err != nil || s != "over tls" {
		t.Fatalf("query over TLS: %q %v", s, err)
	}
	c.Close(ctx)
	// Plaintext still works when the client does not ask for TLS.
	c, err = dial(ctx, "postgres://app:pw@"+addr+"/phantom?sslmode=disable")
	if err != nil {
		t.Fatalf("sslmode=disable: %v", err)
	}
	c.Close(ctx)

	// Without a certificate SSLRequest is declined, so require fails.
	_, plain := startServer(t, Config{})
	if c, err := dial(ctx, "postgres://app@"+plain+"/phantom?sslmode=require"); err == nil {
		c.Close(ctx)
		t.Fatal("sslmode=require against a server without TLS must fail")
	}
}
