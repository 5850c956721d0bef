package raftnode

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// ErrPeerIdentity: a Raft peer's certificate does not chain to the
// configured CA or lacks the role URI of the group.
var ErrPeerIdentity = errors.New("raft peer identity rejected")

// PeerTLS builds the server and client TLS configurations of the Raft
// transport from base (Config.TLS): TLS 1.3, a certificate required in both
// directions, verified against base.RootCAs, and the leaf must carry the
// URI SAN uri. Host names are not checked: peers are dialled by advertised
// addresses (which may be proxies), and the role URI is what identifies a
// replica.
func PeerTLS(base *tls.Config, uri string) (server, client *tls.Config, err error) {
	if len(base.Certificates) == 0 && base.GetCertificate == nil {
		return nil, nil, errors.New("raft TLS config has no certificate")
	}
	if base.RootCAs == nil {
		return nil, nil, errors.New("raft TLS config has no RootCAs (the CA pool peers are verified against)")
	}
	verify := func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
		return verifyPeer(rawCerts, base.RootCAs, uri)
	}
	server = base.Clone()
	server.MinVersion = tls.VersionTLS13
	server.ClientAuth = tls.RequireAnyClientCert // chain checked by verify
	server.VerifyPeerCertificate = verify
	client = base.Clone()
	client.MinVersion = tls.VersionTLS13
	client.InsecureSkipVerify = true // chain and role checked by verify
	client.VerifyPeerCertificate = verify
	if len(client.Certificates) == 0 && base.GetCertificate != nil {
		client.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return base.GetCertificate(nil)
		}
	}
	return server, client, nil
}

// verifyPeer checks that the presented chain verifies against roots and its
// leaf carries the URI SAN uri.
func verifyPeer(rawCerts [][]byte, roots *x509.CertPool, uri string) error {
	if len(rawCerts) == 0 {
		return fmt.Errorf("%w: no certificate", ErrPeerIdentity)
	}
	certs := make([]*x509.Certificate, len(rawCerts))
	for i, raw := range rawCerts {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return fmt.Errorf("%w: parse certificate: %w", ErrPeerIdentity, err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	leaf := certs[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("%w: %w", ErrPeerIdentity, err)
	}
	for _, u := range leaf.URIs {
		if u.String() == uri {
			return nil
		}
	}
	return fmt.Errorf("%w: certificate %q lacks URI SAN %s", ErrPeerIdentity, leaf.Subject.CommonName, uri)
}

// tlsStreamLayer is tcpStreamLayer with mutual TLS on every connection.
type tlsStreamLayer struct {
	*tcpStreamLayer
	server, client *tls.Config
}

var _ raft.StreamLayer = (*tlsStreamLayer)(nil)

// Dial implements raft.StreamLayer; the handshake completes (and the
// leader's certificate is checked) before it returns.
func (t *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(address), t.client)
}

// Accept implements net.Listener. The handshake (and the client check)
// runs on the connection's first read; a rejected peer's connection fails
// there and Raft drops it.
func (t *tlsStreamLayer) Accept() (net.Conn, error) {
	c, err := t.tcpStreamLayer.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(c, t.server), nil
}
