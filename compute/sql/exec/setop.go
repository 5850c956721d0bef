package exec

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// rowKeys encodes rows of b (the columns cols, all when nil) into
// self-delimiting keys in which NULLs equal each other, as set operations,
// DISTINCT ON and UNION in recursive CTEs compare rows.
type rowKeys struct{ buf []byte }

func (k *rowKeys) key(b arrow.RecordBatch, cols []int, i int) []byte {
	k.buf = k.buf[:0]
	if cols == nil {
		for c := range int(b.NumCols()) {
			k.buf = appendKey(k.buf, b.Column(c), i)
		}
		return k.buf
	}
	for _, c := range cols {
		k.buf = appendKey(k.buf, b.Column(c), i)
	}
	return k.buf
}

// setOpOp runs UNION, INTERSECT and EXCEPT. UNION ALL streams both inputs;
// UNION streams them keeping each row's first occurrence; INTERSECT and
// EXCEPT first count the right input's rows in a hash table, then stream
// the left input against the counts.
type setOpOp struct {
	env         *Env
	n           *plan.SetOp
	left, right Operator
	schema      *arrow.Schema
	keys        rowKeys
	seen        map[string]struct{}
	counts      map[string]int64
	built       bool
	leftDone    bool
}

func newSetOp(env *Env, n *plan.SetOp) (Operator, error) {
	l, err := Build(env, n.Left)
	if err != nil {
		return nil, err
	}
	r, err := Build(env, n.Right)
	if err != nil {
		l.Close()
		return nil, err
	}
	return &setOpOp{env: env, n: n, left: l, right: r, schema: schemaOf(n.Cols), seen: map[string]struct{}{}}, nil
}

func (s *setOpOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if s.n.Kind == plan.Union {
		for {
			in := s.left
			if s.leftDone {
				in = s.right
			}
			b, err := in.Next(ctx)
			if err != nil {
				return nil, err
			}
			if b == nil {
				if s.leftDone {
					return nil, nil
				}
				s.leftDone = true
				continue
			}
			if s.n.All {
				return relabel(b, s.schema), nil
			}
			out, err := s.filter(ctx, b, func(k string) bool {
				if _, ok := s.seen[k]; ok {
					return false
				}
				s.seen[k] = struct{}{}
				return true
			})
			if err != nil || out != nil {
				return out, err
			}
		}
	}
	if !s.built {
		if err := s.count(ctx); err != nil {
			return nil, err
		}
		s.built = true
	}
	for {
		b, err := s.left.Next(ctx)
		if err != nil || b == nil {
			return nil, err
		}
		out, err := s.filter(ctx, b, s.keepLeft)
		if err != nil || out != nil {
			return out, err
		}
	}
}

// keepLeft decides whether a left row of INTERSECT/EXCEPT is emitted.
func (s *setOpOp) keepLeft(k string) bool {
	c := s.counts[k]
	if s.n.All {
		if s.n.Kind == plan.Intersect {
			if c > 0 {
				s.counts[k] = c - 1
				return true
			}
			return false
		}
		if c > 0 {
			s.counts[k] = c - 1
			return false
		}
		return true
	}
	if (s.n.Kind == plan.Intersect) != (c > 0) {
		return false
	}
	if _, ok := s.seen[k]; ok {
		return false
	}
	s.seen[k] = struct{}{}
	return true
}

// count reads the right input into counts.
func (s *setOpOp) count(ctx context.Context) error {
	s.counts = map[string]int64{}
	limit := s.env.maxJoinRows()
	for {
		b, err := s.right.Next(ctx)
		if err != nil {
			return err
		}
		if b == nil {
			return nil
		}
		for i := range int(b.NumRows()) {
			s.counts[string(s.keys.key(b, nil, i))]++
		}
		b.Release()
		if len(s.counts) > limit {
			return errTooManyRows(s.n.Kind.String(), limit)
		}
	}
}

// filter keeps the rows of b (which it releases) for which keep says so;
// nil when none does.
func (s *setOpOp) filter(ctx context.Context, b arrow.RecordBatch, keep func(string) bool) (arrow.RecordBatch, error) {
	defer b.Release()
	return filterRows(ctx, s.env.Mem, b, s.schema, func(i int) bool { return keep(string(s.keys.key(b, nil, i))) }, len(s.seen), s.env.maxJoinRows(), s.n.Kind.String())
}

// filterRows returns the rows of b for which keep is true under schema
// (nil when none); limit bounds the hash table size the caller reports.
func filterRows(ctx context.Context, mem memory.Allocator, b arrow.RecordBatch, schema *arrow.Schema, keep func(int) bool, size, limit int, what string) (arrow.RecordBatch, error) {
	var sel []int32
	n := int(b.NumRows())
	for i := range n {
		if keep(i) {
			sel = append(sel, int32(i))
		}
	}
	if size > limit {
		return nil, errTooManyRows(what, limit)
	}
	switch len(sel) {
	case 0:
		return nil, nil
	case n:
		b.Retain()
		return relabel(b, schema), nil
	}
	out, err := takeBatch(ctx, memOr(mem), b, sel)
	if err != nil {
		return nil, err
	}
	return relabel(out, schema), nil
}

