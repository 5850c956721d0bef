package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// DefaultMaxJoinRows is the row limit of one materialized operator input
// (a hash join's build side, a set operation's hash table, a window's
// partition buffer, a recursive CTE's result) when Env.MaxJoinRows is 0.
const DefaultMaxJoinRows = 1 << 24

func (e *Env) maxJoinRows() int {
	if e.MaxJoinRows <= 0 {
		return DefaultMaxJoinRows
	}
	return e.MaxJoinRows
}

// errTooManyRows is the 53200 answer of an operator whose materialized
// input passes Env.MaxJoinRows; there is no spilling to disk yet.
func errTooManyRows(what string, limit int) error {
	return sqlerr.New(CodeOutOfMemory, "out of memory: %s exceeds %d rows", what, limit).
		WithHint("The operator keeps its input in memory; make the input smaller.")
}

// joinOp runs every plan.Join. The build side is materialized into one
// record batch and, for equi-joins, a hash table from encoded keys to
// chains of build rows; each probe batch is turned into candidate pairs
// (every build row of the probe row's chain, or every build row for a
// nested loop), in chunks of at most BatchRows pairs. A chunk's pairs are
// gathered (Take) into one batch in logical column order (left columns,
// then right), the residual condition is evaluated over it vectorized, and
// the surviving pairs are emitted (inner/outer joins) or only marked
// (semi, anti, mark joins). Unmatched rows are padded with NULLs: probe
// rows at the end of their batch, build rows at the end of the input.
//
// The build side is the right input unless the heuristic size estimate
// (estimateRows) says the left one is smaller and the kind allows swapping
// (inner and outer joins; LEFT becomes RIGHT and vice versa).
type joinOp struct {
	env      *Env
	kind     plan.JoinKind // physical: as if probe were left
	swapped  bool          // probe is the plan's right input
	single   bool          // a probe row may match at most one build row
	markFast bool          // mark join hashed on its comparison (markKeys)
	ncorr    int           // correlation keys before the mark key
	groups   map[string]*markGroup
	probe    Operator
	buildIn  Operator
	pkeys    []*Evaluator
	bkeys    []*Evaluator
	cond     *Evaluator
	mark     *Evaluator
	pairSch  *arrow.Schema // logical left ++ right
	outSch   *arrow.Schema
	probeSch *arrow.Schema
	buildSch *arrow.Schema

	built    bool
	build    arrow.RecordBatch // nil when the build side is empty
	nbuild   int
	head     map[string]int32
	intKey   bool            // one int4/int8 key: headInt instead of head
	headInt  map[int64]int32 // chain heads by integer key
	next     []int32
	bmatched []bool
	keyBuf   []byte

	// Per probe batch.
	cur      arrow.RecordBatch
	curKeys  []arrow.Array
	row      int   // next probe row
	cand     int32 // next candidate of row (chain position or build row), -1: start
	matched  []bool
	markNull []bool
	out      []arrow.RecordBatch // queued output
	probeEOF bool
	done     bool
}

func newJoin(env *Env, j *plan.Join) (Operator, error) {
	kind, swapped := j.Kind, false
	lplan, rplan := j.Left, j.Right
	lkeys, rkeys := j.LeftKeys, j.RightKeys
	switch kind {
	case plan.InnerJoin, plan.LeftJoin, plan.RightJoin, plan.FullJoin:
		if !j.Single && env.estimateRows(j.Left) < env.estimateRows(j.Right) {
			swapped = true
			lplan, rplan, lkeys, rkeys = rplan, lplan, rkeys, lkeys
			switch kind {
			case plan.LeftJoin:
				kind = plan.RightJoin
			case plan.RightJoin:
				kind = plan.LeftJoin
			}
		}
	}
	op := &joinOp{env: env, kind: kind, swapped: swapped, single: j.Single,
		pairSch:  schemaOf(append(append([]plan.Column(nil), j.Left.Columns()...), j.Right.Columns()...)),
		outSch:   schemaOf(j.Cols),
		probeSch: schemaOf(lplan.Columns()),
		buildSch: schemaOf(rplan.Columns()),
	}
	var err error
	if op.probe, err = Build(env, lplan); err != nil {
		return nil, err
	}
	if op.buildIn, err = Build(env, rplan); err != nil {
		op.probe.Close()
		return nil, err
	}
	mark := j.Mark
	if l, r, ok := markKeys(j, len(j.Left.Columns())); ok {
		// x IN (...) without a residual condition: the comparison joins
		// the hash keys, and per correlation group the build side counts
		// its rows and NULL values (markGroups) for the NULL answers.
		op.markFast, op.ncorr = true, len(lkeys)
		lkeys = append(append([]plan.Expr(nil), lkeys...), l)
		rkeys = append(append([]plan.Expr(nil), rkeys...), r)
		mark = nil
	}
	compile := func(e plan.Expr) (*Evaluator, error) {
		if e == nil {
			return nil, nil
		}
		return Compile(env.Mem, e)
	}
	for i := range lkeys {
		pk, err := compile(lkeys[i])
		if err != nil {
			op.Close()
			return nil, err
		}
		op.pkeys = append(op.pkeys, pk)
		bk, err := compile(rkeys[i])
		if err != nil {
			op.Close()
			return nil, err
		}
		op.bkeys = append(op.bkeys, bk)
	}
	op.intKey = !op.markFast && len(lkeys) == 1 && isIntKey(lkeys[0].Type()) && isIntKey(rkeys[0].Type())
	if op.cond, err = compile(j.Cond); err != nil {
		op.Close()
		return nil, err
	}
	if op.mark, err = compile(mark); err != nil {
		op.Close()
		return nil, err
	}
	return op, nil
}

