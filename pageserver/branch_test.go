package pageserver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/timeline"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// dbKey is key k of timeline (database or branch) id.
func dbKey(id uint64, k string) string { return string(keys.DatabasePrefix(id)) + k }

// dbEnd is the end of timeline id's key range.
func dbEnd(id uint64) string { return string(keys.PrefixEnd(keys.DatabasePrefix(id))) }

// fork is the mutation that creates timeline id as a branch of parent at
// forkTS.
func fork(id, parent, forkTS uint64) *wirepb.Mutation {
	return &wirepb.Mutation{Key: keys.TimelineKey(id), Value: timeline.Timeline{Parent: parent, ForkTS: forkTS}.Encode()}
}

// stripped drops the timeline prefix of every row's key.
func stripped(rows []kv) []kv {
	out := make([]kv, len(rows))
	for i, r := range rows {
		_, rest, _ := keys.SplitDatabaseKey([]byte(r.K))
		out[i] = kv{string(rest), r.V}
	}
	return out
}

func TestBranchReads(t *testing.T) {
	entries := []*wirepb.LogEntry{
		entry(1, 10, put(dbKey(1, "a"), "a@10"), put(dbKey(1, "b"), "b@10"), put(dbKey(1, "c"), "c@10")),
		entry(2, 20, put(dbKey(1, "a"), "a@20"), del(dbKey(1, "c"))),
		// Branch 2 of database 1 at ts 15 (created at 30, in the past).
		entry(3, 30, fork(2, 1, 15)),
		entry(4, 40, put(dbKey(1, "b"), "b@40"), put(dbKey(1, "d"), "d@40")),
		entry(5, 50, put(dbKey(2, "a"), "a@50 on 2"), del(dbKey(2, "b")), put(dbKey(2, "e"), "e@50 on 2")),
		// Branch 3 of branch 2 at ts 50.
		entry(6, 60, fork(3, 2, 50)),
		entry(7, 70, put(dbKey(2, "e"), "e@70 on 2"), put(dbKey(3, "f"), "f@70 on 3"), del(dbKey(3, "c"))),
	}
	log := newFakeLog(entries...)
	store := newMemStore()
	s := openServer(t, testConfig(t.TempDir(), log, store))
	waitApplied(t, s, 7)

	check := func(s *Server, id, readTS uint64, want []kv) {
		t.Helper()
		got := stripped(scanAll(t, s, dbKey(id, ""), dbEnd(id), readTS, 0))
		if !slices.Equal(got, want) {
			t.Fatalf("timeline %d at %d:\n got %q\nwant %q", id, readTS, got, want)
		}
	}
	checkAll := func(s *Server) {
		// The parent never sees the branches' writes.
		check(s, 1, 100, []kv{{"a", "a@20"}, {"b", "b@40"}, {"d", "d@40"}})
		// Branch 2 sees its parent at 15 and its own writes; b's tombstone
		// shadows the parent's b.
		check(s, 2, 45, []kv{{"a", "a@10"}, {"b", "b@10"}, {"c", "c@10"}})
		check(s, 2, 100, []kv{{"a", "a@50 on 2"}, {"c", "c@10"}, {"e", "e@70 on 2"}})
		// Branch 3 sees branch 2 at 50 (through it database 1 at 15) and
		// its own writes.
		check(s, 3, 100, []kv{{"a", "a@50 on 2"}, {"e", "e@50 on 2"}, {"f", "f@70 on 3"}})
		check(s, 3, 65, []kv{{"a", "a@50 on 2"}, {"c", "c@10"}, {"e", "e@50 on 2"}})
		// Point reads ([k, Next(k))).
		if got := scanAll(t, s, dbKey(3, "c"), string(keys.Next([]byte(dbKey(3, "c")))), 100, 0); len(got) != 0 {
			t.Fatalf("point read of a key deleted in branch 3: %q", got)
		}
		if got := scanAll(t, s, dbKey(3, "a"), string(keys.Next([]byte(dbKey(3, "a")))), 100, 0); !slices.Equal(got, []kv{{dbKey(3, "a"), "a@50 on 2"}}) {
			t.Fatalf("point read of branch 3's a: %q", got)
		}
		// A range starting inside a branch, a limit, and the whole key space.
		if got, want := stripped(scanAll(t, s, dbKey(2, "b"), dbEnd(2), 100, 2)), []kv{{"c", "c@10"}, {"e", "e@70 on 2"}}; !slices.Equal(got, want) {
			t.Fatalf("branch 2 from b, limit 2: got %q want %q", got, want)
		}
		var all []kv
		for _, r := range scanAll(t, s, "", "", 100, 0) {
			if id, _, ok := keys.SplitDatabaseKey([]byte(r.K)); ok {
				all = append(all, kv{fmt.Sprint(id), r.V})
			}
		}
		want := []kv{{"1", "a@20"}, {"1", "b@40"}, {"1", "d@40"}, {"2", "a@50 on 2"}, {"2", "c@10"}, {"2", "e@70 on 2"},
			{"3", "a@50 on 2"}, {"3", "e@50 on 2"}, {"3", "f@70 on 3"}}
		if !slices.Equal(all, want) {
			t.Fatalf("whole key space:\n got %q\nwant %q", all, want)
		}
	}
	checkAll(s)

	// The timeline map is ordinary data: a page server restored from the
	// checkpoint on an empty disk resolves the same reads.
	if err := s.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	restored := openServer(t, testConfig(t.TempDir(), newFakeLog(entries...), store))
	waitApplied(t, restored, 7)
	checkAll(restored)

	// Deleting branch 3's timeline record keeps it resolving (time travel
	// to before the deletion reads it as it was), also after a restore;
	// GC stops protecting its fork point once the deletion is below the
	// horizon.
	del3 := entry(8, 80, &wirepb.Mutation{Key: keys.TimelineKey(3), Delete: true})
	log.append(del3)
	waitApplied(t, s, 8)
	check(s, 3, 75, []kv{{"a", "a@50 on 2"}, {"e", "e@50 on 2"}, {"f", "f@70 on 3"}})
	if err := s.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	restored2 := openServer(t, testConfig(t.TempDir(), newFakeLog(append(entries, del3)...), store))
	waitApplied(t, restored2, 8)
	check(restored2, 3, 75, []kv{{"a", "a@50 on 2"}, {"e", "e@50 on 2"}, {"f", "f@70 on 3"}})
	for _, srv := range []*Server{s, restored2} {
		if _, ok := srv.gcTimelines(79)[3]; !ok {
			t.Fatal("GC stopped protecting timeline 3 before its deletion fell below the horizon")
		}
		if _, ok := srv.gcTimelines(80)[3]; ok {
			t.Fatal("GC protects timeline 3 after its deletion fell below the horizon")
		}
		if _, ok := srv.gcTimelines(80)[2]; !ok {
			t.Fatal("GC stopped protecting live timeline 2")
		}
	}
}

