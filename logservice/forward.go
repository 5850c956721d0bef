package logservice

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// metadataForwarded marks a request a follower forwarded to the leader; a
// node never forwards such a request again (no loops while leadership
// moves), it answers FAILED_PRECONDITION instead.
const metadataForwarded = "phantom-forwarded"

// forwarder holds connections to the leaders a follower forwards to.
type forwarder struct {
	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	closed bool
}

// errNoForward means the request is not forwarded; the caller answers
// not-leader itself.
var errNoForward = errors.New("logservice: not forwarded")

// leaderClient returns a LogService stub for the leader when this node
// should forward ctx's request: forwarding is on, the request was not
// forwarded already, and the leader's gRPC address is known and not ours.
func (s *Service) leaderClient(ctx context.Context) (wirepb.LogServiceClient, context.Context, error) {
	if !s.cfg.ForwardToLeader {
		return nil, nil, errNoForward
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get(metadataForwarded)) > 0 {
		return nil, nil, errNoForward
	}
	_, id := s.raft.LeaderWithID()
	addr := s.apiAddr(id)
	if id == "" || id == raft.ServerID(s.cfg.NodeID) || addr == "" {
		return nil, nil, errNoForward
	}
	f := &s.fwd
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, nil, ErrClosed
	}
	cc, ok := f.conns[addr]
	if !ok {
		var err error
		if cc, err = grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
			return nil, nil, fmt.Errorf("%w: dial leader %s: %w", ErrUnavailable, addr, err)
		}
		if f.conns == nil {
			f.conns = map[string]*grpc.ClientConn{}
		}
		f.conns[addr] = cc
	}
	out := metadata.AppendToOutgoingContext(ctx, metadataForwarded, s.cfg.NodeID)
	return wirepb.NewLogServiceClient(cc), out, nil
}

// close closes the forwarding connections.
func (f *forwarder) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	var errs []error
	for addr, cc := range f.conns {
		if err := cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("forward conn %s: %w", addr, err))
		}
	}
	clear(f.conns)
	return errors.Join(errs...)
}

// relayTrailer copies the leader's trailer (a not-leader hint) to the
// caller's answer.
func relayTrailer(ctx context.Context, md metadata.MD) {
	if len(md) > 0 {
		_ = grpc.SetTrailer(ctx, md)
	}
}
