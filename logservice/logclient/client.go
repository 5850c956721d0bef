// Package logclient is the gRPC client of the log service: timestamps,
// commits, log streaming and status. It holds one connection per address it
// was given (plus leaders it was pointed at), sends GetTimestamp and Commit
// to the node it believes is the leader, and moves when a node answers
// "not leader". It never retries a Commit whose outcome is unknown.
package logclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// Errors answered by the client.
var (
	// ErrConflict wraps a commit the log service aborted (gRPC ABORTED):
	// a write-write conflict, a serializable read conflict, or a transaction
	// older than the resolver remembers. Nothing was written; the
	// transaction may be retried.
	ErrConflict = errors.New("logclient: commit conflict")
	// ErrUnknownOutcome wraps a commit that may or may not have been applied
	// (the connection or the leader failed after the request was sent).
	ErrUnknownOutcome = errors.New("logclient: commit outcome unknown")
	// ErrNoAddress is returned by Dial without any address.
	ErrNoAddress = errors.New("logclient: no address")
)

// metadataLeaderAddr must equal logservice.MetadataLeaderAddr (the client
// does not import the server; a test checks they agree).
const metadataLeaderAddr = "phantom-leader-addr"

type options struct {
	dialOpts    []grpc.DialOption
	minBackoff  time.Duration
	maxBackoff  time.Duration
	maxAttempts int
	logger      *slog.Logger
}

// Option configures a Client.
type Option func(*options)

// WithDialOptions adds gRPC dial options (the default is insecure
// transport credentials).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// WithBackoff sets the retry backoff bounds. Default 20ms to 1s.
func WithBackoff(minBackoff, maxBackoff time.Duration) Option {
	return func(o *options) { o.minBackoff, o.maxBackoff = minBackoff, maxBackoff }
}

// WithMaxAttempts bounds how many nodes GetTimestamp and Commit try while
// looking for the leader. Default 10.
func WithMaxAttempts(n int) Option {
	return func(o *options) { o.maxAttempts = n }
}

// WithLogger sets the logger. Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// Client talks to the replicas of one log group. It is safe for concurrent
// use.
type Client struct {
	addrs []string
	o     options

	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	leader string // address GetTimestamp and Commit go to
	closed bool
}

// Dial returns a client for the replicas at addr, one "host:port" or a
// comma-separated list. Connections are made lazily; ctx is only checked.
func Dial(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var addrs []string
	for a := range strings.SplitSeq(addr, ",") {
		if a = strings.TrimSpace(a); a != "" && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, ErrNoAddress
	}
	o := options{minBackoff: 20 * time.Millisecond, maxBackoff: time.Second, maxAttempts: 10, logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.minBackoff <= 0 {
		o.minBackoff = time.Millisecond
	}
	o.maxBackoff = max(o.maxBackoff, o.minBackoff)
	o.maxAttempts = max(o.maxAttempts, 1)
	c := &Client{addrs: addrs, o: o, conns: map[string]*grpc.ClientConn{}, leader: addrs[0]}
	if _, err := c.client(addrs[0]); err != nil {
		return nil, err
	}
	return c, nil
}

// client returns the LogService stub for addr, connecting lazily.
func (c *Client) client(addr string) (wirepb.LogServiceClient, error) {
	cc, err := c.conn(addr)
	if err != nil {
		return nil, err
	}
	return wirepb.NewLogServiceClient(cc), nil
}

// maxRecvMsgSize bounds one message from the log service: a log entry
// of a commit at the service's 64 MiB request limit, plus framing.
const maxRecvMsgSize = 80 << 20

// conn returns the connection to addr, connecting lazily.
func (c *Client) conn(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("logclient: closed")
	}
	cc, ok := c.conns[addr]
	if !ok {
		opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
			// ReadLog sends one entry per message, and an entry holds a
			// whole commit: up to the 64 MiB the log service accepts (and
			// raft-wal stores), far above gRPC's 4 MiB default.
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize))}, c.o.dialOpts...)
		var err error
		if cc, err = grpc.NewClient(addr, opts...); err != nil {
			return nil, fmt.Errorf("logclient: dial %s: %w", addr, err)
		}
		c.conns[addr] = cc
	}
	return cc, nil
}

