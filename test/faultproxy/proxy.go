// Package faultproxy is a fault-injecting TCP proxy for distributed tests.
// It forwards every connection accepted on its listen address to one target
// address, both ways, and can at runtime:
//
//   - Partition: a blackhole. No byte is delivered in either direction;
//     existing connections stall (they are not reset) and new connections
//     are accepted but not connected onward. The sender's kernel buffers fill
//     and its writes block, as behind a real partition. Heal resumes
//     forwarding: held bytes are delivered in order (as TCP retransmission
//     would after a real partition heals) unless an endpoint gave up and
//     closed its side meanwhile.
//   - Reset: close every current connection (both sides), like a middlebox
//     dropping its state.
//   - SetDelay: deliver every chunk d after it was read (latency, not a
//     bandwidth limit).
//
// Invariant: bytes of one connection are delivered in order or not at all;
// the proxy never reorders, duplicates or corrupts a stream. It is meant for
// loopback tests only.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ErrClosed is returned by operations on a closed Proxy.
var ErrClosed = errors.New("faultproxy: closed")

// chunkSize is the read buffer of one direction of one connection, bytes.
const chunkSize = 32 << 10

// queueChunks bounds the chunks read but not yet delivered per direction;
// beyond it the reader stops reading and the sender's writes block.
const queueChunks = 64

// Proxy forwards TCP connections from its listen address to a target.
type Proxy struct {
	target string
	lis    net.Listener

	mu          sync.Mutex
	partitioned bool
	delay       time.Duration
	changed     chan struct{} // closed and replaced whenever state changes
	conns       map[*link]struct{}
	closed      bool

	wg sync.WaitGroup
}

// link is one proxied connection: the accepted side and the dialed side.
type link struct {
	client net.Conn
	once   sync.Once
	mu     sync.Mutex
	server net.Conn // nil until dialed
	done   chan struct{}
}

func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		_ = l.client.Close()
		l.mu.Lock()
		if l.server != nil {
			_ = l.server.Close()
		}
		l.mu.Unlock()
	})
}

// New listens on listen (e.g. "127.0.0.1:0") and forwards every accepted
// connection to target. The target need not be up yet: a connection that
// cannot be dialed is closed.
func New(listen, target string) (*Proxy, error) {
	lis, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen %s: %w", listen, err)
	}
	p := &Proxy{
		target:  target,
		lis:     lis,
		changed: make(chan struct{}),
		conns:   map[*link]struct{}{},
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the address the proxy listens on.
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Partition stops delivering bytes in both directions until Heal.
func (p *Proxy) Partition() { p.set(func() { p.partitioned = true }) }

// Heal resumes forwarding after Partition.
func (p *Proxy) Heal() { p.set(func() { p.partitioned = false }) }

// Partitioned reports whether the proxy is partitioned.
func (p *Proxy) Partitioned() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.partitioned
}

// SetDelay makes every chunk be delivered d after it was read; 0 removes the
// delay. It applies to chunks read from now on.
func (p *Proxy) SetDelay(d time.Duration) { p.set(func() { p.delay = max(d, 0) }) }

// Reset closes every current connection; new ones are accepted as usual.
func (p *Proxy) Reset() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Conns returns the number of open proxied connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops listening, closes every connection and waits for the proxy's
// goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	err := p.lis.Close()
	p.Reset()
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("faultproxy: close listener: %w", err)
	}
	return nil
}

func (p *Proxy) set(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn()
	close(p.changed)
	p.changed = make(chan struct{})
}

// state returns the current partition flag and delay, and a channel closed
// at the next change.
func (p *Proxy) state() (partitioned bool, delay time.Duration, changed <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.partitioned, p.delay, p.changed
}

// waitOpen blocks while the proxy is partitioned; it returns false when l
// closed meanwhile.
func (p *Proxy) waitOpen(l *link) bool {
	for {
		part, _, changed := p.state()
		if !part {
			return true
		}
		select {
		case <-changed:
		case <-l.done:
			return false
		}
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return // listener closed
		}
		l := &link{client: c, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			return
		}
		p.conns[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// serve connects l onward (once not partitioned) and pumps both directions
// until either side ends.
func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	defer func() {
		l.close()
		p.mu.Lock()
		delete(p.conns, l)
		p.mu.Unlock()
	}()
	if !p.waitOpen(l) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	var d net.Dialer
	server, err := d.DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		return
	}
	l.mu.Lock()
	l.server = server
	l.mu.Unlock()
	select {
	case <-l.done: // closed while dialing
		_ = server.Close()
		return
	default:
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(l, l.client, server) }()
	go func() { defer wg.Done(); p.pipe(l, server, l.client) }()
	wg.Wait()
}

type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies src to dst through a bounded queue, so that a delay holds
// bytes without throttling throughput and a partition stalls the sender once
// queueChunks are held. EOF on src is passed on as a half-close; any other
// end closes the whole link.
func (p *Proxy) pipe(l *link, src, dst net.Conn) {
	q := make(chan chunk, queueChunks)
	var readErr error // written before q is closed
	go func() {
		defer close(q)
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			if n > 0 {
				_, delay, _ := p.state()
				select {
				case q <- chunk{b: buf[:n], due: time.Now().Add(delay)}:
				case <-l.done:
					readErr = net.ErrClosed
					return
				}
			}
			if err != nil {
				readErr = err
				return
			}
		}
	}()
	for c := range q {
		if wait := time.Until(c.due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return
			}
		}
		if !p.waitOpen(l) {
			return
		}
		if _, err := dst.Write(c.b); err != nil {
			l.close()
			return
		}
	}
	if !errors.Is(readErr, io.EOF) {
		l.close()
		return
	}
	// A clean EOF: pass the half-close on so request/response protocols
	// finish; the link closes when the other direction ends too.
	if tc, ok := dst.(*net.TCPConn); !ok || tc.CloseWrite() != nil {
		l.close()
	}
}
