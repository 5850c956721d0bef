package exec

import (
	"math/big"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// newExtAccumulator returns the accumulator of the aggregates over (or
// into) the later types, nil for the ones accum.go covers: exact numeric
// sums and averages (sum(int8) and avg of integers are numeric, as in
// PostgreSQL), float4 sums, interval sums and averages, and min/max of any
// ordered type.
func newExtAccumulator(a plan.Agg) accumulator {
	if a.Arg == nil {
		return nil
	}
	at := a.Arg.Type()
	switch a.Func {
	case plan.StringAgg, plan.ArrayAgg:
		return &listAcc{agg: a}
	case plan.Sum, plan.Avg:
		switch {
		case a.T == types.Numeric:
			return &decimalSumAcc{argT: at, avg: a.Func == plan.Avg}
		case at == types.Float4 || at == types.Interval:
			return &carrierSumAcc{argT: at, resT: a.T, avg: a.Func == plan.Avg}
		}
	case plan.Min, plan.Max:
		if isExt(a.T) {
			return &carrierMinMaxAcc{t: a.T, max: a.Func == plan.Max}
		}
	}
	return nil
}

// decimalSumAcc sums exactly into a Decimal per group; avg divides by the
// count with numeric division's result scale. A NUMERIC argument is summed
// on a scaled-int64 fast path (fsum at scale fscale) while every value and
// the running sum fit; a group moves to its big Decimal for good on the
// first value that does not.
type decimalSumAcc struct {
	argT   types.T
	avg    bool
	sum    []types.Decimal
	n      []int64
	fsum   []int64
	fscale []int32
	big    []bool
}

func (s *decimalSumAcc) grow() {
	// A group's sum is set by its first value (n == 0 until then), so the
	// zero Decimal is never read: no big.Int per group.
	s.sum = append(s.sum, types.Decimal{})
	s.n = append(s.n, 0)
	s.fsum = append(s.fsum, 0)
	s.fscale = append(s.fscale, 0)
	s.big = append(s.big, s.argT != types.Numeric)
}

// addFast folds u*10^-sc into group g's fast sum; false when it does not fit.
func (s *decimalSumAcc) addFast(g int32, u int64, sc int32) bool {
	if s.n[g] == 0 {
		s.fsum[g], s.fscale[g] = u, sc
		return true
	}
	cur, cs := s.fsum[g], s.fscale[g]
	ns := max(cs, sc)
	a, ok1 := rescaleUp(cur, ns-cs)
	b, ok2 := rescaleUp(u, ns-sc)
	if !ok1 || !ok2 {
		return false
	}
	v, ok := addCheck(a, b)
	if !ok {
		return false
	}
	s.fsum[g], s.fscale[g] = v, ns
	return true
}

// toBig moves group g to its big Decimal.
func (s *decimalSumAcc) toBig(g int32) {
	if s.n[g] > 0 {
		s.sum[g] = types.NewDecimal(big.NewInt(s.fsum[g]), s.fscale[g])
	}
	s.big[g] = true
}

func (s *decimalSumAcc) update(ids []int32, arg arrow.Array, keep []bool) error {
	strs, _ := arg.(*array.String)
	for i, g := range ids {
		if !folds(arg, keep, i) {
			continue
		}
		if !s.big[g] && strs != nil {
			if u, sc, ok := parseFastDec(strs.Value(i)); ok && s.addFast(g, u, sc) {
				s.n[g]++
				continue
			}
			s.toBig(g)
		}
		d, err := types.ToDecimal(types.ValueAt(s.argT, arg, i))
		if err != nil {
			return err
		}
		if s.n[g] == 0 {
			s.sum[g] = d
		} else {
			s.sum[g] = s.sum[g].Add(d)
		}
		s.n[g]++
	}
	return nil
}

func (s *decimalSumAcc) build(mem memory.Allocator) (arrow.Array, error) {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for g := range s.sum {
		if s.n[g] == 0 {
			b.AppendNull()
			continue
		}
		v := s.sum[g]
		if !s.big[g] {
			v = types.NewDecimal(big.NewInt(s.fsum[g]), s.fscale[g])
		}
		if s.avg {
			var err error
			if v, err = v.Div(types.DecimalFromInt(s.n[g])); err != nil {
				return nil, err
			}
		}
		b.Append(v.String())
	}
	return b.NewArray(), nil
}

// carrierSumAcc sums float4 (into float4, avg float8) and interval values.
type carrierSumAcc struct {
	argT, resT types.T
	avg        bool
	f          []float64
	iv         []types.IntervalValue
	n          []int64
}

func (s *carrierSumAcc) grow() {
	s.f = append(s.f, 0)
	s.iv = append(s.iv, types.IntervalValue{})
	s.n = append(s.n, 0)
}

func (s *carrierSumAcc) update(ids []int32, arg arrow.Array, keep []bool) error {
	for i, g := range ids {
		if !folds(arg, keep, i) {
			continue
		}
		switch v := types.ValueAt(s.argT, arg, i).(type) {
		case float32:
			s.f[g] += float64(v)
		case types.IntervalValue:
			s.iv[g] = s.iv[g].Add(v)
		}
		s.n[g]++
	}
	return nil
}

func (s *carrierSumAcc) build(mem memory.Allocator) (arrow.Array, error) {
	b := array.NewBuilder(mem, s.resT.Arrow())
	defer b.Release()
	for g := range s.n {
		if s.n[g] == 0 {
			b.AppendNull()
			continue
		}
		var v any
		switch {
		case s.argT == types.Interval && s.avg:
			iv, err := s.iv[g].Mul(1 / float64(s.n[g]))
			if err != nil {
				return nil, err
			}
			v = iv
		case s.argT == types.Interval:
			v = s.iv[g]
		case s.avg:
			v = s.f[g] / float64(s.n[g])
		default:
			v = float32(s.f[g])
		}
		types.Append(b, v)
	}
	return b.NewArray(), nil
}

// carrierMinMaxAcc keeps the least or greatest carrier value per group; a
// later equal value replaces the current one, as in PostgreSQL.
type carrierMinMaxAcc struct {
	t   types.T
	max bool
	val []any
}

func (m *carrierMinMaxAcc) grow() { m.val = append(m.val, nil) }

func (m *carrierMinMaxAcc) update(ids []int32, arg arrow.Array, keep []bool) error {
	for i, g := range ids {
		if !folds(arg, keep, i) {
			continue
		}
		m.fold(g, types.ValueAt(m.t, arg, i))
	}
	return nil
}

// fold makes v group g's value when it is the first, or when it is at
// least (max) or at most (min) the current one.
func (m *carrierMinMaxAcc) fold(g int32, v any) {
	cur := m.val[g]
	if cur == nil {
		m.val[g] = v
		return
	}
	c := types.Compare(v, cur)
	if (m.max && c >= 0) || (!m.max && c <= 0) {
		m.val[g] = v
	}
}

func (m *carrierMinMaxAcc) build(mem memory.Allocator) (arrow.Array, error) {
	b := array.NewBuilder(mem, m.t.Arrow())
	defer b.Release()
	for _, v := range m.val {
		types.Append(b, v)
	}
	return b.NewArray(), nil
}

// appendKeyTyped is appendKey for a column of SQL type t: the later types
// use their order-preserving key encoding, which is canonical (1.5 and
// 1.50 are one group, as numeric equality says).
func appendKeyTyped(buf []byte, t types.T, arr arrow.Array, i int) []byte {
	if !isExt(t) {
		return appendKey(buf, arr, i)
	}
	if arr.IsNull(i) {
		return append(buf, 0)
	}
	buf = append(buf, 1)
	v := types.ValueAt(t, arr, i)
	if j, ok := v.(types.JSONBValue); ok {
		v = string(j)
	}
	out, err := types.AppendKey(buf, v)
	if err != nil {
		panic(err) // every later type but jsonb has a key encoding
	}
	return out
}

// typedKeyComparator is keyComparator for a column of SQL type t: the
// later types compare their carrier values, extracted once.
func typedKeyComparator(t types.T, col arrow.Array, key plan.SortKey) func(i, j int32) int {
	if !isExt(t) {
		return keyComparator(col, key)
	}
	vals := make([]any, col.Len())
	for i := range vals {
		vals[i] = types.ValueAt(t, col, i)
	}
	return func(i, j int32) int {
		a, b := vals[i], vals[j]
		var r int
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			if key.NullsFirst {
				return -1
			}
			return 1
		case b == nil:
			if key.NullsFirst {
				return 1
			}
			return -1
		}
		r = types.Compare(a, b)
		if key.Desc {
			return -r
		}
		return r
	}
}

