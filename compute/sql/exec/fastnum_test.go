package exec

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// randomNumericText returns the text of a random NUMERIC: small values
// (the fast path), values near and past int64 (the big fallback), scales
// 0-6, negatives and zeros.
func randomNumericText(r *rand.Rand) string {
	var u *big.Int
	switch r.IntN(4) {
	case 0:
		u = big.NewInt(r.Int64N(2000) - 1000)
	case 1:
		u = big.NewInt(r.Int64N(1 << 40))
	case 2:
		u = new(big.Int).Lsh(big.NewInt(r.Int64N(1<<20)+1), 50) // ~10^21
	default:
		u = big.NewInt(r.Int64())
	}
	if r.IntN(2) == 0 {
		u.Neg(u)
	}
	return types.NewDecimal(u, int32(r.IntN(7))).String()
}

// TestNumericFastPathMatchesDecimal checks the scaled-int64 kernels
// against types.Decimal (math/big) on random values, overflowing ones
// included: +, -, * (text for text), comparisons and sum.
func TestNumericFastPathMatchesDecimal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const n = 3000
	lb, rb := array.NewStringBuilder(mem), array.NewStringBuilder(mem)
	var ls, rs []string
	for i := range n {
		if i%97 == 0 {
			lb.AppendNull()
			ls = append(ls, "")
		} else {
			s := randomNumericText(r)
			lb.Append(s)
			ls = append(ls, s)
		}
		s := randomNumericText(r)
		rb.Append(s)
		rs = append(rs, s)
	}
	l, rr := lb.NewStringArray(), rb.NewStringArray()
	lb.Release()
	rb.Release()
	defer l.Release()
	defer rr.Release()

	for _, op := range []plan.ArithOp{plan.Add, plan.Sub, plan.Mul} {
		out, err := numericArith(mem, op, l, rr)
		if err != nil {
			t.Fatal(err)
		}
		got := out.(*array.String)
		for i := range n {
			if l.IsNull(i) {
				if got.IsValid(i) {
					t.Fatalf("%s row %d: NULL operand gave %q", op, i, got.Value(i))
				}
				continue
			}
			a, _ := types.ParseDecimal(ls[i])
			b, _ := types.ParseDecimal(rs[i])
			want, err := types.Arith(op.String(), a, b)
			if err != nil {
				t.Fatal(err)
			}
			if w := want.(types.Decimal).String(); got.Value(i) != w {
				t.Fatalf("%s %s %s = %s, want %s", ls[i], op, rs[i], got.Value(i), w)
			}
		}
		out.Release()
	}

	for _, op := range []plan.CmpOp{plan.EQ, plan.NE, plan.LT, plan.LE, plan.GT, plan.GE} {
		out, ok := fastCompare(mem, op, types.Numeric, l, rr)
		if !ok {
			t.Fatal("no fast numeric compare")
		}
		got := out.(*array.Boolean)
		for i := range n {
			if l.IsNull(i) {
				if got.IsValid(i) {
					t.Fatalf("row %d: NULL operand compared", i)
				}
				continue
			}
			a, _ := types.ParseDecimal(ls[i])
			b, _ := types.ParseDecimal(rs[i])
			if want := op.Holds(a.Cmp(b)); got.Value(i) != want {
				t.Fatalf("%s %s %s = %v, want %v", ls[i], op, rs[i], got.Value(i), want)
			}
		}
		out.Release()
	}

	// sum and avg over 3 groups, against big.Int sums.
	for _, avg := range []bool{false, true} {
		acc := &decimalSumAcc{argT: types.Numeric, avg: avg}
		ids := make([]int32, n)
		want := make([]types.Decimal, 3)
		cnt := make([]int64, 3)
		for g := range 3 {
			acc.grow()
			want[g] = types.DecimalFromInt(0)
		}
		for i := range n {
			g := int32(i % 3)
			ids[i] = g
			if l.IsNull(i) {
				continue
			}
			d, _ := types.ParseDecimal(ls[i])
			if cnt[g] == 0 {
				want[g] = d
			} else {
				want[g] = want[g].Add(d)
			}
			cnt[g]++
		}
		if err := acc.update(ids, l, nil); err != nil {
			t.Fatal(err)
		}
		out, err := acc.build(mem)
		if err != nil {
			t.Fatal(err)
		}
		got := out.(*array.String)
		for g := range 3 {
			w := want[g]
			if avg {
				w, _ = w.Div(types.DecimalFromInt(cnt[g]))
			}
			if got.Value(g) != w.String() {
				t.Fatalf("avg=%v group %d: %s, want %s", avg, g, got.Value(g), w.String())
			}
		}
		out.Release()
	}
}

