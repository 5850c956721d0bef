package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/rowcodec"
)

// appendIndexColumn appends the key encoding of row of col, NULL included.
func appendIndexColumn(key []byte, col arrow.Array, row int) []byte {
	if col.IsNull(row) {
		return keys.AppendNull(key)
	}
	return appendKeyColumn(key, col, row)
}

// AppendKeyValue appends the key encoding of a Go value of a SQL column
// (nil, bool, int32, int64, float64, string); false when the value's type
// has no key encoding.
func AppendKeyValue(key []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return keys.AppendNull(key), true
	case bool:
		return keys.AppendBool(key, x), true
	case int32:
		return keys.AppendInt(key, int64(x)), true
	case int64:
		return keys.AppendInt(key, x), true
	case float64:
		return keys.AppendFloat(key, x), true
	case string:
		return keys.AppendString(key, x), true
	}
	return key, false
}

// indexEntry returns the key and value of row's entry in ix. unique is set
// when the entry uses the unique form (the key holds only the index
// columns, so a second row with the same values collides).
func indexEntry(db uint64, t *catalog.Table, ix *catalog.Index, cols []arrow.Array, row int, pk []byte) (key []byte, unique bool) {
	key = keys.IndexPrefix(db, t.ID, ix.ID)
	hasNull := false
	for _, c := range ix.Columns {
		hasNull = hasNull || cols[c].IsNull(row)
		key = appendIndexColumn(key, cols[c], row)
	}
	if ix.Unique && !hasNull {
		return key, true
	}
	return append(key, pk...), false
}

// tableWriter collects one statement's writes to one table — rows and
// their index entries — and checks keys and constraints.
type tableWriter struct {
	env    *Env
	t      *catalog.Table
	prefix []byte
	cons   *plan.Constraints
	checks []*Evaluator

	dels, puts []storage.Mutation
	newRows    map[string]struct{} // row keys put
	delRows    map[string]struct{} // row keys deleted or rewritten
	probeRows  [][]byte            // row keys that must not exist unless in delRows
	newIdx     map[string]*catalog.Index
	delIdx     map[string]struct{}
	probeIdx   [][]byte
	// parentProbes: per foreign key, encoded parent lookup keys.
	parentProbes map[int]map[string]struct{}
	// goneKeys: per child FK, encoded referenced values no longer present.
	goneKeys map[int]map[string][]any
	n        int64
	// uniqueKeys is set when new row keys cannot collide with anything:
	// the table is keyed by fresh row ids, so insert skips the duplicate
	// checks (within the statement and at the snapshot).
	uniqueKeys bool
	// freshID is set when the table's id is new in this statement (ALTER
	// TABLE ADD PRIMARY KEY): the snapshot holds no row under it, so only
	// duplicates within the statement are checked.
	freshID bool
}

func newTableWriter(env *Env, t *catalog.Table, cons *plan.Constraints) (*tableWriter, error) {
	w := &tableWriter{
		env: env, t: t, prefix: keys.TablePrefix(env.DB, t.ID), cons: cons,
		newRows: map[string]struct{}{}, delRows: map[string]struct{}{},
		newIdx: map[string]*catalog.Index{}, delIdx: map[string]struct{}{},
		parentProbes: map[int]map[string]struct{}{}, goneKeys: map[int]map[string][]any{},
		uniqueKeys: t.RowID() >= 0,
	}
	// A concurrent schema change of t (a new index, a rewrite) aborts us.
	dk := keys.TableDescriptorKey(env.DB, t.Name)
	env.pin(dk, keys.Next(dk))
	if cons != nil {
		for _, c := range cons.Checks {
			ev, err := Compile(env.Mem, c.Expr)
			if err != nil {
				w.release()
				return nil, err
			}
			w.checks = append(w.checks, ev)
		}
	}
	return w, nil
}

func (w *tableWriter) release() {
	for _, ev := range w.checks {
		ev.Release()
	}
	w.checks = nil
}

