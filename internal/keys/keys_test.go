package keys

import (
	"bytes"
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestIntOrdering(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, math.MaxInt32, math.MaxInt64}
	for range 500 {
		vals = append(vals, r.Int64()-r.Int64()/2, int64(r.Int32()))
	}
	checkOrder(t, vals, func(b []byte, v int64) []byte { return AppendInt(b, v) }, cmp.Compare[int64])
}

func TestFloatOrdering(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	vals := []float64{math.Inf(-1), -math.MaxFloat64, -1, -math.SmallestNonzeroFloat64, 0, math.SmallestNonzeroFloat64, 1, math.MaxFloat64, math.Inf(1)}
	for range 500 {
		vals = append(vals, r.NormFloat64()*1e6, r.Float64())
	}
	checkOrder(t, vals, func(b []byte, v float64) []byte { return AppendFloat(b, v) }, cmp.Compare[float64])
	// NaN sorts after +Inf; -0 equals +0.
	if bytes.Compare(AppendFloat(nil, math.NaN()), AppendFloat(nil, math.Inf(1))) <= 0 {
		t.Fatal("NaN must sort after +Inf")
	}
	if !bytes.Equal(AppendFloat(nil, math.Copysign(0, -1)), AppendFloat(nil, 0)) {
		t.Fatal("-0 and +0 must encode equally")
	}
}

func TestStringOrdering(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte{0x00, 0x01, 'a', 'b', 0xFE, 0xFF}
	vals := []string{"", "a", "a\x00", "a\x00\x00", "a\x01", "ab", "\xff"}
	for range 500 {
		n := r.IntN(6)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		vals = append(vals, string(b))
	}
	checkOrder(t, vals, func(b []byte, v string) []byte { return AppendString(b, v) }, strings.Compare)
}

func TestTupleOrdering(t *testing.T) {
	// (int, string) tuples with NULLs: NULL sorts first in each component.
	type tup struct {
		a    *int64
		b    string
		bNul bool
	}
	r := rand.New(rand.NewPCG(7, 8))
	var vals []tup
	for range 400 {
		var tp tup
		if r.IntN(5) > 0 {
			v := int64(r.IntN(7) - 3)
			tp.a = &v
		}
		tp.bNul = r.IntN(5) == 0
		tp.b = string(rune('a' + r.IntN(3)))
		vals = append(vals, tp)
	}
	enc := func(b []byte, v tup) []byte {
		if v.a == nil {
			b = AppendNull(b)
		} else {
			b = AppendInt(b, *v.a)
		}
		if v.bNul {
			return AppendNull(b)
		}
		return AppendString(b, v.b)
	}
	compare := func(x, y tup) int {
		switch {
		case x.a == nil && y.a != nil:
			return -1
		case x.a != nil && y.a == nil:
			return 1
		case x.a != nil && *x.a != *y.a:
			return cmp.Compare(*x.a, *y.a)
		}
		switch {
		case x.bNul && !y.bNul:
			return -1
		case !x.bNul && y.bNul:
			return 1
		case x.bNul:
			return 0
		}
		return strings.Compare(x.b, y.b)
	}
	checkOrder(t, vals, enc, compare)
}

