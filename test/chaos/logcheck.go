package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/test/cluster"
)

// Commit is one commit a workload sent, with its answer.
type Commit struct {
	// Index and CommitTS are the log service's answer (zero when it gave
	// none).
	Index, CommitTS uint64
	// Muts is the write set.
	Muts []*wirepb.Mutation
}

// Settle commits a marker write through kv until one succeeds (retrying
// for up to 60s) and returns its log index: every commit sent before has
// been decided by the time a later one is acknowledged, so the replicas'
// logs through that index are final.
func Settle(ctx context.Context, kv *KV) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		snap, err := kv.Snapshot(ctx)
		if err == nil {
			var idx uint64
			_, idx, err = kv.Commit(ctx, snap.TS, []*wirepb.Mutation{{Key: []byte("chaos/settle"), Value: []byte("x")}})
			if err == nil {
				return idx, nil
			}
		}
		last = err
		sleep(ctx, 100*time.Millisecond)
	}
	return 0, fmt.Errorf("chaos: settle: %w (last error: %v)", ctx.Err(), last)
}

// CheckLogs reads every replica's log through index through and checks
// that the replicas hold the same entries, that commit_ts grows with the
// index, that every acknowledged commit is there at its index with its
// commit_ts and write set, and that no commit in failed (definitely
// aborted) is there. It returns the first replica's entries.
func CheckLogs(ctx context.Context, c *cluster.LogCluster, through uint64, acked, failed []Commit) ([]*wirepb.LogEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var errs []error
	logs := make([][]*wirepb.LogEntry, len(c.Nodes))
	for i := range c.Nodes {
		l, err := c.ReadLog(ctx, i, through)
		if err != nil {
			return nil, err
		}
		logs[i] = l
	}
	ref := logs[0]
	for i := 1; i < len(logs); i++ {
		if len(logs[i]) != len(ref) {
			errs = append(errs, fmt.Errorf("%s holds %d entries through %d, %s holds %d",
				c.Nodes[i].ID, len(logs[i]), through, c.Nodes[0].ID, len(ref)))
			continue
		}
		for j := range ref {
			if !sameEntry(ref[j], logs[i][j]) {
				errs = append(errs, fmt.Errorf("%s and %s differ at entry %d: %v vs %v",
					c.Nodes[0].ID, c.Nodes[i].ID, j, ref[j], logs[i][j]))
				break
			}
		}
	}
	byIndex := map[uint64]*wirepb.LogEntry{}
	for j, e := range ref {
		if j > 0 && e.GetCommitTs() <= ref[j-1].GetCommitTs() {
			errs = append(errs, fmt.Errorf("commit_ts does not grow: index %d ts %d after index %d ts %d",
				e.GetIndex(), e.GetCommitTs(), ref[j-1].GetIndex(), ref[j-1].GetCommitTs()))
		}
		byIndex[e.GetIndex()] = e
	}
	for _, a := range acked {
		e, ok := byIndex[a.Index]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("acknowledged commit index %d ts %d %v is missing from the log", a.Index, a.CommitTS, a.Muts))
		case e.GetCommitTs() != a.CommitTS || !sameMuts(e.GetMutations(), a.Muts):
			errs = append(errs, fmt.Errorf("acknowledged commit index %d ts %d %v is %v in the log", a.Index, a.CommitTS, a.Muts, e))
		}
	}
	// A definitely failed write set must not appear anywhere. Workloads make
	// every write set unique, so a match means the failed commit applied.
	seen := map[string]uint64{}
	for _, e := range ref {
		seen[mutsKey(e.GetMutations())] = e.GetIndex()
	}
	for _, f := range failed {
		if idx, ok := seen[mutsKey(f.Muts)]; ok {
			errs = append(errs, fmt.Errorf("aborted commit %v is in the log at index %d", f.Muts, idx))
		}
	}
	return ref, errors.Join(errs...)
}

func sameEntry(a, b *wirepb.LogEntry) bool {
	return a.GetIndex() == b.GetIndex() && a.GetCommitTs() == b.GetCommitTs() && sameMuts(a.GetMutations(), b.GetMutations())
}

func sameMuts(a, b []*wirepb.Mutation) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].GetKey(), b[i].GetKey()) || !bytes.Equal(a[i].GetValue(), b[i].GetValue()) || a[i].GetDelete() != b[i].GetDelete() {
			return false
		}
	}
	return true
}

// mutsKey encodes a write set as a map key.
func mutsKey(muts []*wirepb.Mutation) string {
	var b []byte
	for _, m := range muts {
		b = fmt.Appendf(b, "%q=%q/%t;", m.GetKey(), m.GetValue(), m.GetDelete())
	}
	return string(b)
}
