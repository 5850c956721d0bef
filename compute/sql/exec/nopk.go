package exec

import (
	"context"
	"encoding/binary"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
)

// rowIDCounter numbers the row ids this process hands out. It never
// repeats within the process; together with the inserting statement's
// snapshot timestamp (unique per KV.Begin across the cluster) it makes
// every row id unique without coordination (catalog.RowIDColumn).
var rowIDCounter atomic.Uint64

// NewRowID returns a fresh row id for a row inserted by a statement that
// reads at snapshot timestamp ts: ts then this process's counter, both
// big-endian (catalog.RowIDLen bytes).
func NewRowID(ts uint64) []byte {
	b := make([]byte, catalog.RowIDLen)
	binary.BigEndian.PutUint64(b, ts)
	binary.BigEndian.PutUint64(b[8:], rowIDCounter.Add(1))
	return b
}

// withRowIDs returns b, table-shaped for a table keyed by a hidden row id
// at ordinal rid, with that column filled with fresh row ids (whatever the
// binder put there: it is not settable). The caller releases the result.
func withRowIDs(env *Env, b arrow.RecordBatch, rid int) arrow.RecordBatch {
	bld := array.NewBinaryBuilder(env.Mem, arrow.BinaryTypes.Binary)
	defer bld.Release()
	n := int(b.NumRows())
	bld.Reserve(n)
	bld.ReserveData(n * catalog.RowIDLen)
	for range n {
		bld.Append(NewRowID(env.Snap.TS))
	}
	ids := bld.NewArray()
	defer ids.Release()
	cols := slices.Clone(b.Columns())
	cols[rid] = ids
	return array.NewRecordBatch(b.Schema(), cols, b.NumRows())
}

// addPrimaryKeyError turns a duplicate-key error of the rewrite of ALTER
// TABLE ADD PRIMARY KEY into PostgreSQL's answer for it.
func addPrimaryKeyError(t *catalog.Table, err error) error {
	se := sqlerr.As(err)
	if se == nil || se.Code != sqlerr.CodeUniqueViolation {
		return err
	}
	e := sqlerr.New(sqlerr.CodeUniqueViolation, "could not create unique index %q", t.Name+"_pkey")
	e.Detail = strings.Replace(se.Detail, " already exists.", " is duplicated.", 1)
	return e
}

// moveTable runs an ALTER TABLE whose primary key changed: the table gets
// a fresh id (from the id counter, as TRUNCATE does) and every row of the
// old one is written there from at.Source, with its index entries, through
// the table writer (NOT NULL, CHECK, duplicate keys). The old rows and
// index entries become garbage for a GC, so nothing is deleted: the
// transaction writes each row once. The old rows are pinned, so a
// concurrent write to the table aborts this transaction (40001).
func moveTable(ctx context.Context, env *Env, at *plan.AlterTable) ([]storage.Mutation, error) {
	old := keys.TablePrefix(env.DB, at.Old.ID)
	env.pin(old, keys.PrefixEnd(old))
	r := &catalog.Reader{KV: env.KV, Snap: env.Snap, DB: env.DB}
	next, err := r.NextID(ctx)
	if err != nil {
		return nil, err
	}
	nt := *at.New
	nt.ID = next
	src, err := Build(env, at.Source)
	if err != nil {
		return nil, err
	}
	w, err := newTableWriter(env, &nt, &at.Cons)
	if err != nil {
		src.Close()
		return nil, err
	}
	defer w.release()
	w.freshID = true
	err = Drain(ctx, src, func(b arrow.RecordBatch) error {
		if err := w.check(b, nil); err != nil {
			return notNullRewriteError(&nt, b, err)
		}
		cols := b.Columns()
		for row := range int(b.NumRows()) {
			if err := w.insert(cols, row); err != nil {
				return addPrimaryKeyError(&nt, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	muts, err := w.finish(ctx)
	if err != nil {
		return nil, addPrimaryKeyError(&nt, err)
	}
	if at.Old.Name != nt.Name {
		muts = append(muts, storage.Mutation{Key: keys.TableDescriptorKey(env.DB, at.Old.Name), Delete: true})
	}
	for _, n := range at.DroppedIndexes {
		muts = append(muts, catalog.IndexNameMutation(env.DB, n, ""))
	}
	d, err := catalog.PutMutation(env.DB, &nt)
	if err != nil {
		return nil, err
	}
	return append(muts, d, catalog.NextIDMutation(env.DB, next+1)), nil
}

// notNullRewriteError words a NOT NULL violation found while rewriting
// existing rows as PostgreSQL does ("column ... contains null values").
func notNullRewriteError(t *catalog.Table, b arrow.RecordBatch, err error) error {
	if se := sqlerr.As(err); se != nil && se.Code == sqlerr.CodeNotNullViolation {
		for i, c := range t.Columns {
			if c.NotNull && b.Column(i).NullN() > 0 {
				return sqlerr.New(sqlerr.CodeNotNullViolation, "column %q of relation %q contains null values", c.Name, t.Name)
			}
		}
	}
	return err
}
