package exec

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
)

// Emit receives the RETURNING rows of a writing statement, one batch at a
// time; like Drain's callback it must Retain a batch it keeps.
type Emit func(arrow.RecordBatch) error

// returner evaluates a RETURNING list over table-shaped batches.
type returner struct {
	evs    []*Evaluator
	schema *arrow.Schema
	emit   Emit
}

// newReturner compiles r; nil (a no-op) when r or emit is nil.
func newReturner(env *Env, r *plan.Returning, emit Emit) (*returner, error) {
	if r == nil || emit == nil {
		return nil, nil
	}
	out := &returner{schema: schemaOf(r.Cols), emit: emit}
	for _, e := range r.Exprs {
		ev, err := Compile(env.Mem, e)
		if err != nil {
			out.release()
			return nil, err
		}
		out.evs = append(out.evs, ev)
	}
	return out, nil
}

// add evaluates the list over b and emits the result.
func (r *returner) add(b arrow.RecordBatch) error {
	if r == nil || b.NumRows() == 0 {
		return nil
	}
	cols := make([]arrow.Array, len(r.evs))
	for i, ev := range r.evs {
		var err error
		if cols[i], err = ev.Eval(b); err != nil {
			releaseAll(cols)
			return err
		}
	}
	out := newBatch(r.schema, cols, int(b.NumRows()))
	defer out.Release()
	return r.emit(out)
}

func (r *returner) release() {
	if r == nil {
		return
	}
	for _, ev := range r.evs {
		ev.Release()
	}
}

// checkNotNull answers 23502 when a NOT NULL column of t holds a NULL in
// cols (table-shaped); only the columns in which are checked (nil: all).
func checkNotNull(t *catalog.Table, cols []arrow.Array, which []int) error {
	check := func(i int) error {
		if c := t.Columns[i]; c.NotNull && cols[i].NullN() > 0 {
			return sqlerr.New(sqlerr.CodeNotNullViolation,
				"null value in column %q of relation %q violates not-null constraint", c.Name, t.Name)
		}
		return nil
	}
	if which == nil {
		for i := range t.Columns {
			if err := check(i); err != nil {
				return err
			}
		}
		return nil
	}
	for _, i := range which {
		if err := check(i); err != nil {
			return err
		}
	}
	return nil
}

// rowKey encodes the primary key of row of the table-shaped cols.
func rowKey(prefix []byte, t *catalog.Table, cols []arrow.Array, row int) []byte {
	key := append([]byte(nil), prefix...)
	for _, ci := range t.PrimaryKey {
		key = appendTypedKey(key, t.Columns[ci].Type, cols[ci], row)
	}
	return key
}

// Update runs an UPDATE: for each batch of matching rows it evaluates the
// SET expressions over the old rows (vectorized), checks NOT NULL, encodes
// the new rows, and emits RETURNING rows computed over them. A row whose
// primary key changes becomes a delete of the old key and a put of the new
// one; the new keys must be unique among the updated rows and must not hit
// a row the statement does not update (23505) — a statement-level check,
// so UPDATE t SET id = id + 1 succeeds where PostgreSQL's row-by-row check
// may fail. It returns the mutations (deletes first) and the row count.
func Update(ctx context.Context, env *Env, u *plan.Update, emit Emit) ([]storage.Mutation, int64, error) {
	t := u.Table
	evs := make([]*Evaluator, 0, len(u.Set))
	defer func() {
		for _, ev := range evs {
			ev.Release()
		}
	}()
	setCols := make([]int, len(u.Set))
	pkChanges := false
	for i, s := range u.Set {
		ev, err := Compile(env.Mem, s.Expr)
		if err != nil {
			return nil, 0, err
		}
		evs = append(evs, ev)
		setCols[i] = s.Col
		for _, pk := range t.PrimaryKey {
			pkChanges = pkChanges || pk == s.Col
		}
	}
	ret, err := newReturner(env, u.Returning, emit)
	if err != nil {
		return nil, 0, err
	}
	defer ret.release()
	src, err := Build(env, u.Input)
	if err != nil {
		return nil, 0, err
	}
	w, err := newTableWriter(env, t, &u.Cons)
	if err != nil {
		src.Close()
		return nil, 0, err
	}
	defer w.release()
	schema := schemaOf((&plan.Scan{Table: t}).Columns())
	err = Drain(ctx, src, func(b arrow.RecordBatch) error {
		n := int(b.NumRows())
		cols := make([]arrow.Array, len(t.Columns))
		for i := range cols {
			cols[i] = b.Column(i)
			cols[i].Retain()
		}
		for i, ev := range evs {
			a, err := ev.Eval(b)
			if err != nil {
				releaseAll(cols)
				return err
			}
			cols[setCols[i]].Release()
			cols[setCols[i]] = a
		}
		nb := newBatch(schema, cols, n)
		defer nb.Release()
		if err := w.check(nb, setCols); err != nil {
			return err
		}
		for row := range n {
			if err := w.update(b.Columns(), nb.Columns(), row, pkChanges); err != nil {
				return err
			}
		}
		return ret.add(nb)
	})
	if err != nil {
		return nil, 0, err
	}
	muts, err := w.finish(ctx)
	if err != nil {
		return nil, 0, err
	}
	return muts, w.n, nil
}

// Delete runs a DELETE: it returns a delete mutation per matching row and
// emits RETURNING rows computed over the deleted rows.
func Delete(ctx context.Context, env *Env, d *plan.Delete, emit Emit) ([]storage.Mutation, int64, error) {
	t := d.Table
	ret, err := newReturner(env, d.Returning, emit)
	if err != nil {
		return nil, 0, err
	}
	defer ret.release()
	src, err := Build(env, d.Input)
	if err != nil {
		return nil, 0, err
	}
	w, err := newTableWriter(env, t, &d.Cons)
	if err != nil {
		src.Close()
		return nil, 0, err
	}
	defer w.release()
	err = Drain(ctx, src, func(b arrow.RecordBatch) error {
		cols := b.Columns()
		for row := range int(b.NumRows()) {
			w.remove(cols, row)
		}
		return ret.add(b)
	})
	if err != nil {
		return nil, 0, err
	}
	muts, err := w.finish(ctx)
	if err != nil {
		return nil, 0, err
	}
	return muts, w.n, nil
}