// TestParseFastDec pins the texts the fast parser takes and refuses.
func TestParseFastDec(t *testing.T) {
	for _, c := range []struct {
		in    string
		u     int64
		scale int32
		ok    bool
	}{
		{"0", 0, 0, true}, {"-1.50", -150, 2, true}, {"0.04", 4, 2, true},
		{"123456789012345678", 123456789012345678, 0, true},
		{"1234567890123456789", 0, 0, false}, // 19 digits: big path
		{"1e5", 0, 0, false}, {" 1", 0, 0, false}, {"", 0, 0, false}, {"-", 0, 0, false},
		{"1.2.3", 0, 0, false}, {".5", 5, 1, true},
	} {
		u, s, ok := parseFastDec(c.in)
		if ok != c.ok || (ok && (u != c.u || s != c.scale)) {
			t.Errorf("parseFastDec(%q) = %d, %d, %v; want %d, %d, %v", c.in, u, s, ok, c.u, c.scale, c.ok)
		}
		if ok {
			d, err := types.ParseDecimal(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(appendFastDec(nil, u, s)); got != d.String() {
				t.Errorf("appendFastDec(%d, %d) = %q, want %q", u, s, got, d.String())
			}
		}
	}
}

// TestFastCompareTemporal checks the typed date and timestamp loops
// against types.Compare.
func TestFastCompareTemporal(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(3, 4))
	lb, rb := array.NewDate32Builder(mem), array.NewDate32Builder(mem)
	const n = 500
	for i := range n {
		if i%50 == 0 {
			lb.AppendNull()
		} else {
			lb.Append(arrow.Date32(r.Int32N(20) - 10))
		}
		rb.Append(arrow.Date32(r.Int32N(20) - 10))
	}
	l, rr := lb.NewArray(), rb.NewArray()
	lb.Release()
	rb.Release()
	defer l.Release()
	defer rr.Release()
	for _, op := range []plan.CmpOp{plan.EQ, plan.NE, plan.LT, plan.LE, plan.GT, plan.GE} {
		out, ok := fastCompare(mem, op, types.Date, l, rr)
		if !ok {
			t.Fatal("no fast date compare")
		}
		got := out.(*array.Boolean)
		for i := range n {
			a, b := types.ValueAt(types.Date, l, i), types.ValueAt(types.Date, rr, i)
			if a == nil {
				if got.IsValid(i) {
					t.Fatalf("row %d: NULL compared", i)
				}
				continue
			}
			if want := op.Holds(types.Compare(a, b)); got.Value(i) != want {
				t.Fatalf("%v %s %v = %v, want %v", a, op, b, got.Value(i), want)
			}
		}
		out.Release()
	}
	ts, ok := fastCast(mem, types.Date, types.Timestamp, l)
	if !ok {
		t.Fatal("no fast date -> timestamp cast")
	}
	defer ts.Release()
	for i := range n {
		want, _ := types.Cast(types.ValueAt(types.Date, l, i), types.Timestamp)
		if a := types.ValueAt(types.Date, l, i); a == nil {
			want = nil
		}
		if got := types.ValueAt(types.Timestamp, ts, i); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("row %d: %v, want %v", i, got, want)
		}
	}
}