func (s *setOpOp) Close() {
	s.left.Close()
	s.right.Close()
}

// distinctOnOp keeps the first row of every distinct key.
type distinctOnOp struct {
	env    *Env
	in     Operator
	cols   []int
	schema *arrow.Schema
	keys   rowKeys
	seen   map[string]struct{}
}

func (d *distinctOnOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		b, err := d.in.Next(ctx)
		if err != nil || b == nil {
			return nil, err
		}
		out, err := filterRows(ctx, d.env.Mem, b, d.schema, func(i int) bool {
			k := d.keys.key(b, d.cols, i)
			if _, ok := d.seen[string(k)]; ok {
				return false
			}
			d.seen[string(k)] = struct{}{}
			return true
		}, len(d.seen), d.env.maxJoinRows(), "DISTINCT ON")
		b.Release()
		if err != nil || out != nil {
			return out, err
		}
	}
}

func (d *distinctOnOp) Close() { d.in.Close() }

// MaxRecursion bounds the rounds of a WITH RECURSIVE evaluation.
const MaxRecursion = 10000

// workTable holds the rows of the previous round of a recursive CTE.
type workTable struct{ batches []arrow.RecordBatch }

func (w *workTable) reset(bs []arrow.RecordBatch) {
	for _, b := range w.batches {
		b.Release()
	}
	w.batches = bs
}

// recursiveOp evaluates WITH RECURSIVE to a fixpoint: the initial rows,
// then rounds of the recursive term over the previous round's rows (its
// WorkScan nodes read them), emitting each round's new rows, until a round
// adds none. UNION drops rows already produced. The rounds are bounded by
// MaxRecursion and the rows by Env.MaxJoinRows (54000 and 53200).
type recursiveOp struct {
	env    *Env
	n      *plan.RecursiveCTE
	schema *arrow.Schema
	work   *workTable
	cur    Operator // the running term
	round  int
	next   []arrow.RecordBatch // rows of this round so far
	keys   rowKeys
	seen   map[string]struct{}
	rows   int
	done   bool
}

func newRecursive(env *Env, n *plan.RecursiveCTE) (Operator, error) {
	if env.work == nil {
		env.work = map[int]*workTable{}
	}
	w := &workTable{}
	env.work[n.ID] = w
	init, err := Build(env, n.Init)
	if err != nil {
		return nil, err
	}
	return &recursiveOp{env: env, n: n, schema: schemaOf(n.Cols), work: w, cur: init, seen: map[string]struct{}{}}, nil
}

func (r *recursiveOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	for !r.done {
		b, err := r.cur.Next(ctx)
		if err != nil {
			return nil, err
		}
		if b == nil {
			if err := r.nextRound(); err != nil {
				return nil, err
			}
			continue
		}
		if !r.n.All {
			out, err := filterRows(ctx, r.env.Mem, b, r.schema, func(i int) bool {
				k := r.keys.key(b, nil, i)
				if _, ok := r.seen[string(k)]; ok {
					return false
				}
				r.seen[string(k)] = struct{}{}
				return true
			}, 0, 1, "")
			b.Release()
			if err != nil {
				return nil, err
			}
			if out == nil {
				continue
			}
			b = out
		} else {
			b = relabel(b, r.schema)
		}
		r.rows += int(b.NumRows())
		if limit := r.env.maxJoinRows(); r.rows > limit {
			b.Release()
			return nil, errTooManyRows("recursive query", limit)
		}
		b.Retain()
		r.next = append(r.next, b)
		return b, nil
	}
	return nil, nil
}

// nextRound starts the recursive term over the rows of the round that
// just ended, or finishes when it produced none.
func (r *recursiveOp) nextRound() error {
	r.cur.Close()
	r.cur = nil
	if len(r.next) == 0 {
		r.done = true
		return nil
	}
	r.round++
	if r.round > MaxRecursion {
		return sqlerr.New(sqlerr.CodeProgramLimitExceeded, "recursive query exceeded %d iterations", MaxRecursion).
			WithHint("check the recursive term's stop condition")
	}
	r.work.reset(r.next)
	r.next = nil
	op, err := Build(r.env, r.n.Step)
	if err != nil {
		return err
	}
	r.cur = op
	return nil
}

func (r *recursiveOp) Close() {
	if r.cur != nil {
		r.cur.Close()
	}
	for _, b := range r.next {
		b.Release()
	}
	r.next = nil
	r.work.reset(nil)
}

// workScanOp emits the rows of a recursive CTE's previous round.
type workScanOp struct {
	w      *workTable
	schema *arrow.Schema
	pos    int
}

func newWorkScan(env *Env, n *plan.WorkScan) (Operator, error) {
	w := env.work[n.ID]
	if w == nil {
		return nil, sqlerr.New(sqlerr.CodeInternalError, "work table %d outside its recursive query", n.ID)
	}
	return &workScanOp{w: w, schema: schemaOf(n.Cols)}, nil
}

func (s *workScanOp) Next(context.Context) (arrow.RecordBatch, error) {
	if s.pos >= len(s.w.batches) {
		return nil, nil
	}
	b := s.w.batches[s.pos]
	s.pos++
	b.Retain()
	return relabel(b, s.schema), nil
}

func (s *workScanOp) Close() {}
