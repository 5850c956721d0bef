package exec

import (
	"math"
	"math/bits"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// accumulator holds one aggregate's state for every group.
type accumulator interface {
	// grow adds a group in its initial state.
	grow()
	// update folds the rows of a batch into their groups (ids[i] is row
	// i's group); arg is nil for count(*); keep, when not nil, selects the
	// rows to fold (DISTINCT).
	update(ids []int32, arg arrow.Array, keep []bool) error
	// build returns the result of every group.
	build(mem memory.Allocator) (arrow.Array, error)
}

func newAccumulator(a plan.Agg) accumulator {
	if acc := newExtAccumulator(a); acc != nil {
		return acc
	}
	switch a.Func {
	case plan.CountStar, plan.Count:
		return &countAcc{}
	case plan.Sum:
		if a.T == types.Float8 {
			return &floatSumAcc{}
		}
		return &intSumAcc{}
	case plan.Avg:
		if a.Arg.Type() == types.Float8 {
			return &floatSumAcc{avg: true}
		}
		return &intSumAcc{avg: true}
	case plan.Min, plan.Max:
		switch a.T {
		case types.Int4:
			return &minMaxAcc[int32]{max: a.Func == plan.Max, cmp: cmpNum[int32]}
		case types.Int8:
			return &minMaxAcc[int64]{max: a.Func == plan.Max, cmp: cmpNum[int64]}
		case types.Float8:
			return &minMaxAcc[float64]{max: a.Func == plan.Max, cmp: cmpFloat}
		}
		return &minMaxAcc[string]{max: a.Func == plan.Max, cmp: strings.Compare}
	}
	return &boolAcc{and: a.Func == plan.BoolAnd}
}

// folds reports whether row i of arg is folded into its group.
func folds(arg arrow.Array, keep []bool, i int) bool {
	return (keep == nil || keep[i]) && (arg.NullN() == 0 || arg.IsValid(i))
}

type countAcc struct{ n []int64 }

func (c *countAcc) grow() { c.n = append(c.n, 0) }

func (c *countAcc) update(ids []int32, arg arrow.Array, keep []bool) error {
	if arg == nil || (keep == nil && arg.NullN() == 0) {
		for _, g := range ids {
			c.n[g]++
		}
		return nil
	}
	for i, g := range ids {
		if folds(arg, keep, i) {
			c.n[g]++
		}
	}
	return nil
}

func (c *countAcc) build(mem memory.Allocator) (arrow.Array, error) {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(c.n, nil)
	return b.NewArray(), nil
}

// intSumAcc sums int4/int8 into a 128-bit integer per group (hi:lo, two's
// complement), so intermediate sums never overflow: sum answers 22003 only
// when the final sum leaves int8, and avg divides the exact sum by the
// count as float8.
type intSumAcc struct {
	avg bool
	hi  []int64
	lo  []uint64
	n   []int64
}

func (s *intSumAcc) grow() {
	s.hi = append(s.hi, 0)
	s.lo = append(s.lo, 0)
	s.n = append(s.n, 0)
}

// add adds v to group g.
func (s *intSumAcc) add(g int32, v int64) {
	lo, carry := bits.Add64(s.lo[g], uint64(v), 0)
	s.lo[g] = lo
	s.hi[g] += v>>63 + int64(carry)
	s.n[g]++
}

func (s *intSumAcc) update(ids []int32, arg arrow.Array, keep []bool) error {
	switch x := arg.(type) {
	case *array.Int32:
		vals := x.Int32Values()
		for i, g := range ids {
			if folds(arg, keep, i) {
				s.add(g, int64(vals[i]))
			}
		}
	case *array.Int64:
		vals := x.Int64Values()
		for i, g := range ids {
			if folds(arg, keep, i) {
				s.add(g, vals[i])
			}
		}
	}
	return nil
}

// fits reports whether the sum of group g fits int64.
func (s *intSumAcc) fits(g int) bool {
	hi, lo := s.hi[g], s.lo[g]
	return hi == 0 && lo <= math.MaxInt64 || hi == -1 && lo > math.MaxInt64
}

// float returns the sum of group g as float64.
func (s *intSumAcc) float(g int) float64 {
	if s.fits(g) {
		return float64(int64(s.lo[g]))
	}
	return float64(s.hi[g])*(1<<64) + float64(s.lo[g])
}

func (s *intSumAcc) build(mem memory.Allocator) (arrow.Array, error) {
	if s.avg {
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		for g, n := range s.n {
			if n == 0 {
				b.AppendNull()
				continue
			}
			b.Append(s.float(g) / float64(n))
		}
		return b.NewArray(), nil
	}
	b := array.NewInt64Builder(mem)
	defer b.Release()
	for g, n := range s.n {
		switch {
		case n == 0:
			b.AppendNull()
		case s.fits(g):
			b.Append(int64(s.lo[g]))
		default:
			return nil, intOutOfRange(types.Int8)
		}
	}
	return b.NewArray(), nil
}

// floatSumAcc sums float8; a finite sum overflowing to infinity answers
// 22003, as in PostgreSQL. avg divides by the count.
type floatSumAcc struct {
	avg bool
	sum []float64
	n   []int64
}

func (s *floatSumAcc) grow() {
	s.sum = append(s.sum, 0)
	s.n = append(s.n, 0)
}

func (s *floatSumAcc) update(ids []int32, arg arrow.Array, keep []bool) error {
	vals := arg.(*array.Float64).Float64Values()
	for i, g := range ids {
		if folds(arg, keep, i) {
			r := s.sum[g] + vals[i]
			if math.IsInf(r, 0) && !math.IsInf(s.sum[g], 0) && !math.IsInf(vals[i], 0) {
				return errFloatOver()
			}
			s.sum[g] = r
			s.n[g]++
		}
	}
	return nil
}

func (s *floatSumAcc) build(mem memory.Allocator) (arrow.Array, error) {
	b := array.NewFloat64Builder(mem)
	defer b.Release()
	for g, n := range s.n {
		switch {
		case n == 0:
			b.AppendNull()
		case s.avg:
			b.Append(s.sum[g] / float64(n))
		default:
			b.Append(s.sum[g])
		}
	}
	return b.NewArray(), nil
}

// minMaxAcc keeps the smallest (or largest) value per group.
type minMaxAcc[T int32 | int64 | float64 | string] struct {
	max  bool
	cmp  func(a, b T) int
	val  []T
	have []bool
}

func cmpNum[T int32 | int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *minMaxAcc[T]) grow() {
	var zero T
	m.val = append(m.val, zero)
	m.have = append(m.have, false)
}

func (m *minMaxAcc[T]) update(ids []int32, arg arrow.Array, keep []bool) error {
	switch x := any(m).(type) {
	case *minMaxAcc[int32]:
		foldMinMax(x, ids, arg.(*array.Int32).Int32Values(), arg, keep)
	case *minMaxAcc[int64]:
		foldMinMax(x, ids, arg.(*array.Int64).Int64Values(), arg, keep)
	case *minMaxAcc[float64]:
		foldMinMax(x, ids, arg.(*array.Float64).Float64Values(), arg, keep)
	case *minMaxAcc[string]:
		want := m.want()
		str := arg.(*array.String)
		for i, g := range ids {
			if !folds(arg, keep, i) {
				continue
			}
			if v := str.Value(i); !x.have[g] || x.cmp(v, x.val[g]) != -want {
				x.val[g], x.have[g] = strings.Clone(v), true
			}
		}
	}
	return nil
}

// want is the comparison result of a better value; as in PostgreSQL an
// equal later value (0 after -0) replaces the current one.
func (m *minMaxAcc[T]) want() int {
	if m.max {
		return 1
	}
	return -1
}

// foldMinMax is minMaxAcc.update over a fixed-width value slice.
func foldMinMax[T fixed](m *minMaxAcc[T], ids []int32, vals []T, arg arrow.Array, keep []bool) {
	want := m.want()
	for i, g := range ids {
		if !folds(arg, keep, i) {
			continue
		}
		if v := vals[i]; !m.have[g] || m.cmp(v, m.val[g]) != -want {
			m.val[g], m.have[g] = v, true
		}
	}
}

func (m *minMaxAcc[T]) build(mem memory.Allocator) (arrow.Array, error) {
	var zero T
	var dt arrow.DataType
	switch any(zero).(type) {
	case int32:
		dt = arrow.PrimitiveTypes.Int32
	case int64:
		dt = arrow.PrimitiveTypes.Int64
	case float64:
		dt = arrow.PrimitiveTypes.Float64
	default:
		dt = arrow.BinaryTypes.String
	}
	b := array.NewBuilder(mem, dt)
	defer b.Release()
	for g, v := range m.val {
		if m.have[g] {
			appendValue(b, v)
		} else {
			b.AppendNull()
		}
	}
	return b.NewArray(), nil
}

type boolAcc struct {
	and  bool
	val  []bool
	have []bool
}

func (a *boolAcc) grow() {
	a.val = append(a.val, a.and)
	a.have = append(a.have, false)
}

func (a *boolAcc) update(ids []int32, arg arrow.Array, keep []bool) error {
	x := arg.(*array.Boolean)
	for i, g := range ids {
		if !folds(arg, keep, i) {
			continue
		}
		a.have[g] = true
		if a.and {
			a.val[g] = a.val[g] && x.Value(i)
		} else {
			a.val[g] = a.val[g] || x.Value(i)
		}
	}
	return nil
}

func (a *boolAcc) build(mem memory.Allocator) (arrow.Array, error) {
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	for g, v := range a.val {
		if a.have[g] {
			b.Append(v)
		} else {
			b.AppendNull()
		}
	}
	return b.NewArray(), nil
}

// merger is an accumulator whose partial states (of a parallel
// aggregate's workers) combine into exactly the state one accumulator
// folding every row would hold.
type merger interface {
	// merge folds the groups of src, an accumulator of the same aggregate,
	// into this one: src's group h into group into[h].
	merge(src accumulator, into []int32) error
}

func (c *countAcc) merge(src accumulator, into []int32) error {
	for h, n := range src.(*countAcc).n {
		c.n[into[h]] += n
	}
	return nil
}

func (s *intSumAcc) merge(src accumulator, into []int32) error {
	o := src.(*intSumAcc)
	for h, n := range o.n {
		if n == 0 {
			continue
		}
		g := into[h]
		lo, carry := bits.Add64(s.lo[g], o.lo[h], 0)
		s.lo[g] = lo
		s.hi[g] += o.hi[h] + int64(carry)
		s.n[g] += n
	}
	return nil
}

func (m *minMaxAcc[T]) merge(src accumulator, into []int32) error {
	o := src.(*minMaxAcc[T])
	want := m.want()
	for h, have := range o.have {
		if !have {
			continue
		}
		g := into[h]
		if v := o.val[h]; !m.have[g] || m.cmp(v, m.val[g]) != -want {
			m.val[g], m.have[g] = v, true
		}
	}
	return nil
}

func (a *boolAcc) merge(src accumulator, into []int32) error {
	o := src.(*boolAcc)
	for h, have := range o.have {
		if !have {
			continue
		}
		g := into[h]
		switch {
		case !a.have[g]:
			a.val[g] = o.val[h]
		case a.and:
			a.val[g] = a.val[g] && o.val[h]
		default:
			a.val[g] = a.val[g] || o.val[h]
		}
		a.have[g] = true
	}
	return nil
}
