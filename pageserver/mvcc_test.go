package pageserver

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// kv is one scanned row.
type kv struct{ K, V string }

// batchRows converts a record batch with the ScanSchema to rows.
func batchRows(t *testing.T, rec arrow.RecordBatch) []kv {
	t.Helper()
	if !rec.Schema().Equal(ScanSchema) {
		t.Fatalf("schema %s, want %s", rec.Schema(), ScanSchema)
	}
	keys := rec.Column(0).(*array.Binary)
	vals := rec.Column(1).(*array.Binary)
	rows := make([]kv, rec.NumRows())
	for i := range rows {
		rows[i] = kv{string(keys.Value(i)), string(vals.Value(i))}
	}
	return rows
}

// scanAll scans in-process through the Arrow batch path.
func scanAll(t *testing.T, s *Server, start, end string, readTS, limit uint64) []kv {
	t.Helper()
	var rows []kv
	err := s.scanBatches(context.Background(), []byte(start), []byte(end), readTS, limit, func(rec arrow.RecordBatch) error {
		if int(rec.NumRows()) > s.cfg.ScanBatchRows {
			t.Errorf("batch of %d rows exceeds ScanBatchRows %d", rec.NumRows(), s.cfg.ScanBatchRows)
		}
		rows = append(rows, batchRows(t, rec)...)
		return nil
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return rows
}

// model is the reference semantics of the read rule: replay the entries
// with commit_ts <= readTS in log order and list the live keys in [start,
// end) in order, up to limit.
func model(entries []*wirepb.LogEntry, start, end string, readTS, limit uint64) []kv {
	state := map[string]string{}
	for _, e := range entries {
		if e.GetCommitTs() > readTS {
			continue
		}
		for _, m := range e.GetMutations() {
			if m.GetDelete() {
				delete(state, string(m.GetKey()))
			} else {
				state[string(m.GetKey())] = string(m.GetValue())
			}
		}
	}
	var rows []kv
	for k, v := range state {
		if k >= start && (end == "" || k < end) {
			rows = append(rows, kv{k, v})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].K < rows[j].K })
	if limit > 0 && uint64(len(rows)) > limit {
		rows = rows[:limit]
	}
	return rows
}

func TestMVCCVisibility(t *testing.T) {
	entries := []*wirepb.LogEntry{
		entry(1, 10, put("a", "a@10"), put("b", "b@10"), put("ab", "ab@10")),
		entry(2, 20, put("a", "a@20"), del("b")),
		entry(3, 30, put("b", "b@30"), put("a\x00", "a0@30"), del("ab"), put("", "empty@30")),
		// Index 4 is not a commit (a Raft configuration entry, say).
		entry(5, 40, put("c", "c@40"), put("a", "a@40")),
	}
	log := newFakeLog(entries...)
	s := openServer(t, testConfig(t.TempDir(), log, newMemStore()))
	waitApplied(t, s, 5)

	cases := []struct {
		readTS uint64
		want   []kv
	}{
		{5, nil},
		{10, []kv{{"a", "a@10"}, {"ab", "ab@10"}, {"b", "b@10"}}},
		{19, []kv{{"a", "a@10"}, {"ab", "ab@10"}, {"b", "b@10"}}},
		{20, []kv{{"a", "a@20"}, {"ab", "ab@10"}}},
		{30, []kv{{"", "empty@30"}, {"a", "a@20"}, {"a\x00", "a0@30"}, {"b", "b@30"}}},
		{40, []kv{{"", "empty@30"}, {"a", "a@40"}, {"a\x00", "a0@30"}, {"b", "b@30"}, {"c", "c@40"}}},
		{^uint64(0), []kv{{"", "empty@30"}, {"a", "a@40"}, {"a\x00", "a0@30"}, {"b", "b@30"}, {"c", "c@40"}}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("ts=%d", c.readTS), func(t *testing.T) {
			got := scanAll(t, s, "", "", c.readTS, 0)
			if !slices.Equal(got, c.want) {
				t.Fatalf("scan at %d:\n got %q\nwant %q", c.readTS, got, c.want)
			}
			if m := model(entries, "", "", c.readTS, 0); !slices.Equal(m, c.want) {
				t.Fatalf("model disagrees with the table: %q", m)
			}
		})
	}

	// Range bounds: [start, end) with prefix keys on both sides.
	if got, want := scanAll(t, s, "a", "b", 30, 0), []kv{{"a", "a@20"}, {"a\x00", "a0@30"}}; !slices.Equal(got, want) {
		t.Fatalf("[a,b) at 30: got %q want %q", got, want)
	}
	if got, want := scanAll(t, s, "a\x00", "", 40, 0), []kv{{"a\x00", "a0@30"}, {"b", "b@30"}, {"c", "c@40"}}; !slices.Equal(got, want) {
		t.Fatalf("[a\\x00,) at 40: got %q want %q", got, want)
	}
	if got, want := scanAll(t, s, "", "a\x00", 40, 0), []kv{{"", "empty@30"}, {"a", "a@40"}}; !slices.Equal(got, want) {
		t.Fatalf("[,a\\x00) at 40: got %q want %q", got, want)
	}
	if got := scanAll(t, s, "b", "a", 40, 0); len(got) != 0 {
		t.Fatalf("inverted range: got %q", got)
	}
	// Limit counts live rows only, not tombstones or hidden versions.
	if got, want := scanAll(t, s, "", "", 20, 1), []kv{{"a", "a@20"}}; !slices.Equal(got, want) {
		t.Fatalf("limit 1 at 20: got %q want %q", got, want)
	}
	if got, want := scanAll(t, s, "a", "", 40, 4), []kv{{"a", "a@40"}, {"a\x00", "a0@30"}, {"b", "b@30"}, {"c", "c@40"}}; !slices.Equal(got, want) {
		t.Fatalf("limit 4 at 40: got %q want %q", got, want)
	}
}

// TestMVCCRandomAgainstModel applies a random history over a small alphabet
// of keys that are prefixes of each other and contain escape bytes, and
// compares random scans with the reference model.
func TestMVCCRandomAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"", "\x00", "\x00\x00", "\x00\x01", "\x00\xff", "\x01", "a", "a\x00", "a\x00b", "ab", "abc", "b", "\xff", "\xff\x00"}
	var entries []*wirepb.LogEntry
	index, ts := uint64(0), uint64(100)
	for range 200 {
		index += 1 + uint64(rng.IntN(2)) // sometimes skip an index
		ts += 1 + uint64(rng.IntN(5))
		var muts []*wirepb.Mutation
		for range 1 + rng.IntN(4) {
			k := alphabet[rng.IntN(len(alphabet))]
			if rng.IntN(3) == 0 {
				muts = append(muts, del(k))
			} else {
				muts = append(muts, put(k, fmt.Sprintf("%s@%d", k, ts)))
			}
		}
		entries = append(entries, entry(index, ts, muts...))
	}
	log := newFakeLog(entries...)
	s := openServer(t, testConfig(t.TempDir(), log, newMemStore()))
	waitApplied(t, s, index)
	for range 300 {
		readTS := 95 + uint64(rng.IntN(int(ts-90)))
		start := alphabet[rng.IntN(len(alphabet))]
		end := ""
		if rng.IntN(3) > 0 {
			end = alphabet[rng.IntN(len(alphabet))]
		}
		limit := uint64(0)
		if rng.IntN(3) == 0 {
			limit = uint64(1 + rng.IntN(5))
		}
		got := scanAll(t, s, start, end, readTS, limit)
		want := model(entries, start, end, readTS, limit)
		if len(end) > 0 && end <= start {
			want = nil
		}
		if !slices.Equal(got, want) {
			t.Fatalf("scan [%q,%q) at %d limit %d:\n got %q\nwant %q", start, end, readTS, limit, got, want)
		}
	}
}

