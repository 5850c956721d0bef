package exec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// parCols are the columns of the parallel aggregation tests' input.
var parCols = []plan.Column{
	{Name: "k", T: types.Int8},
	{Name: "s", T: types.Text},
	{Name: "v", T: types.Int8},
	{Name: "i", T: types.Int4},
	{Name: "d", T: types.Numeric},
	{Name: "b", T: types.Bool},
	{Name: "dt", T: types.Date},
	{Name: "f", T: types.Float8},
}

func parRef(i int) *plan.ColRef {
	return &plan.ColRef{Idx: i, Name: parCols[i].Name, T: parCols[i].T}
}

// parRows makes n random rows (about 1 in 10 values NULL) in batches of
// batch rows. Numerics come at scales 0 to 3 (so 1.5 and 1.50 both occur)
// and, one in bigEvery (0: never), too large for the scaled-int64 fast
// path.
func parRows(mem memory.Allocator, n, batch, keys, bigEvery int, seed uint64) *sourceOp {
	r := rand.New(rand.NewPCG(seed, 7))
	schema := schemaOf(parCols)
	src := &sourceOp{}
	for start := 0; start < n; start += batch {
		rows := min(batch, n-start)
		bs := make([]array.Builder, len(parCols))
		for c, col := range parCols {
			bs[c] = array.NewBuilder(mem, col.T.Arrow())
		}
		null := func() bool { return r.IntN(10) == 0 }
		for range rows {
			vals := []any{int64(r.IntN(keys)), fmt.Sprintf("s%d", r.IntN(keys/3+1)), int64(r.IntN(1000)) - 500,
				int32(r.IntN(100)), nil, r.IntN(3) > 0, types.DateValue(r.IntN(20000)), r.Float64()}
			u := big.NewInt(int64(r.IntN(100000)) - 50000)
			if bigEvery > 0 && r.IntN(bigEvery) == 0 {
				u.Mul(u, big.NewInt(math.MaxInt64/1000))
			}
			vals[4] = types.NewDecimal(u, int32(r.IntN(4)))
			for c, v := range vals {
				if null() {
					v = nil
				}
				types.Append(bs[c], v)
			}
		}
		cols := make([]arrow.Array, len(bs))
		for c, b := range bs {
			cols[c] = b.NewArray()
			b.Release()
		}
		src.batches = append(src.batches, newBatch(schema, cols, rows))
	}
	return src
}

// parAggs are the aggregates the parallel path supports, over parCols.
func parAggs() []plan.Agg {
	k, s, v, i, d, b, dt := parRef(0), parRef(1), parRef(2), parRef(3), parRef(4), parRef(5), parRef(6)
	return []plan.Agg{
		{Func: plan.CountStar, T: types.Int8},
		{Func: plan.Count, Arg: s, T: types.Int8},
		{Func: plan.Sum, Arg: i, T: types.Int8},
		{Func: plan.Sum, Arg: v, T: types.Numeric},
		{Func: plan.Avg, Arg: v, T: types.Numeric},
		{Func: plan.Sum, Arg: d, T: types.Numeric},
		{Func: plan.Avg, Arg: d, T: types.Numeric},
		{Func: plan.Min, Arg: v, T: types.Int8},
		{Func: plan.Max, Arg: i, T: types.Int4},
		{Func: plan.Min, Arg: s, T: types.Text},
		{Func: plan.Max, Arg: s, T: types.Text},
		{Func: plan.Min, Arg: dt, T: types.Date},
		{Func: plan.Max, Arg: dt, T: types.Date},
		{Func: plan.BoolAnd, Arg: b, T: types.Bool},
		{Func: plan.BoolOr, Arg: b, T: types.Bool},
		{Func: plan.Max, Arg: k, T: types.Int8},
	}
}

// aggCols are the output columns of an aggregate with keys and aggs.
func aggCols(keys []plan.Expr, aggs []plan.Agg) []plan.Column {
	var cols []plan.Column
	for i, k := range keys {
		cols = append(cols, plan.Column{Name: fmt.Sprintf("key%d", i), T: k.Type()})
	}
	for _, a := range aggs {
		cols = append(cols, plan.Column{Name: a.Func.String(), T: a.T})
	}
	return cols
}

// drainRows runs op to the end and renders its rows, in order.
func drainRows(ctx context.Context, op Operator) ([]string, error) {
	var out []string
	err := Drain(ctx, op, func(b arrow.RecordBatch) error {
		for r := range int(b.NumRows()) {
			var sb strings.Builder
			for c := range int(b.NumCols()) {
				col := b.Column(c)
				if col.IsNull(r) {
					sb.WriteString("NULL|")
				} else {
					sb.WriteString(col.ValueStr(r) + "|")
				}
			}
			out = append(out, sb.String())
		}
		return nil
	})
	return out, err
}

