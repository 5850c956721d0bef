//go:build linux

package pgwire

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// peerGone reports whether the client has closed or reset its end of nc:
// a zero-timeout poll for POLLRDHUP/POLLHUP/POLLERR on the socket, as
// PostgreSQL's client_connection_check_interval does. It sees a FIN even
// behind bytes the client sent before leaving (a pipelined message, a TLS
// close_notify), and consumes nothing, so the protocol reader still gets
// every byte. Connections that are not sockets (tests' net.Pipe) never
// count as gone.
func peerGone(nc net.Conn) bool {
	if t, ok := nc.(*tls.Conn); ok {
		nc = t.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	err = raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		n, perr := unix.Poll(fds, 0)
		gone = perr == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
	})
	return gone || err != nil && !errors.Is(err, net.ErrClosed)
}

// watchPeer calls cancel when the client of nc goes away while the
// statement of ctx runs, checking every interval (PostgreSQL's
// client_connection_check_interval); it returns a stop function that ends
// the watch and reports whether it fired. interval <= 0 disables the watch.
func watchPeer(ctx context.Context, nc net.Conn, interval time.Duration, cancel context.CancelFunc) (stop func() bool) {
	if interval <= 0 {
		return func() bool { return false }
	}
	done := make(chan struct{})
	fired := make(chan bool, 1)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				fired <- false
				return
			case <-ctx.Done():
				fired <- false
				return
			case <-t.C:
				if peerGone(nc) {
					cancel()
					fired <- true
					return
				}
			}
		}
	}()
	return func() bool {
		close(done)
		return <-fired
	}
}
