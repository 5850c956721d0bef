package exec

import (
	"context"
	"encoding/binary"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// DefaultMaxGroups is the group limit of a hash aggregate when
// Env.MaxGroups is 0.
const DefaultMaxGroups = 1 << 23

// CodeOutOfMemory is the SQLSTATE of a hash aggregate over its group limit.
const CodeOutOfMemory = "53200"

// keyMode selects how a hash aggregate maps rows to groups.
type keyMode uint8

const (
	keyScalar  keyMode = iota // no GROUP BY: one group
	keyInt                    // one int4/int8 key: map[int64]
	keyText                   // one text key: map[string]
	keyEncoded                // anything else: encoded key bytes
)

// hashAggOp groups its input by hashing the group keys of every batch and
// updates per-group accumulators in one loop per aggregate and batch. It
// holds every group in memory (bounded by Env.MaxGroups; no spilling) and
// emits the result in batches once the input is consumed.
type hashAggOp struct {
	env      *Env
	in       Operator
	keys     []*Evaluator
	keyTypes []types.T
	aggs     []plan.Agg
	args     []*Evaluator // nil for count(*)
	schema   *arrow.Schema
	mode     keyMode
	maxGroup int

	ints      map[int64]int32
	texts     map[string]int32
	encoded   map[string]int32
	nullGroup int32 // group of the NULL key (keyInt/keyText), -1 if none
	keyBuf    []byte
	keyOut    []array.Builder
	ngroups   int
	accs      []accumulator
	seen      []map[string]struct{} // per DISTINCT aggregate
	ids       []int32
	keep      []bool

	// order, when set (a worker of a parallel aggregate), is the source
	// sequence number of the batch being folded; first then records the
	// position (sequence<<32 | row) of every group's first row, the order
	// the merged groups are emitted in.
	order *int64
	first []int64

	out  arrow.RecordBatch
	pos  int64
	done bool
}

func newAggregate(env *Env, a *plan.Aggregate) (Operator, error) {
	if sh := parallelPlan(env, a); sh != nil {
		src, err := Build(env, sh.src)
		if err != nil {
			return nil, err
		}
		return newParallelAgg(env, a, sh.chain, src)
	}
	in, err := Build(env, a.Input)
	if err != nil {
		return nil, err
	}
	return newHashAgg(env, in, a)
}

// newHashAgg builds the hash aggregate of a over in (a.Input is not used);
// it takes ownership of in.
func newHashAgg(env *Env, in Operator, a *plan.Aggregate) (Operator, error) {
	var err error
	op := &hashAggOp{env: env, in: in, aggs: a.Aggs, args: make([]*Evaluator, len(a.Aggs)),
		schema: schemaOf(a.Cols), maxGroup: env.MaxGroups, nullGroup: -1,
		seen: make([]map[string]struct{}, len(a.Aggs))}
	if op.maxGroup <= 0 {
		op.maxGroup = DefaultMaxGroups
	}
	for _, k := range a.GroupBy {
		ev, err := Compile(env.Mem, k)
		if err != nil {
			op.Close()
			return nil, err
		}
		op.keys = append(op.keys, ev)
		op.keyTypes = append(op.keyTypes, k.Type())
		op.keyOut = append(op.keyOut, array.NewBuilder(memOr(env.Mem), k.Type().Arrow()))
	}
	switch {
	case len(a.GroupBy) == 0:
		op.mode = keyScalar
	case len(a.GroupBy) == 1 && (a.GroupBy[0].Type() == types.Int4 || a.GroupBy[0].Type() == types.Int8):
		op.mode, op.ints = keyInt, map[int64]int32{}
	case len(a.GroupBy) == 1 && a.GroupBy[0].Type() == types.Text:
		op.mode, op.texts = keyText, map[string]int32{}
	default:
		op.mode, op.encoded = keyEncoded, map[string]int32{}
	}
	for i, agg := range a.Aggs {
		if agg.Arg != nil {
			if op.args[i], err = Compile(env.Mem, agg.Arg); err != nil {
				op.Close()
				return nil, err
			}
		}
		if agg.Distinct {
			op.seen[i] = map[string]struct{}{}
		}
		acc := newAccumulator(agg)
		if la, ok := acc.(*listAcc); ok {
			la.mem = memOr(env.Mem)
		}
		op.accs = append(op.accs, acc)
	}
	if op.mode == keyScalar {
		op.grow()
	}
	return op, nil
}

func (a *hashAggOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if a.done {
		return nil, nil
	}
	if a.out == nil {
		if err := a.consume(ctx); err != nil {
			return nil, err
		}
		if a.ngroups == 0 {
			a.done = true
			return nil, nil
		}
		out, err := a.result()
		if err != nil {
			return nil, err
		}
		a.out = out
	}
	n := min(int64(a.env.batchRows()), a.out.NumRows()-a.pos)
	b := a.out.NewSlice(a.pos, a.pos+n)
	a.pos += n
	if a.pos >= a.out.NumRows() {
		a.done = true
	}
	return b, nil
}

// consume reads the whole input into the groups.
func (a *hashAggOp) consume(ctx context.Context) error {
	for {
		b, err := a.in.Next(ctx)
		if err != nil {
			return err
		}
		if b == nil {
			return nil
		}
		err = a.add(b)
		b.Release()
		if err != nil {
			return err
		}
	}
}

// add folds one batch into the groups.
func (a *hashAggOp) add(b arrow.RecordBatch) error {
	n := int(b.NumRows())
	keys := make([]arrow.Array, len(a.keys))
	defer releaseAll(keys)
	for i, ev := range a.keys {
		var err error
		if keys[i], err = ev.Eval(b); err != nil {
			return err
		}
	}
	if err := a.groupIDs(keys, n); err != nil {
		return err
	}
	for i, acc := range a.accs {
		var arg arrow.Array
		if a.args[i] != nil {
			var err error
			if arg, err = a.args[i].Eval(b); err != nil {
				return err
			}
		}
		var keep []bool
		if a.seen[i] != nil {
			keep = a.distinct(a.seen[i], arg, a.aggs[i].Arg.Type())
		}
		var err error
		if la, ok := acc.(*listAcc); ok {
			err = la.orderKeys(b)
		}
		if err == nil {
			err = acc.update(a.ids, arg, keep)
		}
		if arg != nil {
			arg.Release()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// distinct marks the rows whose (group, value) pair is new.
func (a *hashAggOp) distinct(seen map[string]struct{}, arg arrow.Array, t types.T) []bool {
	a.keep = append(a.keep[:0], make([]bool, arg.Len())...)
	for i, g := range a.ids {
		if arg.IsNull(i) {
			continue
		}
		a.keyBuf = binary.BigEndian.AppendUint32(a.keyBuf[:0], uint32(g))
		a.keyBuf = appendKeyTyped(a.keyBuf, t, arg, i)
		if _, ok := seen[string(a.keyBuf)]; !ok {
			seen[string(a.keyBuf)] = struct{}{}
			a.keep[i] = true
		}
	}
	return a.keep
}

// groupIDs sets a.ids to the group of every row, creating groups.
func (a *hashAggOp) groupIDs(keys []arrow.Array, n int) error {
	a.ids = append(a.ids[:0], make([]int32, n)...)
	ids := a.ids
	switch a.mode {
	case keyScalar:
	case keyInt:
		k := keys[0]
		var vals []int64
		if x, ok := k.(*array.Int32); ok {
			v32 := x.Int32Values()
			vals = make([]int64, n)
			for i, v := range v32 {
				vals[i] = int64(v)
			}
		} else {
			vals = k.(*array.Int64).Int64Values()
		}
		noNulls := k.NullN() == 0
		for i, v := range vals {
			if !noNulls && k.IsNull(i) {
				g, err := a.nullKey(keys, i)
				if err != nil {
					return err
				}
				ids[i] = g
				continue
			}
			g, ok := a.ints[v]
			if !ok {
				var err error
				if g, err = a.newGroup(keys, i); err != nil {
					return err
				}
				a.ints[v] = g
			}
			ids[i] = g
		}
	case keyText:
		k := keys[0].(*array.String)
		noNulls := k.NullN() == 0
		for i := range n {
			if !noNulls && k.IsNull(i) {
				g, err := a.nullKey(keys, i)
				if err != nil {
					return err
				}
				ids[i] = g
				continue
			}
			v := k.Value(i)
			g, ok := a.texts[v]
			if !ok {
				var err error
				if g, err = a.newGroup(keys, i); err != nil {
					return err
				}
				a.texts[strings.Clone(v)] = g
			}
			ids[i] = g
		}
	case keyEncoded:
		for i := range n {
			a.keyBuf = a.keyBuf[:0]
			for j, k := range keys {
				a.keyBuf = appendKeyTyped(a.keyBuf, a.keyTypes[j], k, i)
			}
			g, ok := a.encoded[string(a.keyBuf)]
			if !ok {
				var err error
				if g, err = a.newGroup(keys, i); err != nil {
					return err
				}
				a.encoded[string(a.keyBuf)] = g
			}
			ids[i] = g
		}
	}
	return nil
}

func (a *hashAggOp) nullKey(keys []arrow.Array, row int) (int32, error) {
	if a.nullGroup < 0 {
		g, err := a.newGroup(keys, row)
		if err != nil {
			return 0, err
		}
		a.nullGroup = g
	}
	return a.nullGroup, nil
}

// newGroup adds the group of row's keys.
func (a *hashAggOp) newGroup(keys []arrow.Array, row int) (int32, error) {
	if a.ngroups >= a.maxGroup {
		return 0, sqlerr.New(CodeOutOfMemory, "out of memory: aggregation exceeds %d groups", a.maxGroup).
			WithHint("Hash aggregation keeps every group in memory; reduce the number of groups.")
	}
	for c, k := range keys {
		appendValue(a.keyOut[c], valueAt(k, row))
	}
	if a.order != nil {
		a.first = append(a.first, *a.order<<32|int64(row))
	}
	return a.grow(), nil
}

func (a *hashAggOp) grow() int32 {
	g := int32(a.ngroups)
	a.ngroups++
	for _, acc := range a.accs {
		acc.grow()
	}
	return g
}

// appendKey appends an order-free, self-delimiting encoding of row i of
// arr to buf: NULL is one byte; floats are normalized so that -0 = 0 and
// every NaN is one key, as PostgreSQL groups them.
func appendKey(buf []byte, arr arrow.Array, i int) []byte {
	if arr.IsNull(i) {
		return append(buf, 0)
	}
	buf = append(buf, 1)
	switch x := arr.(type) {
	case *array.Boolean:
		if x.Value(i) {
			return append(buf, 1)
		}
		return append(buf, 0)
	case *array.Int32:
		return binary.BigEndian.AppendUint64(buf, uint64(int64(x.Value(i))))
	case *array.Int64:
		return binary.BigEndian.AppendUint64(buf, uint64(x.Value(i)))
	case *array.Float64:
		f := x.Value(i)
		switch {
		case f == 0:
			f = 0
		case math.IsNaN(f):
			f = math.NaN()
		}
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(f))
	case *array.String:
		s := x.Value(i)
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		return append(buf, s...)
	case *array.Int16:
		return binary.BigEndian.AppendUint64(buf, uint64(int64(x.Value(i))))
	}
	// Other fixed-width types (dates, times, uuids, int2 in joins) by
	// their canonical text.
	s := arr.ValueStr(i)
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// result assembles the keys and aggregates of every group into one batch.
func (a *hashAggOp) result() (arrow.RecordBatch, error) {
	mem := memOr(a.env.Mem)
	cols := make([]arrow.Array, 0, len(a.keyOut)+len(a.accs))
	for _, b := range a.keyOut {
		cols = append(cols, b.NewArray())
	}
	for _, acc := range a.accs {
		arr, err := acc.build(mem)
		if err != nil {
			releaseAll(cols)
			return nil, err
		}
		cols = append(cols, arr)
	}
	return newBatch(a.schema, cols, a.ngroups), nil
}

func (a *hashAggOp) Close() {
	for _, ev := range a.keys {
		ev.Release()
	}
	for _, ev := range a.args {
		if ev != nil {
			ev.Release()
		}
	}
	for _, acc := range a.accs {
		if la, ok := acc.(*listAcc); ok {
			la.release()
		}
	}
	for _, b := range a.keyOut {
		b.Release()
	}
	if a.out != nil {
		a.out.Release()
		a.out = nil
	}
	a.in.Close()
}
