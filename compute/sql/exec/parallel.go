package exec

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Morsel-style parallel aggregation.
//
// An Aggregate over a chain of Filters and Projects over any source runs
// on Env.Parallelism workers: the source (a scan, a join, ...) is built
// once and shared; each worker pulls the next batch from it under a lock,
// runs its own compiled copy of the chain's expressions and folds the
// batch into its own partial hash aggregate. Once the source ends, the
// partial states merge into one result on the statement's goroutine.
//
// Results are the serial ones, row for row: only aggregates whose partial
// states merge exactly run in parallel (no float sums, no DISTINCT, no
// string_agg/array_agg, no min/max of a type whose equal values can print
// differently); groups come out in the order of their first row in the
// source, as the serial hash aggregate emits them (every batch carries its
// source sequence number, every group the position of its first row).

// parallelism is the number of workers a parallel aggregate runs on.
func (e *Env) parallelism() int {
	if e.Parallelism <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return e.Parallelism
}

// parallelShape is an Aggregate the parallel path handles: chain (top
// first) is its Filters and Projects, src the node below them.
type parallelShape struct {
	chain []plan.Node
	src   plan.Node
}

// parallelPlan returns the shape of a when it may run in parallel, nil
// when it runs serially.
func parallelPlan(env *Env, a *plan.Aggregate) *parallelShape {
	if env.parallelism() < 2 || env.Profile != nil {
		return nil
	}
	for _, agg := range a.Aggs {
		if !mergeableAgg(agg) {
			return nil
		}
	}
	exprs := slices.Clone(a.GroupBy)
	for _, agg := range a.Aggs {
		if agg.Arg != nil {
			exprs = append(exprs, agg.Arg)
		}
	}
	sh := &parallelShape{}
	n := a.Input
loop:
	for {
		switch x := n.(type) {
		case *plan.Filter:
			exprs = append(exprs, x.Pred)
			sh.chain = append(sh.chain, x)
			n = x.Input
		case *plan.Project:
			exprs = append(exprs, x.Exprs...)
			sh.chain = append(sh.chain, x)
			n = x.Input
		default:
			break loop
		}
	}
	switch n.(type) {
	case *plan.Values, *plan.WorkScan, *plan.RecursiveCTE, *plan.Series:
		return nil // small or bound to the statement's goroutine: not worth it
	}
	for _, e := range exprs {
		if !parallelSafe(e) {
			return nil
		}
	}
	sh.src = n
	return sh
}

// parallelSafe reports whether e may be evaluated by several workers over
// different batches: sequence calls (nextval) depend on row order.
func parallelSafe(e plan.Expr) bool {
	ok := true
	plan.Walk(e, func(x plan.Expr) bool {
		switch x.(type) {
		case *plan.ColRef, *plan.Const, *plan.Arith, *plan.Cmp, *plan.And, *plan.Or, *plan.Not,
			*plan.IsNull, *plan.Cast, *plan.Func, *plan.Case, *plan.Coalesce, *plan.FirstNotNull:
			return true
		}
		ok = false
		return false
	})
	return ok
}

// mergeableAgg reports whether agg's partial states merge into exactly the
// serial result.
func mergeableAgg(agg plan.Agg) bool {
	if agg.Distinct || len(agg.OrderBy) > 0 {
		return false
	}
	switch acc := newAccumulator(agg).(type) {
	case *countAcc, *intSumAcc, *boolAcc, *decimalSumAcc,
		*minMaxAcc[int32], *minMaxAcc[int64], *minMaxAcc[string]:
		return true
	case *carrierSumAcc:
		return acc.argT == types.Interval // float4 sums depend on the order
	case *carrierMinMaxAcc:
		switch acc.t {
		case types.Int2, types.Date, types.Time, types.Timestamp, types.TimestampTZ, types.UUID, types.Bytea:
			return true // equal values are identical
		}
	}
	return false
}

