package chaos

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/test/cluster"
)

// CheckLogs must pass on a healthy group and report a lost acknowledged
// commit, a wrong commit_ts and an aborted commit found in the log.
func TestCheckLogs(t *testing.T) {
	c := cluster.StartLogCluster(t, cluster.LogClusterConfig{PageServer: true})
	kv := NewKV(c.Client(), c.PageClient(PageDialOptions()...))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var acked []Commit
	for _, v := range []string{"1", "2", "3"} {
		snap, err := kv.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		muts := []*wirepb.Mutation{{Key: []byte("k"), Value: []byte(v)}}
		cts, idx, err := kv.Commit(ctx, snap.TS, muts)
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, Commit{Index: idx, CommitTS: cts, Muts: muts})
	}
	through, err := Settle(ctx, kv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CheckLogs(ctx, c, through, acked, nil); err != nil {
		t.Fatalf("healthy group: %v", err)
	}
	// The read path sees the last write.
	snap, err := kv.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := kv.Get(ctx, snap, []byte("k")); err != nil || !ok || string(v) != "3" {
		t.Fatalf("get k: %q %v %v", v, ok, err)
	}

	lost := Commit{Index: through + 100, CommitTS: 1, Muts: acked[0].Muts}
	wrongTS := acked[1]
	wrongTS.CommitTS++
	for _, tc := range []struct {
		name          string
		acked, failed []Commit
		want          string
	}{
		{"lost", []Commit{lost}, nil, "missing"},
		{"wrong ts", []Commit{wrongTS}, nil, "in the log"},
		{"aborted applied", nil, []Commit{{Muts: acked[2].Muts}}, "aborted commit"},
	} {
		_, err := CheckLogs(ctx, c, through, tc.acked, tc.failed)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