// modelLog is the reference semantics of branch reads over a history.
type modelLog struct {
	entries []*wirepb.LogEntry
	tl      map[uint64]timeline.Timeline
}

// get resolves key k of timeline id at ts: the newest version in id <= ts,
// else the parent's at min(ts, fork).
func (m *modelLog) get(id uint64, k string, ts uint64) (string, bool) {
	var (
		val   string
		found bool
		live  bool
		at    uint64
	)
	for _, e := range m.entries {
		if e.GetCommitTs() > ts {
			continue
		}
		for _, mu := range e.GetMutations() {
			if string(mu.GetKey()) == dbKey(id, k) && (!found || e.GetCommitTs() >= at) {
				found, at, live, val = true, e.GetCommitTs(), !mu.GetDelete(), string(mu.GetValue())
			}
		}
	}
	if found {
		return val, live
	}
	if t, ok := m.tl[id]; ok {
		return m.get(t.Parent, k, min(ts, t.ForkTS))
	}
	return "", false
}

// scan lists the live keys of timeline id at ts.
func (m *modelLog) scan(id uint64, alphabet []string, ts uint64) []kv {
	var rows []kv
	for _, k := range alphabet {
		if v, ok := m.get(id, k, ts); ok {
			rows = append(rows, kv{k, v})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].K < rows[j].K })
	return rows
}