// parallelAggOp is a hash aggregate run by several workers over one shared
// source. Next runs the workers to the end before it returns, so no
// goroutine outlives a Next call.
type parallelAggOp struct {
	env     *Env
	src     Operator // shared by the workers, under mu
	workers []*aggWorker
	final   *hashAggOp // the merged groups (over an empty input)

	mu      sync.Mutex
	seq     int64 // sequence number of the next source batch
	srcDone bool
	ahead   []arrow.RecordBatch // source batches pulled before the workers start

	errMu sync.Mutex
	err   error // the first worker (or merge) error

	merged   bool
	parallel bool // the workers ran on goroutines of their own
}

// aggWorker is one worker: its partial aggregate reads its own chain of
// filters and projects, whose leaf is the worker itself pulling batches
// from the shared source.
type aggWorker struct {
	p   *parallelAggOp
	seq int64 // source sequence number of the batch last pulled
	agg *hashAggOp
}

// newParallelAgg builds the parallel aggregate of a over the nodes of
// chain (top first; their inputs are not used) over src, which it owns.
func newParallelAgg(env *Env, a *plan.Aggregate, chain []plan.Node, src Operator) (Operator, error) {
	p := &parallelAggOp{env: env, src: src}
	final, err := newHashAgg(env, emptyOp{}, a)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.final = final.(*hashAggOp)
	for range env.parallelism() {
		w := &aggWorker{p: p}
		in, err := buildChain(env, chain, w)
		if err != nil {
			p.Close()
			return nil, err
		}
		op, err := newHashAgg(env, in, a)
		if err != nil {
			p.Close()
			return nil, err
		}
		w.agg = op.(*hashAggOp)
		w.agg.order = &w.seq
		p.workers = append(p.workers, w)
	}
	return p, nil
}

// buildChain builds the filters and projects of chain (top first) over src.
func buildChain(env *Env, chain []plan.Node, src Operator) (Operator, error) {
	op := src
	for i := len(chain) - 1; i >= 0; i-- {
		switch x := chain[i].(type) {
		case *plan.Filter:
			pred, err := Compile(env.Mem, x.Pred)
			if err != nil {
				op.Close()
				return nil, err
			}
			op = &filterOp{env: env, in: op, pred: pred}
		case *plan.Project:
			p := &projectOp{in: op, schema: schemaOf(x.Cols)}
			for _, e := range x.Exprs {
				ev, err := Compile(env.Mem, e)
				if err != nil {
					p.Close()
					return nil, err
				}
				p.exprs = append(p.exprs, ev)
			}
			op = p
		}
		if env.Budget != nil {
			op = &budgetOp{in: op, b: env.Budget}
		}
	}
	return op, nil
}

// Next pulls the shared source's next batch for the worker.
func (w *aggWorker) Next(ctx context.Context) (arrow.RecordBatch, error) {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ahead) > 0 {
		b := p.ahead[0]
		p.ahead = p.ahead[1:]
		w.seq = p.seq
		p.seq++
		return b, nil
	}
	if p.srcDone {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := p.src.Next(ctx)
	if err != nil || b == nil {
		p.srcDone = true
		return nil, err
	}
	w.seq = p.seq
	p.seq++
	return b, nil
}

// Close does nothing: the parallel aggregate closes the shared source.
func (w *aggWorker) Close() {}

func (p *parallelAggOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if !p.merged {
		p.merged = true
		if p.err = p.run(ctx); p.err == nil {
			p.err = p.merge()
		}
	}
	if p.err != nil {
		return nil, p.err // again on every call: the groups are incomplete
	}
	return p.final.Next(ctx)
}

// run consumes the source with every worker and returns the first error;
// an error in one worker cancels the others. A source that ends within
// its first two batches (a point or small range read) is folded by one
// worker on the statement's goroutine: no goroutine starts.
func (p *parallelAggOp) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range 3 { // two batches and the end
		b, err := p.src.Next(ctx)
		if err != nil {
			return err
		}
		if b == nil {
			p.srcDone = true
			return p.workers[0].agg.consume(ctx)
		}
		p.ahead = append(p.ahead, b)
	}
	p.parallel = true
	var wg sync.WaitGroup
	for _, w := range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					p.fail(sqlerr.New(sqlerr.CodeInternalError, "internal error: %v", r))
					cancel()
				}
			}()
			if err := w.agg.consume(ctx); err != nil {
				p.fail(err)
				cancel()
			}
		}()
	}
	wg.Wait()
	return p.err
}