func TestKeyEncodingOrder(t *testing.T) {
	keys := []string{"", "\x00", "\x00\x00", "\x00\x01", "\x00\xff", "\x01", "a", "a\x00", "a\x00\x01", "a\x01", "ab", "\xff", "\xff\xff"}
	tss := []uint64{0, 1, 1 << 18, ^uint64(0) - 1, ^uint64(0)}
	type version struct {
		key string
		ts  uint64
		enc []byte
	}
	var vs []version
	for _, k := range keys {
		for _, ts := range tss {
			enc := encodeVersionedKey([]byte(k), ts)
			if bytes.HasPrefix(enc, metaPrefix) {
				t.Fatalf("%q@%d encodes into the meta prefix: %x", k, ts, enc)
			}
			prefix, gotTS, err := splitVersionedKey(enc)
			if err != nil || gotTS != ts {
				t.Fatalf("split %x: ts %d err %v, want ts %d", enc, gotTS, err, ts)
			}
			dec, err := appendDecodedUserKey(nil, prefix)
			if err != nil || string(dec) != k {
				t.Fatalf("decode %x: %q %v, want %q", enc, dec, err, k)
			}
			vs = append(vs, version{k, ts, enc})
		}
	}
	for _, a := range vs {
		for _, b := range vs {
			want := cmpVersion(a.key, a.ts, b.key, b.ts)
			if got := bytes.Compare(a.enc, b.enc); got != want {
				t.Fatalf("order of %q@%d vs %q@%d: encoded %d, want %d", a.key, a.ts, b.key, b.ts, got, want)
			}
		}
	}
}