// runBoth runs a over the chain and the rows of seed serially and in
// parallel, and returns both results.
func runBoth(t *testing.T, mem memory.Allocator, a *plan.Aggregate, chain []plan.Node, seed uint64) (serial, parallel []string, serr, perr error) {
	t.Helper()
	ctx := context.Background()
	env := &Env{Mem: mem, BatchRows: 512}
	in, err := buildChain(env, chain, parRows(mem, 5000, 97, 300, 50, seed))
	if err != nil {
		t.Fatal(err)
	}
	op, err := newHashAgg(env, in, a)
	if err != nil {
		t.Fatal(err)
	}
	serial, serr = drainRows(ctx, op)
	penv := &Env{Mem: mem, BatchRows: 512, Parallelism: 4}
	if parallelPlan(penv, a) == nil {
		t.Fatalf("aggregate %v does not take the parallel path", a.Aggs)
	}
	pop, err := newParallelAgg(penv, a, chain, parRows(mem, 5000, 97, 300, 50, seed))
	if err != nil {
		t.Fatal(err)
	}
	parallel, perr = drainRows(ctx, pop)
	return serial, parallel, serr, perr
}

// TestParallelAggMatchesSerial checks that the parallel aggregate answers
// exactly what the serial one does, rows and order, for every supported
// aggregate over random ints, numerics, text, dates and NULLs, grouped by
// several kinds of keys, under a filter and a project.
func TestParallelAggMatchesSerial(t *testing.T) {
	k, s, d := parRef(0), parRef(1), parRef(4)
	filter := &plan.Filter{Pred: &plan.Or{
		L: &plan.IsNull{X: parRef(2)},
		R: &plan.Cmp{Op: plan.GT, L: parRef(2), R: &plan.Const{Value: int64(-300), T: types.Int8}},
	}}
	// The project keeps every column and replaces v by v * 3.
	var exprs []plan.Expr
	for i := range parCols {
		exprs = append(exprs, parRef(i))
	}
	exprs[2] = &plan.Arith{Op: plan.Mul, L: parRef(2), R: &plan.Const{Value: int64(3), T: types.Int8}, T: types.Int8}
	project := &plan.Project{Exprs: exprs, Cols: parCols}
	for _, tc := range []struct {
		name  string
		keys  []plan.Expr
		chain []plan.Node
	}{
		{"scalar", nil, nil},
		{"scalar filtered", nil, []plan.Node{filter}},
		{"int key", []plan.Expr{k}, []plan.Node{project, filter}},
		{"text key", []plan.Expr{s}, []plan.Node{filter, project}},
		{"two keys", []plan.Expr{k, s}, []plan.Node{filter}},
		{"numeric key", []plan.Expr{d}, nil},
		{"bool key", []plan.Expr{parRef(5)}, []plan.Node{project}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			aggs := parAggs()
			a := &plan.Aggregate{GroupBy: tc.keys, Aggs: aggs, Cols: aggCols(tc.keys, aggs)}
			for seed := range uint64(3) {
				serial, parallel, serr, perr := runBoth(t, mem, a, tc.chain, seed)
				if serr != nil || perr != nil {
					t.Fatalf("serial error %v, parallel error %v", serr, perr)
				}
				if len(serial) == 0 {
					t.Fatal("no rows")
				}
				if strings.Join(serial, "\n") != strings.Join(parallel, "\n") {
					t.Fatalf("seed %d: parallel result differs\nserial:\n%s\nparallel:\n%s", seed,
						strings.Join(serial[:min(5, len(serial))], "\n"), strings.Join(parallel[:min(5, len(parallel))], "\n"))
				}
			}
		})
	}
}

// TestParallelAggSmallInput checks that an input of one or two batches
// is folded on the caller's goroutine, with the serial answer, and that
// three batches start the workers.
func TestParallelAggSmallInput(t *testing.T) {
	aggs := parAggs()
	keys := []plan.Expr{parRef(0)}
	a := &plan.Aggregate{GroupBy: keys, Aggs: aggs, Cols: aggCols(keys, aggs)}
	for _, tc := range []struct {
		rows     int
		parallel bool
	}{{0, false}, {50, false}, {150, false}, {250, true}} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		env := &Env{Mem: mem, Parallelism: 2}
		in, err := buildChain(env, nil, parRows(mem, tc.rows, 100, 30, 50, 1))
		if err != nil {
			t.Fatal(err)
		}
		op, err := newHashAgg(env, in, a)
		if err != nil {
			t.Fatal(err)
		}
		serial, err := drainRows(context.Background(), op)
		if err != nil {
			t.Fatal(err)
		}
		pop, err := newParallelAgg(env, a, nil, parRows(mem, tc.rows, 100, 30, 50, 1))
		if err != nil {
			t.Fatal(err)
		}
		p := pop.(*parallelAggOp)
		parallel, err := drainRows(context.Background(), pop)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(serial, "\n") != strings.Join(parallel, "\n") {
			t.Errorf("%d rows: parallel result differs", tc.rows)
		}
		if p.parallel != tc.parallel {
			t.Errorf("%d rows: workers on goroutines %v, want %v", tc.rows, p.parallel, tc.parallel)
		}
		mem.AssertSize(t, 0)
	}
}

