package raftnode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

const testPeerURI = "spiffe://phantom/test-role"

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

func TestRaftTLSRejectsPeers(t *testing.T) {
	ca := newTestCA(t, "phantom-ca")
	other := newTestCA(t, "other-ca")
	good := ca.issue(t, "n1", testPeerURI, ca.pool)
	cases := map[string]*tls.Config{
		"wrong role":    ca.issue(t, "pageserver", "spiffe://phantom/pageserver", ca.pool),
		"foreign CA":    other.issue(t, "n9", testPeerURI, ca.pool),
		"no client key": {RootCAs: ca.pool},
	}
	srvCfg, _, err := PeerTLS(good, testPeerURI)
	if err != nil {
		t.Fatal(err)
	}
	st, err := listenRaft("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	server := &tlsStreamLayer{tcpStreamLayer: st, server: srvCfg}
	defer func() { _ = server.Close() }()
	for name, bad := range cases {
		// The server rejects the bad client.
		accepted := make(chan error, 1)
		go func() {
			conn, err := server.Accept()
			if err != nil {
				accepted <- err
				return
			}
			defer func() { _ = conn.Close() }()
			accepted <- conn.(*tls.Conn).Handshake()
		}()
		var clientCfg *tls.Config
		if bad.RootCAs != nil && len(bad.Certificates) == 0 {
			clientCfg = bad.Clone()
			clientCfg.InsecureSkipVerify = true
			clientCfg.MinVersion = tls.VersionTLS13
		} else if _, clientCfg, err = PeerTLS(bad, testPeerURI); err != nil {
			t.Fatal(err)
		}
		client := &tlsStreamLayer{client: clientCfg}
		conn, err := client.Dial(raft.ServerAddress(server.Addr().String()), time.Second)
		if err == nil {
			_, _ = conn.Read(make([]byte, 1)) // TLS 1.3: the server's verdict arrives after the handshake
			_ = conn.Close()
		}
		err = <-accepted
		if err == nil || (name != "no client key" && !errors.Is(err, ErrPeerIdentity)) {
			t.Errorf("%s: server handshake = %v, want a rejection", name, err)
		}
	}
	// The client rejects a server with the wrong role.
	bad := ca.issue(t, "pageserver", "spiffe://phantom/pageserver", ca.pool)
	badSrv, _, _ := PeerTLS(bad, testPeerURI)
	st2, err := listenRaft("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	impostor := &tlsStreamLayer{tcpStreamLayer: st2, server: badSrv}
	defer func() { _ = impostor.Close() }()
	go func() {
		if conn, err := impostor.Accept(); err == nil {
			_ = conn.(*tls.Conn).Handshake()
			_ = conn.Close()
		}
	}()
	_, goodClient, _ := PeerTLS(good, testPeerURI)
	if _, err := (&tlsStreamLayer{client: goodClient}).Dial(raft.ServerAddress(impostor.Addr().String()), time.Second); !errors.Is(err, ErrPeerIdentity) {
		t.Fatalf("client accepted a server without the role URI: %v", err)
	}
}