// cmpVersion is the intended order: user key ascending, then ts descending.
func cmpVersion(ka string, tsa uint64, kb string, tsb uint64) int {
	if c := bytes.Compare([]byte(ka), []byte(kb)); c != 0 {
		return c
	}
	switch {
	case tsa > tsb:
		return -1
	case tsa < tsb:
		return 1
	}
	return 0
}

func FuzzKeyEncoding(f *testing.F) {
	f.Add([]byte("a"), uint64(1), []byte("a\x00"), uint64(2))
	f.Add([]byte(""), uint64(0), []byte("\x00"), ^uint64(0))
	f.Fuzz(func(t *testing.T, ka []byte, tsa uint64, kb []byte, tsb uint64) {
		ea, eb := encodeVersionedKey(ka, tsa), encodeVersionedKey(kb, tsb)
		if got, want := bytes.Compare(ea, eb), cmpVersion(string(ka), tsa, string(kb), tsb); got != want {
			t.Fatalf("order of %q@%d vs %q@%d: encoded %d, want %d", ka, tsa, kb, tsb, got, want)
		}
		prefix, ts, err := splitVersionedKey(ea)
		if err != nil || ts != tsa {
			t.Fatalf("split: %v", err)
		}
		dec, err := appendDecodedUserKey(nil, prefix)
		if err != nil || !bytes.Equal(dec, ka) {
			t.Fatalf("decode %q: %q %v", ka, dec, err)
		}
		// The successor of a key's versions sorts after all of them and
		// before every version of a greater key.
		next := appendNextUserKeyPrefix(nil, prefix)
		if bytes.Compare(next, ea) <= 0 {
			t.Fatalf("successor %x not after %x", next, ea)
		}
		if bytes.Compare(ka, kb) < 0 && bytes.Compare(next, eb) >= 0 {
			t.Fatalf("successor of %q (%x) not before %q@%d (%x)", ka, next, kb, tsb, eb)
		}
	})
}

// newTestBatch encodes rows as one ScanResponse payload.
func newTestBatch(tb testing.TB, rows []kv) []byte {
	tb.Helper()
	bld := array.NewRecordBuilder(memory.DefaultAllocator, ScanSchema)
	defer bld.Release()
	for _, r := range rows {
		bld.Field(0).(*array.BinaryBuilder).Append([]byte(r.K))
		bld.Field(1).(*array.BinaryBuilder).Append([]byte(r.V))
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	b, err := EncodeRecordBatch(rec)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
