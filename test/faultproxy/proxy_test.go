package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// echoServer answers every line it reads with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return lis.Addr().String()
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

type client struct {
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{c: c, r: bufio.NewReader(c)}
}

// roundTrip writes line and reads the echo, waiting at most wait.
func (c *client) roundTrip(line string, wait time.Duration) (string, error) {
	if _, err := c.c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	return c.read(wait)
}

func (c *client) read(wait time.Duration) (string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(wait))
	s, err := c.r.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

func mustEcho(t *testing.T, c *client, line string) {
	t.Helper()
	got, err := c.roundTrip(line, 10*time.Second)
	if err != nil || got != line {
		t.Fatalf("echo %q: got %q, %v", line, got, err)
	}
}

func TestForwardsBothWays(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	for _, s := range []string{"a", "hello", strings.Repeat("x", 200_000)} {
		mustEcho(t, c, s)
	}
	if p.Target() == "" || p.Conns() != 1 {
		t.Fatalf("target %q conns %d", p.Target(), p.Conns())
	}
}

func TestPartitionStallsAndHealDelivers(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	mustEcho(t, c, "before")

	p.Partition()
	if !p.Partitioned() {
		t.Fatal("not partitioned")
	}
	// An existing connection stalls: no answer, but no reset or EOF either.
	_, err := c.roundTrip("during", 300*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read during partition: want a timeout, got %v", err)
	}
	// A new connection is accepted but gets nothing through.
	c2 := dial(t, p.Addr())
	if _, err := c2.roundTrip("new", 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("new connection during partition: want a timeout, got %v", err)
	}

	p.Heal()
	// Held bytes arrive in order after the heal.
	for _, cl := range []struct {
		c    *client
		want string
	}{{c, "during"}, {c2, "new"}} {
		got, err := cl.c.read(10 * time.Second)
		if err != nil || got != cl.want {
			t.Fatalf("after heal: got %q, %v; want %q", got, err, cl.want)
		}
	}
	mustEcho(t, c, "after")
	mustEcho(t, c2, "after2")
}

func TestPartitionBlocksSenderWhenBuffersFill(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	p.Partition()
	// Far more than the proxy queues plus the kernel buffers hold: the
	// sender must block rather than the proxy reading without bound.
	_ = c.c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 1<<20)
	var sent int
	var err error
	for sent < 256<<20 && err == nil {
		var n int
		n, err = c.c.Write(buf)
		sent += n
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("sent %d bytes through a partition without blocking (err %v)", sent, err)
	}
}

func TestReset(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	mustEcho(t, c, "x")
	p.Reset()
	if _, err := c.read(10 * time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after reset: want the connection closed, got %v", err)
	}
	// New connections still work.
	mustEcho(t, dial(t, p.Addr()), "y")
}

func TestResetDuringPartitionClosesHeldConnections(t *testing.T) {
	p := newProxy(t, echoServer(t))
	p.Partition()
	c := dial(t, p.Addr())
	if _, err := c.roundTrip("held", 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("want a timeout, got %v", err)
	}
	p.Reset()
	if _, err := c.read(10 * time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after reset: want the connection closed, got %v", err)
	}
}

func TestDelay(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	const d = 150 * time.Millisecond
	p.SetDelay(d)
	start := time.Now()
	mustEcho(t, c, "slow")
	// Both directions are delayed, so a round trip cannot be faster than 2d.
	if el := time.Since(start); el < 2*d {
		t.Fatalf("round trip took %s, want at least %s", el, 2*d)
	}
	p.SetDelay(0)
	mustEcho(t, c, "fast")
}

func TestTargetDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := lis.Addr().String()
	lis.Close()
	p := newProxy(t, target)
	c := dial(t, p.Addr())
	if _, err := c.read(10 * time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("want the connection closed when the target is down, got %v", err)
	}
}

func TestClose(t *testing.T) {
	p, err := New("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	mustEcho(t, c, "x")
	p.Partition() // a partitioned proxy closes too
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	if _, err := c.read(10 * time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after close: want the connection closed, got %v", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("proxy still accepts after Close")
	}
}
