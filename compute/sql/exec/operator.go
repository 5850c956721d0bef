// Package exec is the last stage of the query path: it runs bound plans.
// Queries run as a tree of vectorized operators that exchange Arrow record
// batches through a Volcano-style Next; expressions are compiled once per
// statement (Compile) and evaluated once per batch. Statements that write
// (INSERT, CREATE/DROP TABLE) produce the mutations the caller commits.
//
// Ownership: a batch returned by Next belongs to the caller, who releases
// it; operators release everything they hold in Close, which is safe to call
// once whether or not the operator was drained.
package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/storage"
)

// Env is what operators need to run: the store and snapshot of the
// statement, the database, an allocator and the batch size.
type Env struct {
	KV   storage.KV
	Snap storage.Snapshot
	DB   uint64
	Mem  memory.Allocator
	// BatchRows is the target number of rows per batch (default 1024).
	BatchRows int
	// MaxGroups bounds the groups one hash aggregate holds in memory
	// (default DefaultMaxGroups); more answer 53200.
	MaxGroups int
	// Budget, when set, is the statement's memory account (Mem should be
	// it too): every operator fails with 53200 once it is exceeded.
	Budget *MemoryBudget
	// Profile, when set, wraps every operator to count its rows and time
	// (EXPLAIN ANALYZE).
	Profile *Profile
	// Pin, when set, receives key ranges whose change by a concurrent
	// commit must abort this transaction (schema of written tables, rows a
	// backfill or foreign-key check read); the session sends them with the
	// commit as read ranges.
	Pin func(storage.KeyRange)
	// MaxJoinRows bounds the rows one join build side, set operation,
	// window or recursive query holds in memory (default
	// DefaultMaxJoinRows); more answer 53200.
	MaxJoinRows int

	// ExactReads makes scans read only as far as their consumer asks (no
	// read-ahead), so the key ranges a SERIALIZABLE transaction records
	// end where a LIMIT stopped it.
	ExactReads bool
	// Cache, when set, is the engine's scan cache (scancache.go): table
	// scans whose table is unchanged since it was cached read it instead
	// of the KV.
	Cache *ScanCache

	// Parallelism is the number of workers an aggregate over a large
	// input runs on (parallel.go): 0 means GOMAXPROCS, 1 runs every
	// operator on the statement's goroutine.
	Parallelism int

	work  map[int]*workTable // recursive CTE working tables by plan ID
	needs scanNeeds          // columns each scan decodes (prune.go)
	// est is the statement's cardinality estimator (stats.go).
	est *plan.Estimator
}

func (e *Env) pin(start, end []byte) {
	if e.Pin != nil {
		e.Pin(storage.KeyRange{Start: start, End: end})
	}
}

func (e *Env) batchRows() int {
	if e.BatchRows <= 0 {
		return 1024
	}
	return e.BatchRows
}

// Operator produces record batches.
type Operator interface {
	// Next returns the next batch, or nil at the end. The caller owns the
	// batch. Batches are never empty.
	Next(ctx context.Context) (arrow.RecordBatch, error)
	// Close releases the operator's resources and those of its inputs.
	Close()
}

// Build turns a plan into an operator tree.
func Build(env *Env, n plan.Node) (Operator, error) {
	if env.needs == nil {
		env.needs = scanNeeds{}
		neededColumns(n, allNeed(len(n.Columns())), env.needs)
	}
	op, err := build(env, n)
	if err != nil {
		return op, err
	}
	if env.Budget != nil {
		op = &budgetOp{in: op, b: env.Budget}
	}
	if env.Profile != nil {
		op = env.Profile.wrap(n, op)
	}
	return op, nil
}

func build(env *Env, n plan.Node) (Operator, error) {
	switch x := n.(type) {
	case *plan.Scan:
		return newScan(env, x), nil
	case *plan.IndexScan:
		return newIndexScan(env, x)
	case *plan.DMLJoin:
		return newDMLJoin(env, x)
	case *plan.Values:
		return newValues(env, x)
	case *plan.Filter:
		in, err := Build(env, x.Input)
		if err != nil {
			return nil, err
		}
		pred, err := Compile(env.Mem, x.Pred)
		if err != nil {
			in.Close()
			return nil, err
		}
		return &filterOp{env: env, in: in, pred: pred}, nil
	case *plan.Project:
		return newProject(env, x)
	case *plan.Sort:
		in, err := Build(env, x.Input)
		if err != nil {
			return nil, err
		}
		return &sortOp{env: env, in: in, keys: x.Keys, schema: schemaOf(x.Columns()), colTypes: columnTypes(x.Columns())}, nil
	case *plan.Limit:
		in, err := Build(env, x.Input)
		if err != nil {
			return nil, err
		}
		return &limitOp{in: in, skip: x.Offset, left: x.Count}, nil
	case *plan.Aggregate:
		return newAggregate(env, x)
	default:
		return buildRel(env, n)
	}
}