// estimateRows is the statement's cardinality estimate of n (plan.Estimator
// over the ANALYZE statistics, stats.go); it only picks a hash join's build
// side (the smaller input).
func (e *Env) estimateRows(n plan.Node) float64 {
	return e.Estimator().Rows(n)
}

func (j *joinOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if !j.built {
		if err := j.buildSide(ctx); err != nil {
			return nil, err
		}
		j.built = true
	}
	for {
		if len(j.out) > 0 {
			b := j.out[0]
			j.out = j.out[1:]
			return b, nil
		}
		if j.done {
			return nil, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := j.step(ctx); err != nil {
			return nil, err
		}
	}
}

// buildSide materializes the build input and hashes its keys.
func (j *joinOp) buildSide(ctx context.Context) error {
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	limit := j.env.maxJoinRows()
	total := 0
	for {
		b, err := j.buildIn.Next(ctx)
		if err != nil {
			return err
		}
		if b == nil {
			break
		}
		batches = append(batches, b)
		total += int(b.NumRows())
		if total > limit {
			return errTooManyRows("hash join build side", limit)
		}
	}
	j.nbuild = total
	if total == 0 {
		return nil
	}
	rec, err := concatBatches(memOr(j.env.Mem), j.buildSch, batches, total)
	if err != nil {
		return fmt.Errorf("exec: join: %w", err)
	}
	j.build = rec
	if j.kind == plan.RightJoin || j.kind == plan.FullJoin {
		j.bmatched = make([]bool, total)
	}
	if len(j.bkeys) == 0 {
		return nil
	}
	keys, err := evalAll(j.bkeys, rec)
	if err != nil {
		return err
	}
	defer releaseAll(keys)
	if j.intKey {
		j.headInt = make(map[int64]int32, total)
	} else {
		j.head = make(map[string]int32, total)
	}
	j.next = make([]int32, total)
	if j.markFast {
		j.groups = map[string]*markGroup{}
	}
	// Insert in reverse so every chain lists build rows in input order.
	for i := total - 1; i >= 0; i-- {
		if j.markFast {
			ck, ok := j.encodeKey(keys[:j.ncorr], i)
			if !ok {
				j.next[i] = -1
				continue
			}
			g := j.groups[string(ck)]
			if g == nil {
				g = &markGroup{}
				j.groups[string(ck)] = g
			}
			g.rows++
			if keys[j.ncorr].IsNull(i) {
				g.nulls++
			}
		}
		if j.intKey {
			v, ok := intKeyAt(keys[0], i)
			if !ok {
				j.next[i] = -1
				continue
			}
			if h, ok := j.headInt[v]; ok {
				j.next[i] = h
			} else {
				j.next[i] = -1
			}
			j.headInt[v] = int32(i)
			continue
		}
		k, ok := j.encodeKey(keys, i)
		if !ok {
			j.next[i] = -1
			continue
		}
		if h, ok := j.head[string(k)]; ok {
			j.next[i] = h
		} else {
			j.next[i] = -1
		}
		j.head[string(k)] = int32(i)
	}
	return nil
}

// isIntKey reports whether a join key of type t hashes as an int64.
func isIntKey(t types.T) bool { return t == types.Int4 || t == types.Int8 }

// intKeyAt returns row i of an int4/int8 key column; ok is false for NULL.
func intKeyAt(a arrow.Array, i int) (int64, bool) {
	if a.IsNull(i) {
		return 0, false
	}
	switch x := a.(type) {
	case *array.Int32:
		return int64(x.Value(i)), true
	case *array.Int64:
		return x.Value(i), true
	}
	return 0, false
}

// chainHead returns the first build row whose keys equal the probe row's.
func (j *joinOp) chainHead(keys []arrow.Array, row int) (int32, bool) {
	if j.intKey {
		v, ok := intKeyAt(keys[0], row)
		if !ok {
			return 0, false
		}
		h, found := j.headInt[v]
		return h, found
	}
	k, ok := j.encodeKey(keys, row)
	if !ok {
		return 0, false
	}
	h, found := j.head[string(k)]
	return h, found
}

// encodeKey encodes row i's keys into j.keyBuf; ok is false when one is
// NULL (NULL never equals anything).
func (j *joinOp) encodeKey(keys []arrow.Array, i int) ([]byte, bool) {
	j.keyBuf = j.keyBuf[:0]
	for _, k := range keys {
		if k.IsNull(i) {
			return nil, false
		}
		j.keyBuf = appendKey(j.keyBuf, k, i)
	}
	return j.keyBuf, true
}

// step advances the join by one chunk of pairs, or starts the next probe
// batch, or finishes.
func (j *joinOp) step(ctx context.Context) error {
	if j.cur == nil {
		if j.probeEOF {
			j.done = true
			return j.finishBuild()
		}
		if j.build == nil {
			switch j.kind {
			case plan.InnerJoin, plan.SemiJoin, plan.RightJoin:
				j.probeEOF = true
				return nil
			}
		}
		b, err := j.probe.Next(ctx)
		if err != nil {
			return err
		}
		if b == nil {
			j.probeEOF = true
			return nil
		}
		j.cur, j.row, j.cand = b, 0, -1
		n := int(b.NumRows())
		j.matched = make([]bool, n)
		j.markNull = nil
		if j.kind == plan.MarkJoin {
			j.markNull = make([]bool, n)
		}
		if len(j.pkeys) > 0 && j.build != nil {
			if j.curKeys, err = evalAll(j.pkeys, b); err != nil {
				return err
			}
		}
	}
	pi, bi := j.pairs()
	if len(pi) > 0 {
		if err := j.emitPairs(ctx, pi, bi); err != nil {
			return err
		}
	}
	if j.row >= int(j.cur.NumRows()) {
		err := j.finishProbe(ctx)
		j.cur.Release()
		j.cur = nil
		releaseAll(j.curKeys)
		j.curKeys = nil
		return err
	}
	return nil
}

// pairs collects up to BatchRows candidate pairs (probe row, build row)
// from the current position.
func (j *joinOp) pairs() (pi, bi []int32) {
	limit := j.env.batchRows()
	n := int(j.cur.NumRows())
	skipMatched := j.kind == plan.SemiJoin || j.kind == plan.AntiJoin || j.kind == plan.MarkJoin
	for j.row < n && len(pi) < limit {
		if j.markFast && j.build != nil {
			j.decideMark(j.row)
			j.row, j.cand = j.row+1, -1
			continue
		}
		if j.build == nil || (skipMatched && j.matched[j.row]) {
			j.row, j.cand = j.row+1, -1
			continue
		}
		if len(j.pkeys) == 0 && j.cond == nil && j.mark == nil && skipMatched {
			// EXISTS without a condition: every row matches.
			j.matched[j.row] = true
			j.row, j.cand = j.row+1, -1
			continue
		}
		if len(j.pkeys) == 0 {
			// Nested loop: every build row is a candidate.
			c := max(j.cand, 0)
			end := min(int(c)+limit-len(pi), j.nbuild)
			for r := int(c); r < end; r++ {
				pi = append(pi, int32(j.row))
				bi = append(bi, int32(r))
			}
			if end >= j.nbuild {
				j.row, j.cand = j.row+1, -1
			} else {
				j.cand = int32(end)
			}
			continue
		}
		c := j.cand
		if c < 0 {
			h, found := j.chainHead(j.curKeys, j.row)
			if !found {
				j.row, j.cand = j.row+1, -1
				continue
			}
			c = h
		}
		for c >= 0 && len(pi) < limit {
			pi = append(pi, int32(j.row))
			bi = append(bi, c)
			c = j.next[c]
		}
		if c < 0 {
			j.row, j.cand = j.row+1, -1
		} else {
			j.cand = c
		}
	}
	return pi, bi
}

// emitPairs evaluates the residual condition over candidate pairs, records
// matches and queues the joined rows of inner and outer joins.
func (j *joinOp) emitPairs(ctx context.Context, pi, bi []int32) error {
	mem := memOr(j.env.Mem)
	var pairs arrow.RecordBatch
	needBatch := j.cond != nil || j.mark != nil ||
		j.kind == plan.InnerJoin || j.kind == plan.LeftJoin || j.kind == plan.RightJoin || j.kind == plan.FullJoin
	if needBatch {
		var err error
		if pairs, err = j.gather(ctx, pi, bi); err != nil {
			return err
		}
		defer pairs.Release()
	}
	keep := make([]bool, len(pi))
	for i := range keep {
		keep[i] = true
	}
	if j.cond != nil {
		mask, err := j.cond.Eval(pairs)
		if err != nil {
			return err
		}
		mb := mask.(*array.Boolean)
		for i := range keep {
			keep[i] = mb.IsValid(i) && mb.Value(i)
		}
		mask.Release()
	}
	switch j.kind {
	case plan.SemiJoin, plan.AntiJoin:
		for i, ok := range keep {
			if ok {
				j.matched[pi[i]] = true
			}
		}
		return nil
	case plan.MarkJoin:
		if j.mark == nil {
			for i, ok := range keep {
				if ok {
					j.matched[pi[i]] = true
				}
			}
			return nil
		}
		m, err := j.mark.Eval(pairs)
		if err != nil {
			return err
		}
		defer m.Release()
		mb := m.(*array.Boolean)
		for i, ok := range keep {
			switch {
			case !ok:
			case mb.IsNull(i):
				j.markNull[pi[i]] = true
			case mb.Value(i):
				j.matched[pi[i]] = true
			}
		}
		return nil
	}
	sel := make([]int32, 0, len(pi))
	for i, ok := range keep {
		if !ok {
			continue
		}
		if j.single && j.matched[pi[i]] {
			return sqlerr.New(codeCardinalityViolation, "more than one row returned by a subquery used as an expression")
		}
		j.matched[pi[i]] = true
		if j.bmatched != nil {
			j.bmatched[bi[i]] = true
		}
		sel = append(sel, int32(i))
	}
	if len(sel) == 0 {
		return nil
	}
	if len(sel) == len(pi) {
		pairs.Retain()
		j.out = append(j.out, relabel(pairs, j.outSch))
		return nil
	}
	out, err := takeBatch(ctx, mem, pairs, sel)
	if err != nil {
		return err
	}
	j.out = append(j.out, relabel(out, j.outSch))
	return nil
}

// relabel returns b's columns under schema s (same types, the plan's
// names); it retains what it uses, the caller still releases b.
func relabel(b arrow.RecordBatch, s *arrow.Schema) arrow.RecordBatch {
	out := array.NewRecordBatch(s, b.Columns(), b.NumRows())
	b.Release()
	return out
}

// gather builds the batch of pairs in logical column order.
func (j *joinOp) gather(ctx context.Context, pi, bi []int32) (arrow.RecordBatch, error) {
	mem := memOr(j.env.Mem)
	pcols, err := takeCols(ctx, mem, j.cur, pi)
	if err != nil {
		return nil, err
	}
	bcols, err := takeCols(ctx, mem, j.build, bi)
	if err != nil {
		releaseAll(pcols)
		return nil, err
	}
	return newBatch(j.pairSch, j.order(pcols, bcols), len(pi)), nil
}

// order puts probe and build columns in logical (left, right) order.
func (j *joinOp) order(pcols, bcols []arrow.Array) []arrow.Array {
	if j.swapped {
		return append(bcols, pcols...)
	}
	return append(pcols, bcols...)
}

// finishProbe queues what the current probe batch yields besides pairs:
// unmatched rows (left/full, anti), matched rows (semi), or every row with
// its mark.
func (j *joinOp) finishProbe(ctx context.Context) error {
	mem := memOr(j.env.Mem)
	var sel []int32
	want := false
	switch j.kind {
	case plan.LeftJoin, plan.FullJoin, plan.AntiJoin:
		want = false
	case plan.SemiJoin:
		want = true
	case plan.MarkJoin:
		n := len(j.matched)
		vbuf, vbits := newBitmapBuf(mem, n)
		buf, bits := newBitmapBuf(mem, n)
		nulls := 0
		for i := range n {
			switch {
			case j.matched[i]:
				bitutil.SetBit(vbits, i)
				bitutil.SetBit(bits, i)
			case j.markNull[i] || (j.mark != nil && j.build != nil && j.probeNullMark(i)):
				nulls++
			default:
				bitutil.SetBit(vbits, i)
			}
		}
		markArr := makeArray(arrow.FixedWidthTypes.Boolean, n, vbuf, buf, nulls)
		cols := append(append([]arrow.Array(nil), j.cur.Columns()...), markArr)
		for _, c := range j.cur.Columns() {
			c.Retain()
		}
		j.out = append(j.out, newBatch(j.outSch, cols, n))
		return nil
	default:
		return nil
	}
	for i, m := range j.matched {
		if m == want {
			sel = append(sel, int32(i))
		}
	}
	if len(sel) == 0 {
		return nil
	}
	pcols, err := takeCols(ctx, mem, j.cur, sel)
	if err != nil {
		return err
	}
	if j.kind == plan.SemiJoin || j.kind == plan.AntiJoin {
		j.out = append(j.out, newBatch(j.outSch, pcols, len(sel)))
		return nil
	}
	j.out = append(j.out, newBatch(j.outSch, j.order(pcols, nullCols(mem, j.buildSch, len(sel))), len(sel)))
	return nil
}

// probeNullMark is always false: a NULL probe key of a mark join never
// becomes a pair, so the binder routes IN through Mark (not the keys).
func (j *joinOp) probeNullMark(int) bool { return false }

// finishBuild queues the build rows no probe row matched (right/full).
func (j *joinOp) finishBuild() error {
	if j.bmatched == nil || j.build == nil {
		return nil
	}
	mem := memOr(j.env.Mem)
	var sel []int32
	for i, m := range j.bmatched {
		if !m {
			sel = append(sel, int32(i))
		}
	}
	for len(sel) > 0 {
		n := min(len(sel), j.env.batchRows())
		bcols, err := takeCols(context.Background(), mem, j.build, sel[:n])
		if err != nil {
			return err
		}
		j.out = append(j.out, newBatch(j.outSch, j.order(nullCols(mem, j.probeSch, n), bcols), n))
		sel = sel[n:]
	}
	return nil
}

func (j *joinOp) Close() {
	for _, e := range append(append([]*Evaluator{j.cond, j.mark}, j.pkeys...), j.bkeys...) {
		if e != nil {
			e.Release()
		}
	}
	for _, b := range j.out {
		b.Release()
	}
	j.out = nil
	if j.cur != nil {
		j.cur.Release()
		j.cur = nil
	}
	releaseAll(j.curKeys)
	j.curKeys = nil
	if j.build != nil {
		j.build.Release()
		j.build = nil
	}
	if j.probe != nil {
		j.probe.Close()
	}
	if j.buildIn != nil {
		j.buildIn.Close()
	}
}

// evalAll evaluates expressions over b; the caller releases the arrays.
func evalAll(evs []*Evaluator, b arrow.RecordBatch) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(evs))
	for i, ev := range evs {
		var err error
		if out[i], err = ev.Eval(b); err != nil {
			releaseAll(out)
			return nil, err
		}
	}
	return out, nil
}