// TestParallelAggErrors checks that an error in one worker (division by
// zero in the batches holding k = 7) fails the statement with its
// SQLSTATE, as the serial aggregate does, and that an overflowing sum
// still answers 22003.
func TestParallelAggErrors(t *testing.T) {
	div := &plan.Project{
		Exprs: []plan.Expr{&plan.Arith{Op: plan.Div, L: parRef(2), R: &plan.Arith{Op: plan.Sub, L: parRef(0),
			R: &plan.Const{Value: int64(7), T: types.Int8}, T: types.Int8}, T: types.Int8}},
		Cols: []plan.Column{{Name: "q", T: types.Int8}},
	}
	q := &plan.ColRef{Idx: 0, Name: "q", T: types.Int8}
	huge := &plan.Arith{Op: plan.Mul, L: parRef(2), R: &plan.Const{Value: int64(math.MaxInt64 / 400), T: types.Int8}, T: types.Int8}
	for _, tc := range []struct {
		name  string
		aggs  []plan.Agg
		chain []plan.Node
		code  string
	}{
		{"division by zero", []plan.Agg{{Func: plan.Sum, Arg: q, T: types.Numeric}}, []plan.Node{div}, "22012"},
		{"int8 sum overflow", []plan.Agg{{Func: plan.Sum, Arg: huge, T: types.Int8}}, nil, "22003"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			a := &plan.Aggregate{Aggs: tc.aggs, Cols: aggCols(nil, tc.aggs)}
			_, _, serr, perr := runBoth(t, mem, a, tc.chain, 1)
			if sqlerr.Code(serr) != tc.code || sqlerr.Code(perr) != tc.code {
				t.Fatalf("serial error %v, parallel error %v; want %s from both", serr, perr, tc.code)
			}
		})
	}
}

// endlessOp produces copies of one batch until its context ends, or fails
// after failAfter batches when that is positive.
type endlessOp struct {
	b         arrow.RecordBatch
	n         int
	failAfter int
}

var errSource = errors.New("source failed")

func (e *endlessOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.n++
	if e.failAfter > 0 && e.n > e.failAfter {
		return nil, fmt.Errorf("exec: scan: %w", errSource)
	}
	e.b.Retain()
	return e.b, nil
}

func (e *endlessOp) Close() { e.b.Release() }

// TestParallelAggCancelAndSourceError checks that cancelling the statement
// stops every worker, that a source error reaches the caller, and that
// neither leaves a goroutine or a buffer behind.
func TestParallelAggCancelAndSourceError(t *testing.T) {
	before := runtime.NumGoroutine()
	aggs := parAggs()
	a := &plan.Aggregate{GroupBy: []plan.Expr{parRef(0)}, Aggs: aggs, Cols: aggCols([]plan.Expr{parRef(0)}, aggs)}
	endless := func(mem memory.Allocator, failAfter int) *endlessOp {
		src := parRows(mem, 100, 100, 10, 50, 1)
		return &endlessOp{b: src.batches[0], failAfter: failAfter}
	}
	t.Run("cancel", func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		env := &Env{Mem: mem, Parallelism: 3}
		op, err := newParallelAgg(env, a, nil, endless(mem, 0))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err = drainRows(ctx, op)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want the deadline", err)
		}
	})
	t.Run("source error", func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		env := &Env{Mem: mem, Parallelism: 3}
		op, err := newParallelAgg(env, a, nil, endless(mem, 50))
		if err != nil {
			t.Fatal(err)
		}
		if _, err = drainRows(context.Background(), op); !errors.Is(err, errSource) {
			t.Fatalf("got %v, want the source's error", err)
		}
	})
	// Workers end before Next returns: no goroutine is left.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines left behind", n-before)
	}
}