// checkOrder encodes vals, sorts the encodings bytewise and checks that the
// order (and equality) agrees with compare.
func checkOrder[T any](t *testing.T, vals []T, enc func([]byte, T) []byte, compare func(a, b T) int) {
	t.Helper()
	type pair struct {
		v T
		k []byte
	}
	ps := make([]pair, len(vals))
	for i, v := range vals {
		ps[i] = pair{v, enc([]byte("prefix"), v)}
	}
	slices.SortFunc(ps, func(a, b pair) int { return bytes.Compare(a.k, b.k) })
	for i := 1; i < len(ps); i++ {
		kc := bytes.Compare(ps[i-1].k, ps[i].k)
		vc := compare(ps[i-1].v, ps[i].v)
		if kc != vc {
			t.Fatalf("order mismatch between %v and %v: keys %d, values %d", ps[i-1].v, ps[i].v, kc, vc)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	var b []byte
	b = AppendNull(b)
	b = AppendBool(b, true)
	b = AppendBool(b, false)
	b = AppendInt(b, -42)
	b = AppendUint(b, 7)
	b = AppendFloat(b, -2.5)
	b = AppendString(b, "a\x00b")
	b = AppendBytes(b, []byte{0, 1, 0xFF})
	got, err := DecodeTuple(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{nil, true, false, int64(-42), uint64(7), -2.5, "a\x00b", []byte{0, 1, 0xFF}}
	if len(got) != len(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for i := range want {
		if gb, ok := got[i].([]byte); ok {
			if !bytes.Equal(gb, want[i].([]byte)) {
				t.Fatalf("component %d: got %v want %v", i, got[i], want[i])
			}
			continue
		}
		if got[i] != want[i] {
			t.Fatalf("component %d: got %v want %v", i, got[i], want[i])
		}
	}
	for _, bad := range [][]byte{{0x99}, {tagInt, 1}, {tagString, 'a'}, {tagString, 0, 7}} {
		if _, err := DecodeTuple(bad); err == nil {
			t.Fatalf("decode of %x must fail", bad)
		}
	}
}

func TestLayout(t *testing.T) {
	p := TablePrefix(1, 5)
	row := AppendInt(append([]byte(nil), p...), 10)
	end := PrefixEnd(p)
	if !bytes.HasPrefix(row, p) || bytes.Compare(row, end) >= 0 || bytes.Compare(p, end) >= 0 {
		t.Fatal("row key must fall in [prefix, PrefixEnd(prefix))")
	}
	if bytes.Compare(TablePrefix(1, 6), end) < 0 {
		t.Fatal("next table must sort after PrefixEnd")
	}
	if bytes.HasPrefix(TableDescriptorKey(1, "t"), TablePrefix(1, 0)[:len(DatabasePrefix(1))+1]) && bytes.HasPrefix(TableDescriptorKey(1, "t"), TablePrefix(1, 0)) {
		t.Fatal("catalog keys must not fall in a table range")
	}
	if PrefixEnd([]byte{0xFF, 0xFF}) != nil || !bytes.Equal(PrefixEnd([]byte{1, 0xFF}), []byte{2}) {
		t.Fatal("PrefixEnd wrong")
	}
	if !bytes.Equal(Next([]byte{1}), []byte{1, 0}) {
		t.Fatal("Next wrong")
	}
	tup, err := DecodeTuple(TableDescriptorKey(3, "users"))
	if err != nil || len(tup) != 5 || tup[1] != uint64(3) || tup[4] != "users" {
		t.Fatalf("descriptor key decodes to %v, %v", tup, err)
	}
}

func TestSplitDatabaseKey(t *testing.T) {
	k := append(TablePrefix(42, 7), 1, 2, 3)
	id, rest, ok := SplitDatabaseKey(k)
	if !ok || id != 42 || string(rest) != string(k[len(DatabasePrefix(42)):]) {
		t.Fatalf("SplitDatabaseKey = %d %x %v", id, rest, ok)
	}
	if len(DatabasePrefix(1)) != dbPrefixLen {
		t.Fatalf("dbPrefixLen %d != %d", dbPrefixLen, len(DatabasePrefix(1)))
	}
	for _, bad := range [][]byte{nil, TimelineKey(3), DatabasePrefix(3)[:10], AppendString(nil, "dc")} {
		if _, _, ok := SplitDatabaseKey(bad); ok {
			t.Errorf("SplitDatabaseKey(%x) accepted", bad)
		}
	}
	if _, _, ok := SplitDatabaseKey(DatabasePrefix(3)); !ok {
		t.Error("SplitDatabaseKey rejected a bare database prefix")
	}
}

func TestTimelineKey(t *testing.T) {
	for _, id := range []uint64{0, 1, 1 << 40} {
		got, ok := ParseTimelineKey(TimelineKey(id))
		if !ok || got != id {
			t.Errorf("ParseTimelineKey(TimelineKey(%d)) = %d %v", id, got, ok)
		}
	}
	if _, ok := ParseTimelineKey(BranchKey(1, "x")); ok {
		t.Error("ParseTimelineKey accepted a branch key")
	}
	if bytes.Compare(BranchKey(1, "a"), BranchKey(1, "b")) >= 0 || !bytes.HasPrefix(BranchKey(2, "a"), BranchesPrefix(2)) {
		t.Error("branch keys out of order or outside their prefix")
	}
}

func TestParseTableKey(t *testing.T) {
	p := TablePrefix(7, 42)
	for _, k := range [][]byte{p, append(AppendInt(append([]byte(nil), p...), -3), 0x00)} {
		db, table, ok := ParseTableKey(k)
		if !ok || db != 7 || table != 42 {
			t.Fatalf("ParseTableKey(%x) = %d, %d, %v; want 7, 42, true", k, db, table, ok)
		}
	}
	for _, k := range [][]byte{nil, DatabasePrefix(7), p[:len(p)-1], IndexTablePrefix(7, 42), TableDescriptorKey(7, "t"), TimelineKey(3)} {
		if _, _, ok := ParseTableKey(k); ok {
			t.Fatalf("ParseTableKey(%x) parsed a key that is not a table key", k)
		}
	}
}