// concatBatches concatenates batches column by column into one batch.
func concatBatches(mem memory.Allocator, schema *arrow.Schema, batches []arrow.RecordBatch, total int) (arrow.RecordBatch, error) {
	ncols := len(schema.Fields())
	cols := make([]arrow.Array, ncols)
	var zero *memory.Buffer // shared by the columns NULL in every batch
	defer func() {
		if zero != nil {
			zero.Release()
		}
	}()
	for c := range ncols {
		parts := make([]arrow.Array, len(batches))
		allNull := true
		for i, b := range batches {
			parts[i] = b.Column(c)
			allNull = allNull && parts[i].NullN() == parts[i].Len()
		}
		if allNull {
			if zero == nil {
				zero = memory.NewResizableBuffer(mem)
				zero.Resize(16 * (total + 1))
				clear(zero.Bytes())
			}
			cols[c] = concatNulls(mem, schema.Field(c).Type, total, zero)
			continue
		}
		var err error
		if cols[c], err = array.Concatenate(parts, mem); err != nil {
			releaseAll(cols)
			return nil, fmt.Errorf("concatenate: %w", err)
		}
	}
	return newBatch(schema, cols, total), nil
}

// takeCols gathers rows idx of every column of b.
func takeCols(ctx context.Context, mem memory.Allocator, b arrow.RecordBatch, idx []int32) ([]arrow.Array, error) {
	ib := array.NewInt32Builder(mem)
	ib.AppendValues(idx, nil)
	indices := ib.NewArray()
	ib.Release()
	defer indices.Release()
	cctx := compute.WithAllocator(ctx, mem)
	out := make([]arrow.Array, b.NumCols())
	for c := range out {
		if col := b.Column(c); col.Len() > 0 && col.NullN() == col.Len() {
			// A column the query never reads (the scan left it NULL) or
			// an all-NULL one: nothing to gather.
			out[c] = array.MakeArrayOfNull(mem, col.DataType(), len(idx))
			continue
		}
		taken, err := compute.TakeArray(cctx, b.Column(c), indices)
		if err != nil {
			releaseAll(out)
			return nil, fmt.Errorf("exec: take: %w", err)
		}
		out[c] = taken
	}
	return out, nil
}

