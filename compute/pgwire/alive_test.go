//go:build linux

package pgwire

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/phantom-db/phantom/compute/sql"
)

// endedSession is a slowSession that reports how each statement ended.
type endedSession struct {
	slowSession
	ended chan error
}

func (s *endedSession) Execute(ctx context.Context, query string, params []any) ([]*sql.Result, error) {
	res, err := s.slowSession.Execute(ctx, query, params)
	if strings.Contains(query, "slow()") {
		// Only the slow statement reports (a pipelined one after it must
		// not block on the channel while the server shuts down).
		select {
		case s.ended <- err:
		default:
		}
	}
	return res, err
}

func startEndedServer(t *testing.T, interval time.Duration) (addr string, started chan struct{}, ended chan error) {
	started, ended = make(chan struct{}, 1), make(chan error, 1)
	eng := newEngine(t)
	_, addr = startServer(t, Config{ClientCheckInterval: interval,
		NewSession: func() Session { return &endedSession{slowSession{engineSession{eng}, started}, ended} }})
	return addr, started, ended
}

func TestClientDisconnectCancelsStatement(t *testing.T) {
	for _, tc := range []struct {
		name string
		// extra is sent after the query and before the client leaves: the
		// server must see the FIN behind bytes it has not read.
		extra []pgproto3.FrontendMessage
	}{
		{name: "idle socket"},
		{name: "pipelined bytes unread", extra: []pgproto3.FrontendMessage{&pgproto3.Query{String: "SELECT 1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, started, ended := startEndedServer(t, 20*time.Millisecond)
			r := dialRaw(t, addr)
			r.startup()
			r.send(&pgproto3.Query{String: "SELECT slow()"})
			<-started
			if len(tc.extra) > 0 {
				r.send(tc.extra...)
			}
			r.nc.Close()
			select {
			case err := <-ended:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("statement ended with %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("statement still running 10 s after its client left")
			}
		})
	}
}

func TestClientCheckDisabled(t *testing.T) {
	addr, started, ended := startEndedServer(t, -1)
	r := dialRaw(t, addr)
	r.startup()
	r.send(&pgproto3.Query{String: "SELECT slow()"})
	<-started
	r.nc.Close()
	select {
	case err := <-ended:
		t.Fatalf("statement ended (%v) with the client check disabled", err)
	case <-time.After(300 * time.Millisecond):
	}
	// The server's Close (test cleanup) cancels the statement.
}

func TestClientStillConnectedIsNotCancelled(t *testing.T) {
	addr, started, ended := startEndedServer(t, 10*time.Millisecond)
	r := dialRaw(t, addr)
	r.startup()
	r.send(&pgproto3.Query{String: "SELECT slow()"}, &pgproto3.Query{String: "SELECT 1"})
	<-started
	select {
	case err := <-ended:
		t.Fatalf("statement of a connected client ended: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
}
