package logservice

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
)

func rng(start, end string) *wirepb.KeyRange {
	return &wirepb.KeyRange{Start: []byte(start), End: []byte(end)}
}

func (fd *feeder) commitReads(start, commit uint64, reads []*wirepb.KeyRange, keys ...string) error {
	return fd.apply(encodeCommit(start, commit, puts(keys...), reads)).err
}

func TestResolverReadRanges(t *testing.T) {
	fd := &feeder{f: newFSM(100)}
	if err := fd.commit(5, 10, "b", "m"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		start    uint64
		reads    []*wirepb.KeyRange
		conflict bool
	}{
		{"range covers b", 6, []*wirepb.KeyRange{rng("a", "c")}, true},
		{"end is exclusive", 6, []*wirepb.KeyRange{rng("a", "b")}, false},
		{"start is inclusive", 6, []*wirepb.KeyRange{rng("m", "n")}, true},
		{"outside every write", 6, []*wirepb.KeyRange{rng("c", "l"), rng("n", "z")}, false},
		{"unbounded end", 6, []*wirepb.KeyRange{rng("c", "")}, true},
		{"whole keyspace", 6, []*wirepb.KeyRange{rng("", "")}, true},
		{"snapshot at the writer's ts", 10, []*wirepb.KeyRange{rng("", "")}, false},
		{"second range conflicts", 6, []*wirepb.KeyRange{rng("c", "d"), rng("l", "o")}, true},
		{"empty range ignored", 6, []*wirepb.KeyRange{rng("c", "b")}, false},
	}
	ts := uint64(20)
	for _, c := range cases {
		ts++
		// Read-only commits: the cases do not disturb each other.
		err := fd.commitReads(c.start, ts, c.reads)
		if c.conflict {
			if !errors.Is(err, ErrReadConflict) || !strings.Contains(err.Error(), "serializable read conflict") {
				t.Errorf("%s: got %v, want a serializable read conflict", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: got %v, want commit", c.name, err)
		}
	}
	// The reported key is the smallest conflicting one.
	err := fd.commitReads(6, 100, []*wirepb.KeyRange{rng("l", ""), rng("a", "c")})
	if err == nil || !strings.Contains(err.Error(), `key "b"`) {
		t.Fatalf("witness: got %v, want key \"b\"", err)
	}
	// Write-write conflicts are checked first and keep their error.
	if err := fd.commitReads(6, 101, []*wirepb.KeyRange{rng("a", "c")}, "m"); !errors.Is(err, ErrConflict) {
		t.Fatalf("write conflict with reads: got %v", err)
	}
}

func TestNormalizeRanges(t *testing.T) {
	got := normalizeRanges([]*wirepb.KeyRange{rng("m", "p"), rng("a", "c"), rng("b", "d"), rng("d", "e"), rng("x", "w"), rng("o", ""), rng("q", "r")})
	want := []keyRange{{"a", "e"}, {"m", ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("normalizeRanges = %v, want %v", got, want)
	}
}

// TestReadConflictPlans checks that the index scan, the queue-tail walk and
// the budgeted combination agree with brute force on random states,
// including queues full of stale entries.
func TestReadConflictPlans(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		f := newFSM(20 + r.IntN(40))
		fd := &feeder{f: f}
		ts := uint64(100)
		for range 50 + r.IntN(300) {
			ts += uint64(1 + r.IntN(3))
			_ = fd.commit(ts-uint64(1+r.IntN(5)), ts, fmt.Sprintf("k%02d", r.IntN(60)))
		}
		st := &f.st
		startTS := max(st.horizon, ts-uint64(r.IntN(200)))
		var reads []*wirepb.KeyRange
		for range 1 + r.IntN(3) {
			a := fmt.Sprintf("k%02d", r.IntN(60))
			b := fmt.Sprintf("k%02d", r.IntN(60))
			if r.IntN(5) == 0 {
				b = ""
			}
			reads = append(reads, rng(a, b))
		}
		rs := normalizeRanges(reads)
		// Brute force: smallest key in a range whose newest write is newer.
		var wantKey string
		var wantTS uint64
		wantFound := false
		st.lastWrite.Ascend(func(w writeRef) bool {
			if w.ts > startTS && inRanges(rs, w.key) {
				wantKey, wantTS, wantFound = w.key, w.ts, true
				return false
			}
			return true
		})
		want := fmt.Sprint(wantKey, wantTS, wantFound)
		k, ts1, found, complete := st.indexConflict(startTS, rs, 0)
		if got := fmt.Sprint(k, ts1, found); !complete || got != want {
			t.Fatalf("round %d: index plan %s (complete %v), want %s", round, got, complete, want)
		}
		var tail []writeRef
		for _, w := range st.queue {
			if w.ts > startTS {
				tail = append(tail, w)
			}
		}
		if k, ts2, found := st.tailConflict(tail, rs); fmt.Sprint(k, ts2, found) != want {
			t.Fatalf("round %d: tail plan %v, want %s", round, fmt.Sprint(k, ts2, found), want)
		}
		if k, ts3, found := st.readConflict(startTS, rs); fmt.Sprint(k, ts3, found) != want {
			t.Fatalf("round %d: readConflict %v, want %s", round, fmt.Sprint(k, ts3, found), want)
		}
	}
}

func TestSerializableCommitOverGRPC(t *testing.T) {
	cfg := testConfig("n1", t.TempDir())
	cfg.Bootstrap = true
	n := startNode(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.addr)
	ctx := ctxT(t, 20*time.Second)
	start, _, err := c.GetTimestamp(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := c.GetTimestamp(ctx, 1)
	if _, _, err := c.Commit(ctx, other, mut("acct/2", "50"), nil); err != nil {
		t.Fatal(err)
	}
	// Write skew: the transaction read acct/ and writes acct/1 only.
	_, _, err = c.Commit(ctx, start, mut("acct/1", "-50"), []*wirepb.KeyRange{rng("acct/", "acct0")})
	if !errors.Is(err, logclient.ErrConflict) || !strings.Contains(err.Error(), "serializable read conflict") {
		t.Fatalf("write skew: got %v, want a serializable read conflict", err)
	}
	// Reads outside the written key commit.
	if _, _, err := c.Commit(ctx, start, mut("acct/1", "-50"), []*wirepb.KeyRange{rng("acct/1", "acct/2")}); err != nil {
		t.Fatalf("disjoint read set: %v", err)
	}
	if _, _, err := c.Commit(ctx, start, nil, []*wirepb.KeyRange{rng("b", "a")}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("empty range: got %v, want InvalidArgument", err)
	}
	// The aborted commit is not in the log.
	entries := readN(t, c, 1, 2)
	if len(entries[0].GetMutations()) != 1 || string(entries[1].GetMutations()[0].GetKey()) != "acct/1" {
		t.Fatalf("log = %v", entries)
	}
}