// takeBatch gathers rows idx of b into a new batch of b's schema.
func takeBatch(ctx context.Context, mem memory.Allocator, b arrow.RecordBatch, idx []int32) (arrow.RecordBatch, error) {
	cols, err := takeCols(ctx, mem, b, idx)
	if err != nil {
		return nil, err
	}
	return newBatch(b.Schema(), cols, len(idx)), nil
}

// nullCols returns all-NULL columns of a schema's types.
func nullCols(mem memory.Allocator, s *arrow.Schema, n int) []arrow.Array {
	out := make([]arrow.Array, len(s.Fields()))
	for i, f := range s.Fields() {
		out[i] = array.MakeArrayOfNull(mem, f.Type, n)
	}
	return out
}

// codeCardinalityViolation is SQLSTATE 21000.
const codeCardinalityViolation = "21000"

// maxOneRowOp fails with 21000 when its input has more than one row.
type maxOneRowOp struct {
	in   Operator
	seen int64
}

func (m *maxOneRowOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := m.in.Next(ctx)
	if err != nil || b == nil {
		return nil, err
	}
	m.seen += b.NumRows()
	if m.seen > 1 {
		b.Release()
		return nil, sqlerr.New(codeCardinalityViolation, "more than one row returned by a subquery used as an expression")
	}
	return b, nil
}