func (c *Client) leaderAddr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

// moveLeader moves away from failed: to hint when the node named the
// leader, else to the next configured address.
func (c *Client) moveLeader(failed, hint string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader != failed {
		return // someone else already moved
	}
	if hint != "" {
		// The hint may be failed itself: a leader still establishing.
		c.leader = hint
		return
	}
	c.leader = c.nextAddr(failed)
}

func (c *Client) nextAddr(after string) string {
	i := slices.Index(c.addrs, after)
	return c.addrs[(i+1)%len(c.addrs)]
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// onLeader calls fn on the leader, following not-leader answers (which
// guarantee the request was not executed). Unavailable answers move to the
// next node and are retried only when idempotent.
func (c *Client) onLeader(ctx context.Context, idempotent bool, fn func(wirepb.LogServiceClient, grpc.CallOption) error) error {
	return c.onLeaderConn(ctx, idempotent, func(cc *grpc.ClientConn, opt grpc.CallOption) error {
		return fn(wirepb.NewLogServiceClient(cc), opt)
	})
}

// onLeaderConn is onLeader for any service on the leader's connection.
func (c *Client) onLeaderConn(ctx context.Context, idempotent bool, fn func(*grpc.ClientConn, grpc.CallOption) error) error {
	backoff := c.o.minBackoff
	for attempt := 1; ; attempt++ {
		addr := c.leaderAddr()
		cl, err := c.conn(addr)
		if err != nil {
			return err
		}
		var md metadata.MD
		err = fn(cl, grpc.Trailer(&md))
		if err == nil {
			return nil
		}
		switch status.Code(err) {
		case codes.FailedPrecondition:
			hint := ""
			if v := md.Get(metadataLeaderAddr); len(v) > 0 {
				hint = v[0]
			}
			c.moveLeader(addr, hint)
		case codes.Unavailable:
			c.moveLeader(addr, "")
			if !idempotent {
				return err
			}
		default:
			return err
		}
		if attempt >= c.o.maxAttempts || ctx.Err() != nil {
			return err
		}
		c.o.logger.Debug("logclient: retrying on another node", "addr", addr, "err", err)
		if serr := sleep(ctx, backoff); serr != nil {
			return err
		}
		backoff = min(2*backoff, c.o.maxBackoff)
	}
}

// GetTimestamp returns the first of n (0 means 1) consecutive timestamps and
// the log index a read at ts must wait for.
func (c *Client) GetTimestamp(ctx context.Context, n uint32) (ts, commitIndex uint64, err error) {
	var resp *wirepb.GetTimestampResponse
	err = c.onLeader(ctx, true, func(cl wirepb.LogServiceClient, opt grpc.CallOption) error {
		var err error
		resp, err = cl.GetTimestamp(ctx, &wirepb.GetTimestampRequest{Count: n}, opt)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("logclient: get timestamp: %w", err)
	}
	return resp.GetTimestamp(), resp.GetCommitIndex(), nil
}

// Commit commits muts on top of a snapshot at startTS. reads are the key
// ranges the transaction read, for SERIALIZABLE (nil for snapshot
// isolation): a write after startTS to a key in one of them aborts the
// commit. It answers an error wrapping ErrConflict when the log service
// aborted the commit (write-write or read-write conflict, or too old), and
// one wrapping ErrUnknownOutcome when it may or may not have been applied.
func (c *Client) Commit(ctx context.Context, startTS uint64, muts []*wirepb.Mutation, reads []*wirepb.KeyRange) (commitTS, index uint64, err error) {
	var resp *wirepb.CommitResponse
	err = c.onLeader(ctx, false, func(cl wirepb.LogServiceClient, opt grpc.CallOption) error {
		var err error
		resp, err = cl.Commit(ctx, &wirepb.CommitRequest{StartTs: startTS, Mutations: muts, ReadRanges: reads}, opt)
		return err
	})
	switch code := status.Code(err); {
	case err == nil:
		return resp.GetCommitTs(), resp.GetIndex(), nil
	case code == codes.Aborted:
		return 0, 0, fmt.Errorf("%w: %s", ErrConflict, status.Convert(err).Message())
	case code == codes.Unavailable || code == codes.DeadlineExceeded || code == codes.Canceled:
		return 0, 0, fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
	default:
		return 0, 0, fmt.Errorf("logclient: commit: %w", err)
	}
}

// ReportConsistent tells the log group that page server nodeID holds
// everything up to log index index (commit_ts ts) in the object store, so
// the log may be truncated at or below the minimum such index over the page
// servers that reported. It goes to the leader and is retried (it is
// idempotent; a lower index than reported before is ignored).
func (c *Client) ReportConsistent(ctx context.Context, nodeID string, index, ts uint64) error {
	err := c.onLeader(ctx, true, func(cl wirepb.LogServiceClient, opt grpc.CallOption) error {
		_, err := cl.ReportConsistent(ctx, &wirepb.ReportConsistentRequest{NodeId: nodeID, Index: index, Ts: ts}, opt)
		return err
	})
	if err != nil {
		return fmt.Errorf("logclient: report consistent index %d of %s: %w", index, nodeID, err)
	}
	return nil
}

// Status returns the status of the node the client currently sends
// GetTimestamp and Commit to.
func (c *Client) Status(ctx context.Context) (*wirepb.StatusResponse, error) {
	cl, err := c.client(c.leaderAddr())
	if err != nil {
		return nil, err
	}
	resp, err := cl.Status(ctx, &wirepb.StatusRequest{})
	if err != nil {
		return nil, fmt.Errorf("logclient: status: %w", err)
	}
	return resp, nil
}

// stopError carries fn's error out of the stream loop.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }

// ReadLog calls fn, in log order, for every commit record with index >=
// from and then for new ones as they commit, until ctx is done or fn fails
// (its error is returned). Any replica serves it; when a stream breaks
// (Unavailable) it reconnects, to the next address, with backoff, resuming
// after the last index delivered. A replica that no longer holds the next
// index (codes.OutOfRange: truncated, or it installed a snapshot) is skipped
// for the next address; when every configured address answered OutOfRange
// in a row, the error (codes.OutOfRange) is returned.
func (c *Client) ReadLog(ctx context.Context, from uint64, fn func(*wirepb.LogEntry) error) error {
	next := from
	addr := c.leaderAddr()
	backoff := c.o.minBackoff
	outOfRange := 0 // consecutive OutOfRange answers
	for {
		err := c.readOnce(ctx, addr, next, func(e *wirepb.LogEntry) error {
			if err := fn(e); err != nil {
				return stopError{err}
			}
			next = e.GetIndex() + 1
			backoff = c.o.minBackoff
			outOfRange = 0
			return nil
		})
		if se, ok := errors.AsType[stopError](err); ok {
			return se.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if status.Code(err) == codes.OutOfRange {
			if outOfRange++; outOfRange >= len(c.addrs) {
				return fmt.Errorf("logclient: read log from %d: no replica holds it: %w", next, err)
			}
			c.o.logger.Debug("logclient: replica lacks the log position; trying the next", "addr", addr, "next", next)
			c.mu.Lock()
			addr = c.nextAddr(addr)
			c.mu.Unlock()
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) && status.Code(err) != codes.Unavailable {
			return fmt.Errorf("logclient: read log from %d at %s: %w", next, addr, err)
		}
		c.o.logger.Debug("logclient: log stream broke; reconnecting", "addr", addr, "next", next, "err", err)
		c.mu.Lock()
		addr = c.nextAddr(addr)
		c.mu.Unlock()
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, c.o.maxBackoff)
	}
}

func (c *Client) readOnce(ctx context.Context, addr string, from uint64, fn func(*wirepb.LogEntry) error) error {
	cl, err := c.client(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cl.ReadLog(ctx, &wirepb.ReadLogRequest{FromIndex: from})
	if err != nil {
		return err
	}
	for {
		e, err := stream.Recv()
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// Close closes every connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for addr, cc := range c.conns {
		if err := cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("logclient: close %s: %w", addr, err))
		}
	}
	clear(c.conns)
	return errors.Join(errs...)
}