// check runs NOT NULL (which: nil for all columns) and CHECK constraints
// over a batch of new rows.
func (w *tableWriter) check(b arrow.RecordBatch, which []int) error {
	if err := checkNotNull(w.t, b.Columns(), which); err != nil {
		return err
	}
	for i, ev := range w.checks {
		a, err := ev.Eval(b)
		if err != nil {
			return err
		}
		bad := -1
		if ba, ok := a.(*array.Boolean); ok {
			for r := range ba.Len() {
				if ba.IsValid(r) && !ba.Value(r) {
					bad = r
					break
				}
			}
		}
		a.Release()
		if bad >= 0 {
			e := sqlerr.New(sqlerr.CodeCheckViolation, "new row for relation %q violates check constraint %q", w.t.Name, w.cons.Checks[i].Name)
			e.Detail = "Failing row contains " + rowText(b.Columns(), bad) + "."
			return e
		}
	}
	return nil
}

// rowText renders a row as PostgreSQL's "Failing row contains (...)".
func rowText(cols []arrow.Array, row int) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		if c.IsNull(row) {
			parts[i] = "null"
		} else {
			parts[i] = fmt.Sprint(valueAt(c, row))
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// insert adds row of the table-shaped cols as a new row.
func (w *tableWriter) insert(cols []arrow.Array, row int) error {
	key := rowKey(w.prefix, w.t, cols, row)
	if !w.uniqueKeys {
		if _, dup := w.newRows[string(key)]; dup {
			return duplicateKey(w.t, w.prefix, key)
		}
		w.newRows[string(key)] = struct{}{}
		if !w.freshID {
			w.probeRows = append(w.probeRows, key)
		}
	}
	val, err := rowcodec.AppendArrays(nil, cols, row)
	if err != nil {
		return err
	}
	w.puts = append(w.puts, storage.Mutation{Key: key, Value: val})
	pk := key[len(w.prefix):]
	for i := range w.t.Indexes {
		if err := w.putIndex(&w.t.Indexes[i], cols, row, pk); err != nil {
			return err
		}
	}
	w.probeParents(cols, row, nil)
	w.n++
	return nil
}

func (w *tableWriter) putIndex(ix *catalog.Index, cols []arrow.Array, row int, pk []byte) error {
	k, unique := indexEntry(w.env.DB, w.t, ix, cols, row, pk)
	if unique {
		if _, dup := w.newIdx[string(k)]; dup {
			return duplicateIndexKey(w.t, ix, cols, row)
		}
		w.newIdx[string(k)] = ix
		w.probeIdx = append(w.probeIdx, k)
	}
	w.puts = append(w.puts, storage.Mutation{Key: k, Value: append([]byte(nil), pk...)})
	return nil
}

// update replaces the row of oldCols with the row of newCols (same row
// index); pkChanges says whether the primary key may differ.
func (w *tableWriter) update(oldCols, newCols []arrow.Array, row int, pkChanges bool) error {
	key := rowKey(w.prefix, w.t, newCols, row)
	old := key
	if pkChanges {
		old = rowKey(w.prefix, w.t, oldCols, row)
	}
	w.delRows[string(old)] = struct{}{}
	if _, dup := w.newRows[string(key)]; dup {
		return duplicateKey(w.t, w.prefix, key)
	}
	w.newRows[string(key)] = struct{}{}
	moved := !bytes.Equal(old, key)
	if moved {
		w.dels = append(w.dels, storage.Mutation{Key: old, Delete: true})
		w.probeRows = append(w.probeRows, key)
	}
	val, err := rowcodec.AppendArrays(nil, newCols, row)
	if err != nil {
		return err
	}
	w.puts = append(w.puts, storage.Mutation{Key: key, Value: val})
	oldPK, newPK := old[len(w.prefix):], key[len(w.prefix):]
	for i := range w.t.Indexes {
		ix := &w.t.Indexes[i]
		ok, _ := indexEntry(w.env.DB, w.t, ix, oldCols, row, oldPK)
		nk, _ := indexEntry(w.env.DB, w.t, ix, newCols, row, newPK)
		if bytes.Equal(ok, nk) {
			if moved { // same entry, new primary key: rewrite its value
				if _, dup := w.newIdx[string(nk)]; dup {
					return duplicateIndexKey(w.t, ix, newCols, row)
				}
				w.newIdx[string(nk)] = ix
				w.puts = append(w.puts, storage.Mutation{Key: nk, Value: append([]byte(nil), newPK...)})
			}
			continue
		}
		{
			w.dels = append(w.dels, storage.Mutation{Key: ok, Delete: true})
			w.delIdx[string(ok)] = struct{}{}
		}
		if err := w.putIndex(ix, newCols, row, newPK); err != nil {
			return err
		}
	}
	w.probeParents(newCols, row, oldCols)
	w.noteGone(oldCols, newCols, row)
	w.n++
	return nil
}

// remove deletes the row of cols.
func (w *tableWriter) remove(cols []arrow.Array, row int) {
	key := rowKey(w.prefix, w.t, cols, row)
	w.delRows[string(key)] = struct{}{}
	w.dels = append(w.dels, storage.Mutation{Key: key, Delete: true})
	pk := key[len(w.prefix):]
	for i := range w.t.Indexes {
		k, _ := indexEntry(w.env.DB, w.t, &w.t.Indexes[i], cols, row, pk)
		w.dels = append(w.dels, storage.Mutation{Key: k, Delete: true})
		w.delIdx[string(k)] = struct{}{}
	}
	w.noteGone(cols, nil, row)
	w.n++
}

// parentKey returns the key whose presence proves the parent row of fk
// exists for row (a row key or a unique index key), nil when a column is
// NULL (MATCH SIMPLE: no check).
func parentKey(db uint64, fkc *plan.FKCheck, cols []arrow.Array, row int) []byte {
	p := fkc.Parent
	ix, isPK := p.UniqueOn(fkc.FK.RefColumns)
	var key []byte
	var order []int
	if isPK {
		key, order = keys.TablePrefix(db, p.ID), p.PrimaryKey
	} else if ix != nil {
		key, order = keys.IndexPrefix(db, p.ID, ix.ID), ix.Columns
	} else {
		return nil
	}
	for _, pc := range order {
		// The child column matched to parent column pc.
		for j, rc := range fkc.FK.RefColumns {
			if rc == pc {
				c := cols[fkc.FK.Columns[j]]
				if c.IsNull(row) {
					return nil
				}
				key = appendKeyColumn(key, c, row)
			}
		}
	}
	return key
}

func (w *tableWriter) probeParents(cols []arrow.Array, row int, oldCols []arrow.Array) {
	if w.cons == nil {
		return
	}
	for i := range w.cons.FKs {
		fkc := &w.cons.FKs[i]
		k := parentKey(w.env.DB, fkc, cols, row)
		if k == nil {
			continue
		}
		if oldCols != nil {
			if ok := parentKey(w.env.DB, fkc, oldCols, row); bytes.Equal(ok, k) {
				continue // unchanged reference
			}
		}
		if w.parentProbes[i] == nil {
			w.parentProbes[i] = map[string]struct{}{}
		}
		w.parentProbes[i][string(k)] = struct{}{}
	}
}

// refTuple encodes the values of cols (ordinals) of row; nil when one is NULL.
func refTuple(cols []arrow.Array, ords []int, row int) ([]byte, []any) {
	var key []byte
	var vals []any
	for _, c := range ords {
		if cols[c].IsNull(row) {
			return nil, nil
		}
		key = appendKeyColumn(key, cols[c], row)
		vals = append(vals, valueAt(cols[c], row))
	}
	return key, vals
}

// noteGone records referenced values that disappear from this (parent)
// table: deleted rows, or updated rows whose referenced columns change.
func (w *tableWriter) noteGone(oldCols, newCols []arrow.Array, row int) {
	if w.cons == nil {
		return
	}
	for i := range w.cons.Children {
		fk := &w.cons.Children[i].FK
		k, vals := refTuple(oldCols, fk.RefColumns, row)
		if k == nil {
			continue
		}
		if newCols != nil {
			if nk, _ := refTuple(newCols, fk.RefColumns, row); bytes.Equal(nk, k) {
				continue
			}
		}
		if w.goneKeys[i] == nil {
			w.goneKeys[i] = map[string][]any{}
		}
		w.goneKeys[i][string(k)] = vals
	}
}

// finish runs the checks that need reads at the snapshot and returns the
// mutations: deletes first, then puts (the write buffer keeps the last
// write of a key).
func (w *tableWriter) finish(ctx context.Context) ([]storage.Mutation, error) {
	var probe []storage.Mutation
	for _, k := range w.probeRows {
		if _, ok := w.delRows[string(k)]; !ok {
			probe = append(probe, storage.Mutation{Key: k})
		}
	}
	if dup, err := firstExisting(ctx, w.env, probe); err != nil {
		return nil, err
	} else if dup != nil {
		return nil, duplicateKey(w.t, w.prefix, dup)
	}
	probe = probe[:0]
	for _, k := range w.probeIdx {
		if _, ok := w.delIdx[string(k)]; !ok {
			probe = append(probe, storage.Mutation{Key: k})
		}
	}
	if dup, err := firstExisting(ctx, w.env, probe); err != nil {
		return nil, err
	} else if dup != nil {
		ix := w.newIdx[string(dup)]
		return nil, duplicateIndexKeyFromKey(w.env.DB, w.t, ix, dup)
	}
	for i, set := range w.parentProbes {
		fkc := &w.cons.FKs[i]
		for k := range set {
			// A concurrent delete of the parent row aborts us.
			w.env.pin([]byte(k), keys.Next([]byte(k)))
			ok, err := keyExists(ctx, w.env, []byte(k))
			if err != nil {
				return nil, err
			}
			if !ok && fkc.Parent.Name == w.t.Name {
				_, ok = w.newRows[k] // self-reference to a row of this statement
			}
			if !ok {
				e := sqlerr.New(sqlerr.CodeForeignKeyViolation, "insert or update on table %q violates foreign key constraint %q", w.t.Name, fkc.FK.Name)
				e.Detail = fmt.Sprintf("Key (%s)=(%s) is not present in table %q.", colNames(w.t, fkc.FK.Columns), decodedText([]byte(k), fkc.Parent, fkc.FK.RefColumns, w.env.DB), fkc.Parent.Name)
				return nil, e
			}
		}
	}
	for i, gone := range w.goneKeys {
		if err := w.checkChildren(ctx, &w.cons.Children[i], gone); err != nil {
			return nil, err
		}
	}
	return append(w.dels, w.puts...), nil
}

// decodedText renders the values of a parent lookup key.
func decodedText(k []byte, p *catalog.Table, _ []int, _ uint64) string {
	// The key is a table or index prefix ("db", D, "t"|"i", T[, I]) then values.
	vals, err := keys.DecodeTuple(k)
	if err != nil {
		return "?"
	}
	skip := 4
	if len(vals) > 2 && vals[2] == "i" {
		skip = 5
	}
	var parts []string
	for _, v := range vals[min(skip, len(vals)):] {
		parts = append(parts, fmt.Sprint(v))
	}
	return strings.Join(parts, ", ")
}

func colNames(t *catalog.Table, ords []int) string {
	var names []string
	for _, c := range ords {
		names = append(names, t.Columns[c].Name)
	}
	return strings.Join(names, ", ")
}

// checkChildren answers 23503 when a child row still references one of the
// gone parent values.
func (w *tableWriter) checkChildren(ctx context.Context, ch *plan.FKChild, gone map[string][]any) error {
	if len(gone) == 0 {
		return nil
	}
	// Values the same statement re-adds (an UPDATE keeping a key) are not gone.
	fail := func(vals []any) error {
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		e := sqlerr.New(sqlerr.CodeForeignKeyViolation, "update or delete on table %q violates foreign key constraint %q on table %q", w.t.Name, ch.FK.Name, ch.Child.Name)
		e.Detail = fmt.Sprintf("Key (%s)=(%s) is still referenced from table %q.", colNames(w.t, ch.FK.RefColumns), strings.Join(parts, ", "), ch.Child.Name)
		return e
	}
	// With a child index led by the FK columns, probe each value.
	for i := range ch.Child.Indexes {
		ix := &ch.Child.Indexes[i]
		if len(ix.Columns) < len(ch.FK.Columns) || !slices.Equal(ix.Columns[:len(ch.FK.Columns)], ch.FK.Columns) {
			continue
		}
		for k, vals := range gone {
			p := append(keys.IndexPrefix(w.env.DB, ch.Child.ID, ix.ID), k...)
			w.env.pin(p, keys.PrefixEnd(p)) // a concurrent child insert aborts us
			found := false
			err := w.env.KV.Scan(ctx, w.env.Snap, p, keys.PrefixEnd(p), 1, func(b arrow.RecordBatch) error {
				found = found || b.NumRows() > 0
				return nil
			})
			if err != nil {
				return fmt.Errorf("exec: foreign key probe: %w", err)
			}
			if found {
				return fail(vals)
			}
		}
		return nil
	}
	// Otherwise scan the child table once (pinned: a concurrent child
	// write aborts us).
	cp := keys.TablePrefix(w.env.DB, ch.Child.ID)
	w.env.pin(cp, keys.PrefixEnd(cp))
	op := newScan(w.env, &plan.Scan{Table: ch.Child})
	defer op.Close()
	return Drain(ctx, op, func(b arrow.RecordBatch) error {
		cols := b.Columns()
		for r := range int(b.NumRows()) {
			k, _ := refTuple(cols, ch.FK.Columns, r)
			if k == nil {
				continue
			}
			if vals, ok := gone[string(k)]; ok {
				return fail(vals)
			}
		}
		return nil
	})
}

// duplicateIndexKey builds the 23505 error of a unique index from a row.
func duplicateIndexKey(t *catalog.Table, ix *catalog.Index, cols []arrow.Array, row int) error {
	var vals []string
	for _, c := range ix.Columns {
		vals = append(vals, fmt.Sprint(valueAt(cols[c], row)))
	}
	e := sqlerr.New(sqlerr.CodeUniqueViolation, "duplicate key value violates unique constraint %q", ix.Name)
	e.Detail = fmt.Sprintf("Key (%s)=(%s) already exists.", colNames(t, ix.Columns), strings.Join(vals, ", "))
	return e
}

func duplicateIndexKeyFromKey(db uint64, t *catalog.Table, ix *catalog.Index, key []byte) error {
	prefix := keys.IndexPrefix(db, t.ID, ix.ID)
	vals, _ := keys.DecodeTuple(key[len(prefix):])
	var parts []string
	for _, v := range vals {
		parts = append(parts, fmt.Sprint(v))
	}
	e := sqlerr.New(sqlerr.CodeUniqueViolation, "duplicate key value violates unique constraint %q", ix.Name)
	e.Detail = fmt.Sprintf("Key (%s)=(%s) already exists.", colNames(t, ix.Columns), strings.Join(parts, ", "))
	return e
}

// readRows returns the values of the given keys (absent keys are missing
// from the map). Like firstExisting it reads the spanned range in one scan
// when that range is dense enough, else point reads.
func readRows(ctx context.Context, env *Env, ks [][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(ks))
	if len(ks) == 0 {
		return out, nil
	}
	sorted := slices.Clone(ks)
	slices.SortFunc(sorted, bytes.Compare)
	want := make(map[string]struct{}, len(ks))
	for _, k := range ks {
		want[string(k)] = struct{}{}
	}
	if len(sorted) > 1 {
		budget := 4*len(sorted) + 64
		err := env.KV.Scan(ctx, env.Snap, sorted[0], keys.Next(sorted[len(sorted)-1]), 0, func(b arrow.RecordBatch) error {
			kc := b.Column(0).(*array.Binary)
			vc := b.Column(1).(*array.Binary)
			for i := range kc.Len() {
				if _, ok := want[string(kc.Value(i))]; ok {
					out[string(kc.Value(i))] = append([]byte(nil), vc.Value(i)...)
				}
			}
			budget -= kc.Len()
			if budget < 0 {
				return errScanBudget
			}
			return nil
		})
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, errScanBudget) {
			return nil, fmt.Errorf("exec: row fetch: %w", err)
		}
	}
	for _, k := range sorted {
		if _, done := out[string(k)]; done {
			continue
		}
		err := env.KV.Scan(ctx, env.Snap, k, keys.Next(k), 1, func(b arrow.RecordBatch) error {
			if b.NumRows() > 0 {
				out[string(k)] = append([]byte(nil), b.Column(1).(*array.Binary).Value(0)...)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("exec: row fetch: %w", err)
		}
	}
	return out, nil
}

// scanBounds computes the key range of an index scan.
func scanBounds(db uint64, s *plan.IndexScan) (start, end []byte, err error) {
	var base []byte
	if s.Index == nil {
		base = keys.TablePrefix(db, s.Table.ID)
	} else {
		base = keys.IndexPrefix(db, s.Table.ID, s.Index.ID)
	}
	enc := func(b []byte, e plan.Expr) ([]byte, error) {
		c, ok := e.(*plan.Const)
		if !ok {
			return nil, fmt.Errorf("exec: index bound %s is not a constant", e)
		}
		out, ok := AppendKeyValue(b, c.Value)
		if !ok {
			return nil, fmt.Errorf("exec: index bound of type %T", c.Value)
		}
		return out, nil
	}
	for _, e := range s.Eq {
		if base, err = enc(base, e); err != nil {
			return nil, nil, err
		}
	}
	start, end = base, keys.PrefixEnd(base)
	if s.Lo != nil || s.Hi != nil {
		start = append(slices.Clone(base), 0x02) // after NULL (tag 0x01)
	}
	if s.Lo != nil {
		k, err := enc(slices.Clone(base), s.Lo)
		if err != nil {
			return nil, nil, err
		}
		if s.LoIncl {
			start = k
		} else {
			start = keys.PrefixEnd(k)
		}
	}
	if s.Hi != nil {
		k, err := enc(slices.Clone(base), s.Hi)
		if err != nil {
			return nil, nil, err
		}
		if s.HiIncl {
			end = keys.PrefixEnd(k)
		} else {
			end = k
		}
	}
	return start, end, nil
}

// newIndexScan builds the operator of an IndexScan: a narrowed row scan for
// the primary key, an index-entry scan plus row fetch for a secondary index.
func newIndexScan(env *Env, s *plan.IndexScan) (Operator, error) {
	start, end, err := scanBounds(env.DB, s)
	if err != nil {
		return nil, err
	}
	if s.Index == nil {
		op := newScan(env, &plan.Scan{Table: s.Table})
		op.start, op.end = start, end
		if bytes.Compare(start, end) >= 0 {
			op.started = true // nothing to read: Next answers the end
		}
		return op, nil
	}
	return &indexScanOp{
		env: env, t: s.Table, schema: schemaOf(s.Columns()),
		dec:  rowcodec.NewDecoder(memOr(env.Mem), s.Table.Kinds()),
		next: start, end: end, done: bytes.Compare(start, end) >= 0,
	}, nil
}

// indexScanOp reads index entries in key order, BatchRows at a time, and
// fetches their rows by primary key.
type indexScanOp struct {
	env    *Env
	t      *catalog.Table
	schema *arrow.Schema
	dec    *rowcodec.Decoder
	next   []byte
	end    []byte
	done   bool
}

func (s *indexScanOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	for !s.done {
		limit := s.env.batchRows()
		var rowKeys [][]byte
		var last []byte
		prefix := keys.TablePrefix(s.env.DB, s.t.ID)
		err := s.env.KV.Scan(ctx, s.env.Snap, s.next, s.end, limit, func(b arrow.RecordBatch) error {
			kc := b.Column(0).(*array.Binary)
			vc := b.Column(1).(*array.Binary)
			for i := range kc.Len() {
				rowKeys = append(rowKeys, append(slices.Clone(prefix), vc.Value(i)...))
			}
			if n := kc.Len(); n > 0 {
				last = append(last[:0], kc.Value(n-1)...)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("exec: index scan: %w", err)
		}
		if len(rowKeys) < limit {
			s.done = true
		} else {
			s.next = keys.Next(last)
		}
		if len(rowKeys) == 0 {
			return nil, nil
		}
		vals, err := readRows(ctx, s.env, rowKeys)
		if err != nil {
			return nil, err
		}
		s.dec.Reserve(len(rowKeys))
		for _, k := range rowKeys {
			v, ok := vals[string(k)]
			if !ok {
				return nil, sqlerr.New(sqlerr.CodeInternalError, "index entry of table %q points at missing row %x", s.t.Name, k)
			}
			if err := s.dec.Append(v); err != nil {
				return nil, fmt.Errorf("exec: decode row %x: %w", k, err)
			}
		}
		return newBatch(s.schema, s.dec.NewArrays(), len(rowKeys)), nil
	}
	return nil, nil
}

func (s *indexScanOp) Close() {
	if s.dec != nil {
		s.dec.Release()
		s.dec = nil
	}
}
