package chaos

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
	"github.com/phantom-db/phantom/test/cluster"
)

// A leader that was paused while the others elected a new leader and
// committed must not hand out a timestamp that reads below those commits
// when it wakes up: the read would miss an acknowledged write. The
// timestamp requests are sent while it is still stopped, so they are the
// first thing it serves.
func TestDeposedLeaderRead(t *testing.T) {
	c := cluster.StartLogCluster(t, cluster.LogClusterConfig{PageServer: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kv := NewKV(c.Client(), c.PageClient(PageDialOptions()...))
	key := []byte("deposed")
	write := func(kv *KV, v string) {
		t.Helper()
		for {
			snap, err := kv.Snapshot(ctx)
			if err == nil {
				if _, _, err = kv.Commit(ctx, snap.TS, []*wirepb.Mutation{{Key: key, Value: []byte(v)}}); err == nil {
					return
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("write %s: %v", v, err)
			}
			sleep(ctx, 50*time.Millisecond)
		}
	}
	for round := range 6 {
		old := fmt.Sprintf("v%d-old", round)
		write(kv, old)
		l, err := c.Leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		oldLeader := c.NodeClient(l, logclient.WithMaxAttempts(1))
		if _, _, err := oldLeader.GetTimestamp(ctx, 1); err != nil { // connect before the pause
			t.Fatal(err)
		}
		c.Pause(l)
		next, err := c.Leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A client that starts at the new leader: the old one is stopped.
		newKV := NewKV(c.NodeClient(next), c.PageClient(PageDialOptions()...))
		cur := fmt.Sprintf("v%d-new", round)
		write(newKV, cur)

		// Timestamps asked of the deposed leader before it wakes up.
		const asks = 8
		var wg sync.WaitGroup
		snaps := make([]storage.Snapshot, asks)
		errs := make([]error, asks)
		for i := range asks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				actx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				ts, idx, err := oldLeader.GetTimestamp(actx, 1)
				snaps[i], errs[i] = storage.Snapshot{TS: ts, MinIndex: idx}, err
			}()
		}
		sleep(ctx, 20*time.Millisecond)
		c.Resume(l)
		wg.Wait()
		served := 0
		for i := range asks {
			if errs[i] != nil {
				if i == 0 {
					t.Logf("refused: %v", errs[i])
				}
				continue // refused: fine
			}
			served++
			v, _, err := kv.Get(ctx, snaps[i], key)
			if err != nil {
				t.Fatalf("read at %d: %v", snaps[i].TS, err)
			}
			if string(v) != cur {
				t.Fatalf("round %d: read at ts %d (min index %d) from the deposed leader %s saw %q, but %q was acknowledged before",
					round, snaps[i].TS, snaps[i].MinIndex, c.Nodes[l].ID, v, cur)
			}
		}
		t.Logf("round %d: deposed leader %s served %d of %d timestamp requests", round, c.Nodes[l].ID, served, asks)
	}
}
