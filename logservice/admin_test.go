package logservice

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// suffrages maps member id to suffrage in a configuration answer.
func suffrages(resp *wirepb.ConfigurationResponse) map[string]string {
	out := map[string]string{}
	for _, s := range resp.GetServers() {
		out[s.GetId()] = s.GetSuffrage()
	}
	return out
}

func TestMembershipChanges(t *testing.T) {
	g := StartTestGroup(t, 3)
	c := dial(t, g.AddrList())
	admin := c.Admin()
	ctx := ctxT(t, 60*time.Second)
	acks := commitN(t, c, "before", 5)

	// A new node joins as a learner and receives the whole log.
	n4 := g.StartNode(t, "n4")
	resp, err := admin.AddLearner(ctx, "n4", g.Services[n4].RaftAddr(), g.Addrs[n4])
	if err != nil {
		t.Fatal(err)
	}
	if got := suffrages(resp); got["n4"] != "Nonvoter" || len(got) != 4 {
		t.Fatalf("after add learner: %v", got)
	}
	acks = append(acks, commitN(t, c, "learner", 5)...)
	c4 := dial(t, g.Addrs[n4])
	checkLog(t, readN(t, c4, 1, len(acks)), acks)

	// Promote it, then remove an old follower.
	if resp, err = admin.PromoteLearner(ctx, "n4"); err != nil {
		t.Fatal(err)
	}
	if got := suffrages(resp); got["n4"] != "Voter" {
		t.Fatalf("after promote: %v", got)
	}
	old := -1
	for i := range 3 {
		if !g.Services[i].IsLeader() {
			old = i
			break
		}
	}
	oldID := g.Services[old].cfg.NodeID
	if resp, err = admin.RemoveServer(ctx, oldID); err != nil {
		t.Fatal(err)
	}
	if got := suffrages(resp); got[oldID] != "" || len(got) != 3 {
		t.Fatalf("after removing %s: %v", oldID, got)
	}
	g.Stop(old)

	// A follower refuses admin calls and names the leader.
	for i, svc := range g.Services {
		if i == old || svc.IsLeader() {
			continue
		}
		cc, err := grpc.NewClient(g.Addrs[i], grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		var md metadata.MD
		_, err = wirepb.NewLogAdminClient(cc).RemoveServer(ctx, &wirepb.ServerIDRequest{Id: "n4"}, grpc.Trailer(&md))
		_ = cc.Close()
		if status.Code(err) != codes.FailedPrecondition || len(md.Get(MetadataLeaderAddr)) == 0 || md.Get(MetadataLeaderAddr)[0] != g.Addrs[g.Leader()] {
			t.Fatalf("admin on follower %s: %v, leader metadata %v", svc.cfg.NodeID, err, md.Get(MetadataLeaderAddr))
		}
		break
	}

	// Leadership moves to the new node; commits follow it there (the
	// client learns n4's address from the not-leader answers).
	if _, err := admin.TransferLeadership(ctx, "n4"); err != nil {
		t.Fatal(err)
	}
	waitCtx := ctxT(t, 10*time.Second)
	for !g.Services[n4].IsLeader() {
		if waitCtx.Err() != nil {
			t.Fatal("n4 did not become the ready leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 5 {
		acks = append(acks, commitKey(t, c, fmt.Sprintf("after-%d", i), map[string]bool{}))
	}
	checkLog(t, readN(t, c4, 1, len(acks)), acks)
	resp, err = admin.Configuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range resp.GetServers() {
		if s.GetLeader() != (s.GetId() == "n4") {
			t.Fatalf("configuration %v: n4 should be the only leader", resp)
		}
		if s.GetId() == "n4" && s.GetApiAddr() != g.Addrs[n4] {
			t.Fatalf("n4 api address %q, want %q", s.GetApiAddr(), g.Addrs[n4])
		}
	}
	if st, err := c.Status(ctx); err != nil || st.GetNodeId() != "n4" {
		t.Fatalf("client status after transfer: %v %v", st, err)
	}
}