// appendTypedKey appends the primary-key encoding of row of col, a column
// of SQL type t.
func appendTypedKey(key []byte, t types.T, col arrow.Array, row int) []byte {
	if !isExt(t) {
		return appendKeyColumn(key, col, row)
	}
	out, err := types.AppendKey(key, types.ValueAt(t, col, row))
	if err != nil {
		panic(err) // the binder refuses primary keys of types without one
	}
	return out
}

// columnTypes returns the SQL types of plan columns.
func columnTypes(cols []plan.Column) []types.T {
	out := make([]types.T, len(cols))
	for i, c := range cols {
		out[i] = c.T
	}
	return out
}

// colType returns the SQL type of column i (Unknown when the sort was
// built without column types, as some tests do).
func (s *sortOp) colType(i int) types.T {
	if i < len(s.colTypes) {
		return s.colTypes[i]
	}
	return types.Unknown
}

// frameAggExt computes a window aggregate whose argument or result is one
// of the later types (numeric sums and averages, min/max of any type)
// with the accumulators of grouped aggregation; ok is false otherwise.
func frameAggExt(f plan.WindowExpr, rows []int32, args []arrow.Array) (any, bool, error) {
	if len(f.Args) == 0 || f.Agg == plan.Count {
		return nil, false, nil
	}
	agg := plan.Agg{Func: f.Agg, Arg: f.Args[0], T: f.T}
	acc := newExtAccumulator(agg)
	if acc == nil {
		return nil, false, nil
	}
	acc.grow()
	keep := make([]bool, args[0].Len())
	for _, r := range rows {
		keep[r] = true
	}
	all := make([]int32, args[0].Len())
	// Fold the frame's rows (all rows map to group 0; keep selects them).
	if err := acc.update(all, args[0], keep); err != nil {
		return nil, true, err
	}
	out, err := acc.build(memory.DefaultAllocator)
	if err != nil {
		return nil, true, err
	}
	defer out.Release()
	return types.ValueAt(f.T, out, 0), true, nil
}

