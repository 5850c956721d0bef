package logservice

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/raftnode"
)

// testCA is an in-process certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a TLS config holding a certificate for name with URI SAN
// uri, trusting ca's pool.
func (ca *testCA) issue(t *testing.T, name, uri string, trust *x509.CertPool) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(uri)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		URIs:        []*url.URL{u},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      trust,
	}
}

func TestRaftMutualTLS(t *testing.T) {
	ca := newTestCA(t, "phantom-ca")
	g := StartTestGroup(t, 3, func(c *Config) {
		c.RaftTLS = ca.issue(t, c.NodeID, DefaultRaftPeerURI, ca.pool)
	})
	c := dial(t, g.AddrList())
	acks := commitN(t, c, "tls", 5)
	for i := range g.Services {
		checkLog(t, readN(t, dial(t, g.Addrs[i]), 1, len(acks)), acks)
	}
	// The Raft port speaks TLS and shows the role certificate.
	_, client, err := raftnode.PeerTLS(ca.issue(t, "probe", DefaultRaftPeerURI, ca.pool), DefaultRaftPeerURI)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", g.Services[0].RaftBindAddr(), client)
	if err != nil {
		t.Fatalf("TLS dial of the Raft port: %v", err)
	}
	_ = conn.Close()
}