// TestParallelPlanShapes checks which aggregates run in parallel: the
// ones whose partial states merge exactly, over filters and projects
// without order-dependent expressions, when parallelism is on.
func TestParallelPlanShapes(t *testing.T) {
	scan := &plan.Values{Cols: parCols}
	over := func(n plan.Node) plan.Node {
		return &plan.Filter{Pred: &plan.Const{Value: true, T: types.Bool}, Input: n}
	}
	agg := func(in plan.Node, aggs ...plan.Agg) *plan.Aggregate {
		return &plan.Aggregate{Input: in, Aggs: aggs, Cols: aggCols(nil, aggs)}
	}
	join := &plan.Join{Left: scan, Right: scan}
	sum := plan.Agg{Func: plan.Sum, Arg: parRef(4), T: types.Numeric}
	on := &Env{Parallelism: 2}
	for _, tc := range []struct {
		name string
		env  *Env
		a    *plan.Aggregate
		want bool
	}{
		{"numeric sum over a join", on, agg(over(join), sum), true},
		{"parallelism 1", &Env{Parallelism: 1}, agg(over(join), sum), false},
		{"values source", on, agg(over(scan), sum), false},
		{"float sum", on, agg(join, plan.Agg{Func: plan.Sum, Arg: parRef(7), T: types.Float8}), false},
		{"float min", on, agg(join, plan.Agg{Func: plan.Min, Arg: parRef(7), T: types.Float8}), false},
		{"numeric max", on, agg(join, plan.Agg{Func: plan.Max, Arg: parRef(4), T: types.Numeric}), false},
		{"count distinct", on, agg(join, plan.Agg{Func: plan.Count, Arg: parRef(0), Distinct: true, T: types.Int8}), false},
		{"string_agg", on, agg(join, plan.Agg{Func: plan.StringAgg, Arg: parRef(1), T: types.Text, Sep: ","}), false},
		{"nextval", on, agg(&plan.Filter{Input: join, Pred: &plan.Cmp{Op: plan.GT, L: &plan.SeqCall{Func: "nextval", Seq: "s"},
			R: &plan.Const{Value: int64(0), T: types.Int8}}}, sum), false},
	} {
		if got := parallelPlan(tc.env, tc.a) != nil; got != tc.want {
			t.Errorf("%s: parallel %v, want %v", tc.name, got, tc.want)
		}
	}
}

// replayOp hands out retained copies of prepared batches.
type replayOp struct {
	batches []arrow.RecordBatch
	i       int
}

func (r *replayOp) Next(context.Context) (arrow.RecordBatch, error) {
	if r.i == len(r.batches) {
		return nil, nil
	}
	b := r.batches[r.i]
	r.i++
	b.Retain()
	return b, nil
}

func (r *replayOp) Close() {}

// BenchmarkAggregate compares the serial and the parallel hash aggregate
// over 200k in-memory rows: a TPC-H Q1-like aggregate (few groups, exact
// numeric sums on the scaled-int64 path), a Q18-like one (a group per 4
// rows) and integer sums without GROUP BY.
func BenchmarkAggregate(b *testing.B) {
	src := parRows(memory.DefaultAllocator, 200_000, 1024, 50_000, 0, 1)
	defer src.Close()
	d, v := parRef(4), parRef(2)
	aggs := []plan.Agg{
		{Func: plan.Sum, Arg: d, T: types.Numeric},
		{Func: plan.Sum, Arg: &plan.Arith{Op: plan.Mul, L: d, R: d, T: types.Numeric}, T: types.Numeric},
		{Func: plan.Avg, Arg: d, T: types.Numeric},
		{Func: plan.Sum, Arg: v, T: types.Numeric},
		{Func: plan.CountStar, T: types.Int8},
	}
	filter := &plan.Filter{Pred: &plan.Cmp{Op: plan.LT, L: parRef(3), R: &plan.Const{Value: int32(95), T: types.Int4}}}
	for _, tc := range []struct {
		name string
		keys []plan.Expr
	}{
		{"few groups", []plan.Expr{&plan.Arith{Op: plan.Div, L: parRef(3), R: &plan.Const{Value: int32(25), T: types.Int4}, T: types.Int4}}},
		{"many groups", []plan.Expr{parRef(0)}},
		{"int sums", nil},
	} {
		aggs := aggs
		if tc.keys == nil { // integer sums: no allocation per row
			aggs = []plan.Agg{{Func: plan.Sum, Arg: parRef(3), T: types.Int8}, {Func: plan.Max, Arg: v, T: types.Int8}, {Func: plan.CountStar, T: types.Int8}}
		}
		a := &plan.Aggregate{GroupBy: tc.keys, Aggs: aggs, Cols: aggCols(tc.keys, aggs)}
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", tc.name, workers), func(b *testing.B) {
				for b.Loop() {
					env := &Env{Mem: memory.DefaultAllocator, Parallelism: workers}
					in := &replayOp{batches: src.batches}
					var op Operator
					var err error
					if workers == 1 {
						var chain Operator
						if chain, err = buildChain(env, []plan.Node{filter}, in); err == nil {
							op, err = newHashAgg(env, chain, a)
						}
					} else {
						op, err = newParallelAgg(env, a, []plan.Node{filter}, in)
					}
					if err != nil {
						b.Fatal(err)
					}
					if _, err := drainRows(context.Background(), op); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
