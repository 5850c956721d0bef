package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	controlplane "github.com/phantom-db/phantom/control-plane"
)

// devUser is the role `phantom dev` creates for the PostgreSQL protocol.
const devUser = "phantom"

// devCreds are the client credentials `phantom dev` hands out.
type devCreds struct {
	apiKey     string
	pgUser     string
	pgPassword string
}

// readDevInfo returns the dev.json of an earlier run, zero when none.
func readDevInfo(dataDir string) devInfo {
	var info devInfo
	if b, err := os.ReadFile(filepath.Join(dataDir, "dev.json")); err == nil {
		_ = json.Unmarshal(b, &info) // a damaged file only costs new credentials
	}
	return info
}

// devCredentials keeps the API key and role password of the previous run
// when they still hold, and otherwise creates a read-write key for
// default/phantom and the role "phantom" with a random password.
func devCredentials(svc *controlplane.Service, prev devInfo, authMode string) (devCreds, error) {
	if authMode == "none" {
		return devCreds{pgUser: devUser}, nil
	}
	c := devCreds{apiKey: prev.APIKey, pgUser: devUser, pgPassword: prev.PGPassword}
	if _, err := svc.VerifyAPIKey(c.apiKey); err != nil {
		k, err := svc.CreateAPIKey("default", "phantom", false)
		if err != nil {
			return devCreds{}, fmt.Errorf("dev api key: %w", err)
		}
		c.apiKey = k.Key
	}
	_, err := svc.RoleVerifier("default", devUser)
	if err == nil && c.pgPassword != "" {
		return c, nil
	}
	if err == nil {
		// The role exists but its password was lost with dev.json.
		if err := svc.DropRole("default", devUser); err != nil {
			return devCreds{}, fmt.Errorf("dev role: %w", err)
		}
	} else if !errors.Is(err, controlplane.ErrNotFound) {
		return devCreds{}, fmt.Errorf("dev role: %w", err)
	}
	c.pgPassword = randomToken("")[:24]
	if _, err := svc.CreateRole("default", devUser, c.pgPassword); err != nil {
		return devCreds{}, fmt.Errorf("dev role: %w", err)
	}
	return c, nil
}

// devCertificate returns a self-signed certificate for localhost, the
// loopback addresses and host under dir, creating it on first use.
func devCertificate(dir, host string) (certPath, keyPath string, err error) {
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := os.Stat(certPath); err == nil {
		if _, err := os.Stat(keyPath); err == nil {
			return certPath, keyPath, nil
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("dev certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("dev certificate: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "phantom dev", Organization: []string{"Phantom-DB dev"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		IsCA:         true,
		// A self-signed leaf that is its own CA, so clients can pin it with
		// sslrootcert / RootCAs.
		BasicConstraintsValid: true,
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if ip == nil && host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", fmt.Errorf("dev certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("dev certificate: %w", err)
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", fmt.Errorf("dev certificate: %w", err)
	}
	if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", fmt.Errorf("dev certificate: %w", err)
	}
	return certPath, keyPath, nil
}

// writeFileAtomic replaces path with b through a temporary file and a
// rename, so a reader never sees half a file.
func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// printDevBanner tells the user where everything is and how to log in.
func printDevBanner(dataDir string, info devInfo, authMode string) {
	pgHost, pgPort, _ := net.SplitHostPort(info.PGAddr)
	fmt.Printf(`
Phantom-DB dev is ready (data in %s)

  SQL over HTTP   POST %s/v1/sql
  PostgreSQL      %s:%s (TLS offered: sslmode=require works)
  proxy (HTTP)    POST %s/v1/sql   (endpoint "main", scales from zero)
  proxy (PG)      %s (no TLS at the proxy yet)
  control plane   %s
  log service     %s (gRPC)
  page server     %s (gRPC)
  NATS            %s
`, dataDir, info.SQLURL, pgHost, pgPort, info.ProxyURL, info.ProxyPGAddr, info.ControlPlane, info.LogService, info.PageServer, info.NATS)
	if authMode == "none" {
		fmt.Printf(`
  Authentication is OFF (--auth=none).

  curl -s %s/v1/sql -d '{"query": "SELECT 1"}'
  psql -h %s -p %s -U %s phantom
`, info.SQLURL, pgHost, pgPort, info.PGUser)
	} else {
		fmt.Printf(`
  dev API key     %s
  dev SQL role    %s / %s
  admin token     %s (control plane API)
  (all in %s; source %s to export them)

  curl -s %s/v1/sql -H "Authorization: Bearer %s" -d '{"query": "SELECT 1"}'
  PGPASSWORD=%s psql "host=%s port=%s user=%s dbname=phantom sslmode=require"
`, info.APIKey, info.PGUser, info.PGPassword, info.AdminToken,
			filepath.Join(dataDir, "dev.json"), filepath.Join(dataDir, "dev.env"),
			info.SQLURL, info.APIKey, info.PGPassword, pgHost, pgPort, info.PGUser)
	}
	fmt.Print("\nPress Ctrl-C to stop.\n")
}
