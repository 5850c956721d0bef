package exec

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/rowcodec"
)

// conflictHandler runs INSERT ... ON CONFLICT row by row: a proposed row
// whose arbiter key exists (at the snapshot or written earlier by this
// statement) is skipped (DO NOTHING) or turns into an update of the
// existing row (DO UPDATE SET, over the existing row and EXCLUDED).
type conflictHandler struct {
	env     *Env
	w       *tableWriter
	oc      *plan.OnConflict
	ret     *returner
	set     []*Evaluator
	setCols []int
	where   *Evaluator
	dec     *rowcodec.Decoder
	both    *arrow.Schema // existing row ++ excluded row
	table   *arrow.Schema
	pkSet   bool
}

func newConflictHandler(env *Env, w *tableWriter, oc *plan.OnConflict, ret *returner) (*conflictHandler, error) {
	t := w.t
	h := &conflictHandler{env: env, w: w, oc: oc, ret: ret,
		dec:   rowcodec.NewDecoder(memOr(env.Mem), t.Kinds()),
		table: schemaOf((&plan.Scan{Table: t}).Columns())}
	fs := append(append([]arrow.Field(nil), h.table.Fields()...), h.table.Fields()...)
	h.both = arrow.NewSchema(fs, nil)
	for _, s := range oc.Set {
		ev, err := Compile(env.Mem, s.Expr)
		if err != nil {
			h.release()
			return nil, err
		}
		h.set = append(h.set, ev)
		h.setCols = append(h.setCols, s.Col)
		for _, pk := range t.PrimaryKey {
			h.pkSet = h.pkSet || pk == s.Col
		}
	}
	if oc.Where != nil {
		ev, err := Compile(env.Mem, oc.Where)
		if err != nil {
			h.release()
			return nil, err
		}
		h.where = ev
	}
	return h, nil
}

func (h *conflictHandler) release() {
	for _, ev := range h.set {
		ev.Release()
	}
	h.set = nil
	if h.where != nil {
		h.where.Release()
		h.where = nil
	}
	if h.dec != nil {
		h.dec.Release()
		h.dec = nil
	}
}

// arbiters returns the keys whose existence means a conflict for row:
// the row key and/or unique index keys (an index key with a NULL column
// never conflicts), each with the index (nil: primary key).
func (h *conflictHandler) arbiters(cols []arrow.Array, row int) ([][]byte, []*catalog.Index) {
	t := h.w.t
	var ks [][]byte
	var ixs []*catalog.Index
	if h.oc.PK || h.oc.Any {
		ks = append(ks, rowKey(h.w.prefix, t, cols, row))
		ixs = append(ixs, nil)
	}
	for i := range t.Indexes {
		ix := &t.Indexes[i]
		if !ix.Unique || !(h.oc.Any || h.oc.Index != nil && h.oc.Index.ID == ix.ID) {
			continue
		}
		if k, unique := indexEntry(h.env.DB, t, ix, cols, row, nil); unique {
			ks = append(ks, k)
			ixs = append(ixs, ix)
		}
	}
	return ks, ixs
}

// existing returns the stored row value a conflict key leads to, nil when
// the key is free at the snapshot.
func (h *conflictHandler) existing(ctx context.Context, k []byte, ix *catalog.Index) ([]byte, error) {
	rowK := k
	if ix != nil {
		m, err := readRows(ctx, h.env, [][]byte{k})
		if err != nil {
			return nil, err
		}
		pk, ok := m[string(k)]
		if !ok {
			return nil, nil
		}
		rowK = append(keys.TablePrefix(h.env.DB, h.w.t.ID), pk...)
	}
	m, err := readRows(ctx, h.env, [][]byte{rowK})
	if err != nil {
		return nil, err
	}
	return m[string(rowK)], nil
}

func (h *conflictHandler) batch(ctx context.Context, b arrow.RecordBatch) error {
	for row := range int(b.NumRows()) {
		if err := h.row(ctx, b, row); err != nil {
			return err
		}
	}
	return nil
}

func (h *conflictHandler) row(ctx context.Context, b arrow.RecordBatch, row int) error {
	w := h.w
	one := b.NewSlice(int64(row), int64(row+1))
	defer one.Release()
	cols := one.Columns()
	ks, ixs := h.arbiters(cols, 0)
	var old []byte
	for i, k := range ks {
		_, mine := w.newRows[string(k)]
		if ixs[i] != nil {
			_, mine = w.newIdx[string(k)]
		}
		if mine {
			if h.oc.DoNothing {
				return nil
			}
			return sqlerr.New(sqlerr.CodeCardinalityViolation, "ON CONFLICT DO UPDATE command cannot affect row a second time").
				WithHint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values.")
		}
		v, err := h.existing(ctx, k, ixs[i])
		if err != nil {
			return err
		}
		if v != nil {
			old = v
			break
		}
	}
	if old == nil {
		if err := w.check(one, nil); err != nil {
			return err
		}
		if err := w.insert(cols, 0); err != nil {
			return err
		}
		return h.ret.add(one)
	}
	if h.oc.DoNothing {
		return nil
	}
	if err := h.dec.Append(old); err != nil {
		return err
	}
	oldCols := h.dec.NewArrays()
	both := newBatch(h.both, append(append([]arrow.Array(nil), oldCols...), retainAll(cols)...), 1)
	defer both.Release()
	if h.where != nil {
		m, err := h.where.Eval(both)
		if err != nil {
			return err
		}
		ok := countTrue(m) == 1
		m.Release()
		if !ok {
			return nil
		}
	}
	newCols := make([]arrow.Array, len(oldCols))
	for i, c := range oldCols {
		c.Retain()
		newCols[i] = c
	}
	for i, ev := range h.set {
		a, err := ev.Eval(both)
		if err != nil {
			releaseAll(newCols)
			return err
		}
		newCols[h.setCols[i]].Release()
		newCols[h.setCols[i]] = a
	}
	nb := newBatch(h.table, newCols, 1)
	defer nb.Release()
	if err := w.check(nb, h.setCols); err != nil {
		return err
	}
	if err := w.update(oldCols, nb.Columns(), 0, h.pkSet); err != nil {
		return err
	}
	return h.ret.add(nb)
}

func retainAll(cols []arrow.Array) []arrow.Array {
	for _, c := range cols {
		c.Retain()
	}
	return cols
}