// TestBranchRandomAgainstModel writes a random history to a database, two
// branches of it and a branch of a branch (forked in the past), then
// compares scans with the model before and after version GC with a horizon
// above every fork point: GC must keep what the branches read.
func TestBranchRandomAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []string{"", "\x00", "a", "a\x00", "ab", "b", "c", "\xff"}
	const baseMS = 1_700_000_000_000
	tsOf := func(i int) uint64 { return uint64(baseMS+int64(i)*1000) << physicalShift }
	forks := map[int]timeline.Timeline{ // entry index -> timeline created there
		60:  {ID: 2, Parent: 1, ForkTS: tsOf(40)},
		120: {ID: 3, Parent: 2, ForkTS: tsOf(100)},
		150: {ID: 4, Parent: 1, ForkTS: tsOf(149)},
	}
	m := &modelLog{tl: map[uint64]timeline.Timeline{}}
	live := []uint64{1, 5} // 5: another database, no parent
	const n = 300
	for i := 1; i <= n; i++ {
		var muts []*wirepb.Mutation
		if f, ok := forks[i]; ok {
			muts = append(muts, fork(f.ID, f.Parent, f.ForkTS))
			m.tl[f.ID] = f
			live = append(live, f.ID)
		}
		writers := live
		if i > 200 {
			// Leave the branches' state at the GC horizon as it is, so
			// their tombstones and fork points decide what they read.
			writers = []uint64{1, 5}
		}
		for range 1 + rng.IntN(3) {
			id, k := writers[rng.IntN(len(writers))], alphabet[rng.IntN(len(alphabet))]
			if rng.IntN(4) == 0 {
				muts = append(muts, del(dbKey(id, k)))
			} else {
				muts = append(muts, put(dbKey(id, k), fmt.Sprintf("%d/%q@%d", id, k, i)))
			}
		}
		m.entries = append(m.entries, entry(uint64(i), tsOf(i), muts...))
	}
	var now atomic.Int64
	now.Store(baseMS)
	cfg := testConfig(t.TempDir(), newFakeLog(m.entries...), newMemStore())
	cfg.Retention = time.Second
	cfg.GCMaxVersions = 1 << 30
	cfg.Now = func() time.Time { return time.UnixMilli(now.Load()) }
	s := openServer(t, cfg)
	waitApplied(t, s, n)

	compare := func(minEntry int) {
		t.Helper()
		for range 200 {
			id := []uint64{1, 2, 3, 4, 5}[rng.IntN(5)]
			readTS := tsOf(minEntry + rng.IntN(n+5-minEntry))
			got := stripped(scanAll(t, s, dbKey(id, ""), dbEnd(id), readTS, 0))
			if want := m.scan(id, alphabet, readTS); !slices.Equal(got, want) {
				t.Fatalf("timeline %d at entry %d:\n got %q\nwant %q", id, readTS>>physicalShift-baseMS, got, want)
			}
		}
	}
	compare(1)

	// GC horizon at entry 200 (read horizon one minute later, entry 260):
	// above every fork point, so only the fork points keep the versions the
	// branches read.
	now.Store(baseMS + 200*1000 + 1000 + gcGrace.Milliseconds())
	deleted, err := s.CollectVersions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if deleted == 0 {
		t.Fatal("version GC deleted nothing; the test proves nothing")
	}
	compare(260)
}

func TestProtectionPoints(t *testing.T) {
	tl := timelineMap{
		2: {ID: 2, Parent: 1, ForkTS: 50},
		3: {ID: 3, Parent: 2, ForkTS: 80},
		4: {ID: 4, Parent: 2, ForkTS: 30},
		5: {ID: 5, Parent: 1, ForkTS: 500}, // above the horizon: nothing to protect
	}
	got := protectionPoints(tl, 100)
	want := map[uint64][]uint64{1: {30, 50}, 2: {30, 80}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("protectionPoints = %v, want %v", got, want)
	}
}

func TestGCDrops(t *testing.T) {
	v := func(ts uint64, tomb bool) gcVersion {
		return gcVersion{key: []byte(fmt.Sprint(ts)), ts: ts, tomb: tomb}
	}
	cases := []struct {
		old      []gcVersion
		points   []uint64
		inBranch bool
		want     []string
	}{
		{[]gcVersion{v(90, false), v(50, false), v(10, false)}, nil, false, []string{"50", "10"}},
		{[]gcVersion{v(90, false), v(50, false), v(10, false)}, []uint64{60}, false, []string{"10"}},
		// A tombstone kept for a fork point hides an older put kept for a lower one.
		{[]gcVersion{v(90, true), v(50, false), v(10, false)}, []uint64{92, 20}, false, []string{"50"}},
		// Oldest kept tombstones go outside a branch...
		{[]gcVersion{v(90, true), v(50, true)}, []uint64{60}, false, []string{"90", "50"}},
		// ...but shadow the parent inside one.
		{[]gcVersion{v(90, true), v(50, false)}, nil, true, []string{"50"}},
	}
	for i, c := range cases {
		var got []string
		for _, k := range gcDrops(c.old, c.points, c.inBranch) {
			got = append(got, string(k))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("case %d: drops %q, want %q", i, got, c.want)
		}
	}
}