// fail records the first worker error (later ones are mostly the
// cancellation it caused).
func (p *parallelAggOp) fail(err error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// merge folds every worker's groups into p.final, creating the groups in
// the order of their first row in the source.
func (p *parallelAggOp) merge() error {
	f := p.final
	if f.mode == keyScalar {
		dst := []int32{0}
		for _, w := range p.workers {
			if err := mergeAccs(f, w.agg, dst); err != nil {
				return err
			}
		}
		return nil
	}
	keyCols := make([][]arrow.Array, len(p.workers))
	defer func() {
		for _, k := range keyCols {
			releaseAll(k)
		}
	}()
	dsts := make([][]int32, len(p.workers))
	for wi, w := range p.workers {
		for _, b := range w.agg.keyOut {
			keyCols[wi] = append(keyCols[wi], b.NewArray())
		}
		dsts[wi] = make([]int32, w.agg.ngroups)
	}
	// Every worker creates its groups in source order, so its first
	// positions ascend: merging the workers' lists visits every group in
	// the order of its first row.
	next := make([]int, len(p.workers))
	for {
		wi := -1
		for i, w := range p.workers {
			if next[i] < len(w.agg.first) && (wi < 0 || w.agg.first[next[i]] < p.workers[wi].agg.first[next[wi]]) {
				wi = i
			}
		}
		if wi < 0 {
			break
		}
		g := next[wi]
		next[wi]++
		var err error
		if dsts[wi][g], err = f.groupOf(keyCols[wi], g); err != nil {
			return err
		}
	}
	for wi, w := range p.workers {
		if err := mergeAccs(f, w.agg, dsts[wi]); err != nil {
			return err
		}
	}
	return nil
}

// groupOf returns the group of row's keys, creating it: groupIDs for one
// row.
func (a *hashAggOp) groupOf(keys []arrow.Array, row int) (int32, error) {
	if a.mode != keyEncoded && keys[0].IsNull(row) {
		return a.nullKey(keys, row)
	}
	var g int32
	var ok bool
	switch a.mode {
	case keyInt:
		var v int64
		if x, is32 := keys[0].(*array.Int32); is32 {
			v = int64(x.Value(row))
		} else {
			v = keys[0].(*array.Int64).Value(row)
		}
		if g, ok = a.ints[v]; !ok {
			g, err := a.newGroup(keys, row)
			if err != nil {
				return 0, err
			}
			a.ints[v] = g
			return g, nil
		}
	case keyText:
		v := keys[0].(*array.String).Value(row)
		if g, ok = a.texts[v]; !ok {
			g, err := a.newGroup(keys, row)
			if err != nil {
				return 0, err
			}
			a.texts[strings.Clone(v)] = g
			return g, nil
		}
	default:
		a.keyBuf = a.keyBuf[:0]
		for j, k := range keys {
			a.keyBuf = appendKeyTyped(a.keyBuf, a.keyTypes[j], k, row)
		}
		if g, ok = a.encoded[string(a.keyBuf)]; !ok {
			g, err := a.newGroup(keys, row)
			if err != nil {
				return 0, err
			}
			a.encoded[string(a.keyBuf)] = g
			return g, nil
		}
	}
	return g, nil
}

// mergeAccs folds the accumulators of src into dst; group h of src goes to
// group into[h] of dst.
func mergeAccs(dst, src *hashAggOp, into []int32) error {
	for i, acc := range dst.accs {
		if err := acc.(merger).merge(src.accs[i], into); err != nil {
			return err
		}
	}
	return nil
}

func (p *parallelAggOp) Close() {
	for _, b := range p.ahead {
		b.Release()
	}
	p.ahead = nil
	for _, w := range p.workers {
		w.agg.Close()
	}
	if p.final != nil {
		p.final.Close()
	}
	p.src.Close()
}

// emptyOp is an input with no rows.
type emptyOp struct{}

func (emptyOp) Next(context.Context) (arrow.RecordBatch, error) { return nil, nil }

func (emptyOp) Close() {}