// buildRel builds the relational operators of join.go, setop.go and
// window.go.
func buildRel(env *Env, n plan.Node) (Operator, error) {
	switch x := n.(type) {
	case *plan.Join:
		return newJoin(env, x)
	case *plan.MaxOneRow:
		in, err := Build(env, x.Input)
		if err != nil {
			return nil, err
		}
		return &maxOneRowOp{in: in}, nil
	case *plan.SetOp:
		return newSetOp(env, x)
	case *plan.DistinctOn:
		in, err := Build(env, x.Input)
		if err != nil {
			return nil, err
		}
		return &distinctOnOp{env: env, in: in, cols: x.Keys, schema: schemaOf(x.Columns()), seen: map[string]struct{}{}}, nil
	case *plan.RecursiveCTE:
		return newRecursive(env, x)
	case *plan.WorkScan:
		return newWorkScan(env, x)
	case *plan.Window:
		return newWindow(env, x)
	case *plan.Series:
		return newSeries(env, x)
	}
	return nil, fmt.Errorf("exec: cannot build %T", n)
}

// schemaOf returns the Arrow schema of plan columns.
func schemaOf(cols []plan.Column) *arrow.Schema {
	fs := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fs[i] = arrow.Field{Name: c.Name, Type: c.T.Arrow(), Nullable: true}
	}
	return arrow.NewSchema(fs, nil)
}

// Schema returns the Arrow schema of a plan node's output.
func Schema(n plan.Node) *arrow.Schema { return schemaOf(n.Columns()) }

// filterOp keeps the rows where the predicate is true.
type filterOp struct {
	env   *Env
	in    Operator
	pred  *Evaluator
	nulls nullColumns // the NULL columns of its output batches
}

func (f *filterOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		b, err := f.in.Next(ctx)
		if err != nil || b == nil {
			return nil, err
		}
		out, err := f.apply(ctx, b)
		b.Release()
		if err != nil || out != nil {
			return out, err
		}
	}
}

// apply filters one batch; nil when no row passes.
func (f *filterOp) apply(ctx context.Context, b arrow.RecordBatch) (arrow.RecordBatch, error) {
	mask, err := f.pred.Eval(b)
	if err != nil {
		return nil, err
	}
	defer mask.Release()
	selected := countTrue(mask)
	switch {
	case selected == 0:
		return nil, nil
	case selected == int(b.NumRows()):
		b.Retain()
		return b, nil
	case b.NumCols() == 0:
		return newBatch(b.Schema(), nil, selected), nil
	}
	cctx := compute.WithAllocator(ctx, f.env.Mem)
	out, err := filterBatch(cctx, memOr(f.env.Mem), b, mask, &f.nulls)
	if err != nil {
		return nil, fmt.Errorf("exec: filter: %w", err)
	}
	return out, nil
}

func (f *filterOp) Close() {
	f.nulls.release()
	f.pred.Release()
	f.in.Close()
}

// projectOp computes output columns from input batches.
type projectOp struct {
	in     Operator
	exprs  []*Evaluator
	schema *arrow.Schema
}

func newProject(env *Env, p *plan.Project) (Operator, error) {
	in, err := Build(env, p.Input)
	if err != nil {
		return nil, err
	}
	op := &projectOp{in: in, schema: schemaOf(p.Cols)}
	for _, e := range p.Exprs {
		ev, err := Compile(env.Mem, e)
		if err != nil {
			op.Close()
			return nil, err
		}
		op.exprs = append(op.exprs, ev)
	}
	return op, nil
}

func (p *projectOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := p.in.Next(ctx)
	if err != nil || b == nil {
		return nil, err
	}
	defer b.Release()
	cols := make([]arrow.Array, len(p.exprs))
	for i, ev := range p.exprs {
		if cols[i], err = ev.Eval(b); err != nil {
			releaseAll(cols)
			return nil, err
		}
	}
	return newBatch(p.schema, cols, int(b.NumRows())), nil
}

func (p *projectOp) Close() {
	for _, e := range p.exprs {
		e.Release()
	}
	p.in.Close()
}

// limitOp skips then passes a bounded number of rows, and stops pulling its
// input as soon as the limit is reached.
type limitOp struct {
	in   Operator
	skip int64
	left int64 // < 0: unlimited
}

func (l *limitOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	for l.left != 0 {
		b, err := l.in.Next(ctx)
		if err != nil || b == nil {
			return nil, err
		}
		n := b.NumRows()
		if l.skip >= n {
			l.skip -= n
			b.Release()
			continue
		}
		start, end := l.skip, n
		l.skip = 0
		if l.left >= 0 && end-start > l.left {
			end = start + l.left
		}
		if l.left > 0 {
			l.left -= end - start
		}
		if start == 0 && end == n {
			return b, nil
		}
		out := b.NewSlice(start, end)
		b.Release()
		return out, nil
	}
	return nil, nil
}

func (l *limitOp) Close() { l.in.Close() }

// Drain runs op to the end, calling fn with every batch (which fn must not
// retain without Retain), then closes op.
func Drain(ctx context.Context, op Operator, fn func(arrow.RecordBatch) error) error {
	defer op.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := op.Next(ctx)
		if err != nil || b == nil {
			return err
		}
		err = fn(b)
		b.Release()
		if err != nil {
			return err
		}
	}
}

// countTrue counts rows that are valid and true in a Boolean array.
func countTrue(a arrow.Array) int {
	b := a.(*array.Boolean)
	n := 0
	for i := range b.Len() {
		if b.Value(i) && b.IsValid(i) {
			n++
		}
	}
	return n
}

// memOr returns mem, or the default allocator when nil.
func memOr(mem memory.Allocator) memory.Allocator {
	if mem == nil {
		return memory.DefaultAllocator
	}
	return mem
}