func (m *maxOneRowOp) Close() { m.in.Close() }

// markGroup summarizes the build rows of one correlation group of a
// hashed mark join: how many, and how many have a NULL comparison value.
type markGroup struct{ rows, nulls int }

// markKeys recognizes a mark join whose mark is left = right (each side
// reading one input) and that has no residual condition; it returns the
// two sides, the right one over the right input.
func markKeys(j *plan.Join, nl int) (plan.Expr, plan.Expr, bool) {
	cmp, ok := j.Mark.(*plan.Cmp)
	if j.Kind != plan.MarkJoin || j.Cond != nil || !ok || cmp.Op != plan.EQ {
		return nil, nil, false
	}
	sides := func(e plan.Expr) (l, r bool) {
		plan.Walk(e, func(x plan.Expr) bool {
			if c, ok := x.(*plan.ColRef); ok {
				if c.Idx < nl {
					l = true
				} else {
					r = true
				}
			}
			return true
		})
		return l, r
	}
	if ll, lr := sides(cmp.L); lr || !ll {
		return nil, nil, false
	}
	if rl, rr := sides(cmp.R); rl || !rr {
		return nil, nil, false
	}
	right, err := plan.Map(cmp.R, func(x plan.Expr) (plan.Expr, error) {
		if c, ok := x.(*plan.ColRef); ok {
			return &plan.ColRef{Idx: c.Idx - nl, Name: c.Name, T: c.T}, nil
		}
		return nil, nil
	})
	return cmp.L, right, err == nil
}

// decideMark sets the mark of probe row i of a hashed mark join: true when
// a build row of its group has an equal value; otherwise NULL when its
// value is NULL (and the group has rows) or the group has a NULL value;
// false when the group is empty or none of that holds.
func (j *joinOp) decideMark(i int) {
	ck, ok := j.encodeKey(j.curKeys[:j.ncorr], i)
	if !ok {
		return
	}
	g := j.groups[string(ck)]
	if g == nil {
		return
	}
	if j.curKeys[j.ncorr].IsNull(i) {
		j.markNull[i] = true
		return
	}
	if k, ok := j.encodeKey(j.curKeys, i); ok {
		if _, hit := j.head[string(k)]; hit {
			j.matched[i] = true
			return
		}
	}
	if g.nulls > 0 {
		j.markNull[i] = true
	}
}
