package exec

import (
	"cmp"
	"context"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// seriesOp produces generate_series values batch by batch, so a long
// series streams (and is cancelled between batches) instead of being
// materialized.
type seriesOp struct {
	env    *Env
	n      *plan.Series
	schema *arrow.Schema
	// started: the bounds are evaluated; done: no value is left.
	started, done bool
	cur, stop     any
	step          any
	down          bool
}

func newSeries(env *Env, n *plan.Series) (Operator, error) {
	return &seriesOp{env: env, n: n, schema: schemaOf(n.Cols)}, nil
}

// evalConst evaluates an expression that reads no column.
func evalConst(env *Env, e plan.Expr) (any, error) {
	if c, ok := e.(*plan.Const); ok {
		return c.Value, nil
	}
	mem := memOr(env.Mem)
	ev, err := Compile(mem, e)
	if err != nil {
		return nil, err
	}
	defer ev.Release()
	one := newBatch(arrow.NewSchema(nil, nil), nil, 1)
	defer one.Release()
	a, err := ev.Eval(one)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	return valueAt(a, 0), nil
}

func (s *seriesOp) start() error {
	s.started = true
	vals := make([]any, 3)
	for i, e := range []plan.Expr{s.n.Start, s.n.Stop, s.n.Step} {
		v, err := evalConst(s.env, e)
		if err != nil {
			return err
		}
		if v == nil { // strict: any NULL argument gives no rows
			s.done = true
			return nil
		}
		vals[i] = v
	}
	s.cur, s.stop, s.step = vals[0], vals[1], vals[2]
	var zero bool
	switch st := s.step.(type) {
	case int32:
		zero, s.down = st == 0, st < 0
	case int64:
		zero, s.down = st == 0, st < 0
	case types.Decimal:
		zero, s.down = st.Sign() == 0, st.Sign() < 0
	case types.IntervalValue:
		c := st.Cmp(types.IntervalValue{})
		zero, s.down = c == 0, c < 0
	}
	if zero {
		return sqlerr.New(sqlerr.CodeInvalidParameterValue, "step size cannot equal zero")
	}
	return nil
}

// inRange reports whether v has not passed stop.
func (s *seriesOp) inRange(v any) bool {
	var c int
	switch x := v.(type) {
	case int32:
		c = cmp.Compare(int64(x), int64(s.stop.(int32)))
	case int64:
		c = cmp.Compare(x, s.stop.(int64))
	case types.Decimal:
		c = x.Cmp(s.stop.(types.Decimal))
	case types.TimestampValue:
		c = cmp.Compare(int64(x), int64(s.stop.(types.TimestampValue)))
	case types.TimestampTZValue:
		c = cmp.Compare(int64(x), int64(s.stop.(types.TimestampTZValue)))
	}
	if s.down {
		return c >= 0
	}
	return c <= 0
}

// next returns the value after v; ok false when it would overflow (the
// series ends there, as in PostgreSQL).
func (s *seriesOp) next(v any) (any, bool, error) {
	switch x := v.(type) {
	case int32:
		r := int64(x) + int64(s.step.(int32))
		if r > math.MaxInt32 || r < math.MinInt32 {
			return nil, false, nil
		}
		return int32(r), true, nil
	case int64:
		st := s.step.(int64)
		r := x + st
		if (st > 0 && r < x) || (st < 0 && r > x) {
			return nil, false, nil
		}
		return r, true, nil
	case types.Decimal:
		return x.Add(s.step.(types.Decimal)), true, nil
	case types.TimestampValue:
		r, err := types.AddInterval(int64(x), s.step.(types.IntervalValue))
		return types.TimestampValue(r), err == nil, nil
	case types.TimestampTZValue:
		r, err := types.AddInterval(int64(x), s.step.(types.IntervalValue))
		return types.TimestampTZValue(r), err == nil, nil
	}
	return nil, false, nil
}

func (s *seriesOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if !s.started {
		if err := s.start(); err != nil {
			return nil, err
		}
	}
	if s.done {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows := s.env.batchRows()
	b := array.NewBuilder(memOr(s.env.Mem), s.n.T.Arrow())
	defer b.Release()
	n := 0
	for n < rows {
		if !s.inRange(s.cur) {
			s.done = true
			break
		}
		appendValue(b, s.cur)
		n++
		nv, ok, err := s.next(s.cur)
		if err != nil {
			return nil, err
		}
		if !ok {
			s.done = true
			break
		}
		s.cur = nv
	}
	if n == 0 {
		return nil, nil
	}
	return newBatch(s.schema, []arrow.Array{b.NewArray()}, n), nil
}

func (s *seriesOp) Close() {}
