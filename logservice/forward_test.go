package logservice

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
)

func TestForwardToLeader(t *testing.T) {
	g := StartTestGroup(t, 3, func(c *Config) { c.ForwardToLeader = true })
	follower := (g.Leader() + 1) % 3
	// A client that may not move: only forwarding can serve it.
	c, err := logclient.Dial(context.Background(), g.Addrs[follower], logclient.WithMaxAttempts(1), logclient.WithLogger(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := ctxT(t, 20*time.Second)
	var acks []acked
	for i := range 5 {
		start, _, err := c.GetTimestamp(ctx, 1)
		if err != nil {
			t.Fatalf("timestamp through follower: %v", err)
		}
		ts, idx, err := c.Commit(ctx, start, mut(string(rune('a'+i)), "v"), nil)
		if err != nil {
			t.Fatalf("commit through follower: %v", err)
		}
		acks = append(acks, acked{key: string(rune('a' + i)), commitTS: ts, index: idx})
	}
	checkLog(t, readN(t, dial(t, g.Addrs[g.Leader()]), 1, len(acks)), acks)
	if st, err := c.Status(ctx); err != nil || st.GetNodeId() == g.Services[g.Leader()].cfg.NodeID {
		t.Fatalf("client moved away from the follower: %v %v", st, err)
	}

	// A request that was forwarded once is not forwarded again.
	cc, err := grpc.NewClient(g.Addrs[follower], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	fctx := metadata.AppendToOutgoingContext(ctx, metadataForwarded, "elsewhere")
	_, err = wirepb.NewLogServiceClient(cc).GetTimestamp(fctx, &wirepb.GetTimestampRequest{})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("re-forwarded request: got %v, want FailedPrecondition", err)
	}
}
