package exec

import (
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// listAcc is the accumulator of string_agg and array_agg: it keeps every
// group's values (with their ORDER BY keys, when the call has them) in
// input order and builds the text or array at the end. Without ORDER BY
// the values keep their input order, as in PostgreSQL (so an ordered
// subquery orders them). Memory grows with the values (bounded only by
// the group limit, as every aggregate's state).
type listAcc struct {
	agg   plan.Agg
	mem   memory.Allocator
	order []*Evaluator
	keys  []arrow.Array // ORDER BY values of the current batch
	vals  [][]listEntry
}

type listEntry struct {
	v    any
	keys []any
}

func (l *listAcc) grow() { l.vals = append(l.vals, nil) }

// orderKeys evaluates the ORDER BY expressions over the batch update folds
// next.
func (l *listAcc) orderKeys(b arrow.RecordBatch) error {
	releaseAll(l.keys)
	l.keys = l.keys[:0]
	if len(l.agg.OrderBy) == 0 {
		return nil
	}
	if l.order == nil {
		for _, o := range l.agg.OrderBy {
			ev, err := Compile(l.mem, o.Expr)
			if err != nil {
				return err
			}
			l.order = append(l.order, ev)
		}
	}
	for _, ev := range l.order {
		a, err := ev.Eval(b)
		if err != nil {
			return err
		}
		l.keys = append(l.keys, a)
	}
	return nil
}

func (l *listAcc) update(ids []int32, arg arrow.Array, keep []bool) error {
	t := l.agg.Arg.Type()
	for i, g := range ids {
		if keep != nil && !keep[i] {
			continue
		}
		v := types.ValueAt(t, arg, i)
		if v == nil && l.agg.Func == plan.StringAgg {
			continue
		}
		e := listEntry{v: v}
		for k, a := range l.keys {
			if e.keys == nil {
				e.keys = make([]any, len(l.keys))
			}
			e.keys[k] = types.ValueAt(l.agg.OrderBy[k].Expr.Type(), a, i)
		}
		l.vals[g] = append(l.vals[g], e)
	}
	return nil
}

func (l *listAcc) less(a, b listEntry) bool {
	for k, o := range l.agg.OrderBy {
		x, y := a.keys[k], b.keys[k]
		var c int
		switch {
		case x == nil && y == nil:
			continue
		case x == nil:
			c = 1
			if o.NullsFirst {
				c = -1
			}
			return c < 0
		case y == nil:
			c = -1
			if o.NullsFirst {
				c = 1
			}
			return c < 0
		}
		c = types.Compare(x, y)
		if o.Desc {
			c = -c
		}
		if c != 0 {
			return c < 0
		}
	}
	return false
}

func (l *listAcc) build(mem memory.Allocator) (arrow.Array, error) {
	bld := array.NewBuilder(mem, l.agg.T.Arrow())
	defer bld.Release()
	for _, es := range l.vals {
		if len(l.agg.OrderBy) > 0 {
			sort.SliceStable(es, func(i, j int) bool { return l.less(es[i], es[j]) })
		}
		if len(es) == 0 {
			bld.AppendNull()
			continue
		}
		if l.agg.Func == plan.StringAgg {
			var sb strings.Builder
			for i, e := range es {
				if i > 0 {
					sb.WriteString(l.agg.Sep)
				}
				sb.WriteString(e.v.(string))
			}
			types.Append(bld, sb.String())
			continue
		}
		out := types.ArrayValue{Elem: l.agg.Arg.Type(), Elems: make([]any, len(es))}
		for i, e := range es {
			out.Elems[i] = e.v
		}
		types.Append(bld, out)
	}
	return bld.NewArray(), nil
}

// release frees the ORDER BY evaluators and the last batch's keys.
func (l *listAcc) release() {
	releaseAll(l.keys)
	l.keys = nil
	for _, ev := range l.order {
		ev.Release()
	}
	l.order = nil
}