// merge implements merger: exact sums add at the larger scale, as the
// serial fold does.
func (s *decimalSumAcc) merge(src accumulator, into []int32) error {
	o := src.(*decimalSumAcc)
	for h, n := range o.n {
		if n == 0 {
			continue
		}
		g := into[h]
		switch {
		case s.n[g] == 0:
			s.sum[g], s.fsum[g], s.fscale[g], s.big[g] = o.sum[h], o.fsum[h], o.fscale[h], o.big[h]
		case !s.big[g] && !o.big[h] && s.addFast(g, o.fsum[h], o.fscale[h]):
		default:
			if !s.big[g] {
				s.toBig(g)
			}
			v := o.sum[h]
			if !o.big[h] {
				v = types.NewDecimal(big.NewInt(o.fsum[h]), o.fscale[h])
			}
			s.sum[g] = s.sum[g].Add(v)
		}
		s.n[g] += n
	}
	return nil
}

// merge implements merger for interval sums (float4 sums do not merge
// exactly and run serially).
func (s *carrierSumAcc) merge(src accumulator, into []int32) error {
	o := src.(*carrierSumAcc)
	for h, n := range o.n {
		if n == 0 {
			continue
		}
		g := into[h]
		s.iv[g] = s.iv[g].Add(o.iv[h])
		s.n[g] += n
	}
	return nil
}

// merge implements merger for the types whose equal values are identical.
func (m *carrierMinMaxAcc) merge(src accumulator, into []int32) error {
	for h, v := range src.(*carrierMinMaxAcc).val {
		if v == nil {
			continue
		}
		m.fold(into[h], v)
	}
	return nil
}
