package raftnode

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// advertisedAddr is a host:port as peers reach this node; it may name a host
// (or a proxy) rather than the bound IP.
type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

// tcpStreamLayer is raft's stream layer over plain TCP. Unlike
// raft.NewTCPTransport it keeps the listener, so the service can report the
// bound address next to the advertised one, and it accepts a host name as
// the advertised address.
type tcpStreamLayer struct {
	listener  net.Listener
	advertise net.Addr
}

var _ raft.StreamLayer = (*tcpStreamLayer)(nil)

// Dial implements raft.StreamLayer.
func (t *tcpStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(address), timeout)
}

// Accept implements net.Listener.
func (t *tcpStreamLayer) Accept() (net.Conn, error) { return t.listener.Accept() }

// Close implements net.Listener.
func (t *tcpStreamLayer) Close() error { return t.listener.Close() }

// Addr implements net.Listener: the address peers dial, which raft records
// in the group configuration.
func (t *tcpStreamLayer) Addr() net.Addr { return t.advertise }

// listenRaft binds bind and returns the stream layer advertising advertise
// ("" means the bound address, which must then be a specific IP).
func listenRaft(bind, advertise string) (*tcpStreamLayer, error) {
	l, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	st := &tcpStreamLayer{listener: l, advertise: l.Addr()}
	if advertise != "" {
		st.advertise = advertisedAddr(advertise)
		return st, nil
	}
	if a, ok := l.Addr().(*net.TCPAddr); !ok || a.IP == nil || a.IP.IsUnspecified() {
		_ = l.Close()
		return nil, fmt.Errorf("bound address %s is not advertisable: set an advertise address", l.Addr())
	}
	return st, nil
}

// ValidateAdvertise checks that addr is host:port with a host and a non-zero
// port.
func ValidateAdvertise(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%q is not advertisable", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("%q has no valid port", addr)
	}
	return nil
}
