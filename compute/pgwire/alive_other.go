//go:build !linux

package pgwire

import (
	"context"
	"net"
	"time"
)

// watchPeer is a no-op off Linux: a client that goes away mid-statement
// is noticed when the result is written (POLLRDHUP is Linux's).
func watchPeer(context.Context, net.Conn, time.Duration, context.CancelFunc) (stop func() bool) {
	return func() bool { return false }
}
