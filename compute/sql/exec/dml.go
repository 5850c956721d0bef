package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
)

// Insert runs an INSERT: it checks NOT NULL constraints, encodes every row
// of the source into a key and a value, rejects primary keys that repeat
// within the statement or exist at the snapshot (23505), emits RETURNING
// rows computed over the inserted rows, and returns the mutations to commit
// with the number of rows.
func Insert(ctx context.Context, env *Env, ins *plan.Insert, emit Emit) ([]storage.Mutation, int64, error) {
	ret, err := newReturner(env, ins.Returning, emit)
	if err != nil {
		return nil, 0, err
	}
	defer ret.release()
	src, err := Build(env, ins.Source)
	if err != nil {
		return nil, 0, err
	}
	w, err := newTableWriter(env, ins.Table, &ins.Cons)
	if err != nil {
		src.Close()
		return nil, 0, err
	}
	defer w.release()
	var oc *conflictHandler
	if ins.OnConflict != nil {
		if oc, err = newConflictHandler(env, w, ins.OnConflict, ret); err != nil {
			src.Close()
			return nil, 0, err
		}
		defer oc.release()
	}
	rid := ins.Table.RowID()
	err = Drain(ctx, src, func(b arrow.RecordBatch) error {
		if rid >= 0 {
			b = withRowIDs(env, b, rid)
			defer b.Release()
		}
		if oc != nil {
			return oc.batch(ctx, b)
		}
		if err := w.check(b, nil); err != nil {
			return err
		}
		cols := b.Columns()
		for row := range int(b.NumRows()) {
			if err := w.insert(cols, row); err != nil {
				return err
			}
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

// errScanBudget stops a range scan that reads too many foreign rows.
var errScanBudget = errors.New("exec: scan budget exhausted")

// firstExisting returns the first of the mutations' keys that already has a
// live row at the snapshot, or nil. It reads the range spanning the keys in
// one scan — bulk inserts usually target an empty or sparse range — and
// falls back to point reads when that range holds many other rows.
func firstExisting(ctx context.Context, env *Env, muts []storage.Mutation) ([]byte, error) {
	if len(muts) == 0 {
		return nil, nil
	}
	sorted := make([][]byte, len(muts))
	want := make(map[string]struct{}, len(muts))
	for i, m := range muts {
		sorted[i] = m.Key
		want[string(m.Key)] = struct{}{}
	}
	slices.SortFunc(sorted, bytes.Compare)
	if len(sorted) > 1 {
		budget := 4*len(sorted) + 1024
		var found []byte
		err := env.KV.Scan(ctx, env.Snap, sorted[0], keys.Next(sorted[len(sorted)-1]), 0, func(b arrow.RecordBatch) error {
			ks := b.Column(0).(*array.Binary)
			for i := range ks.Len() {
				if _, ok := want[string(ks.Value(i))]; ok {
					found = append([]byte(nil), ks.Value(i)...)
					return errScanBudget
				}
			}
			budget -= ks.Len()
			if budget < 0 {
				return errScanBudget
			}
			return nil
		})
		switch {
		case found != nil:
			return found, nil
		case err == nil:
			return nil, nil
		case !errors.Is(err, errScanBudget):
			return nil, fmt.Errorf("exec: duplicate check: %w", err)
		}
	}
	for _, k := range sorted {
		exists, err := keyExists(ctx, env, k)
		if err != nil {
			return nil, err
		}
		if exists {
			return k, nil
		}
	}
	return nil, nil
}

func appendKeyColumn(key []byte, col arrow.Array, row int) []byte {
	switch c := col.(type) {
	case *array.Boolean:
		return keys.AppendBool(key, c.Value(row))
	case *array.Int32:
		return keys.AppendInt(key, int64(c.Value(row)))
	case *array.Int64:
		return keys.AppendInt(key, c.Value(row))
	case *array.Float64:
		return keys.AppendFloat(key, c.Value(row))
	case *array.String:
		return keys.AppendString(key, c.Value(row))
	}
	panic(fmt.Sprintf("exec: unsupported key column type %s", col.DataType()))
}

// duplicateKey builds the 23505 error for a row key, naming the key values
// decoded from the key itself.
func duplicateKey(t *catalog.Table, prefix, key []byte) error {
	names, vals := "", ""
	pk, _ := keys.DecodeTuple(key[len(prefix):])
	for i, ci := range t.PrimaryKey {
		if i > 0 {
			names += ", "
			vals += ", "
		}
		names += t.Columns[ci].Name
		if i < len(pk) {
			vals += fmt.Sprint(pk[i])
		}
	}
	e := sqlerr.New(sqlerr.CodeUniqueViolation, "duplicate key value violates unique constraint %q", t.Name+"_pkey")
	e.Detail = fmt.Sprintf("Key (%s)=(%s) already exists.", names, vals)
	return e
}

// keyExists reports whether key has a live value at the snapshot.
func keyExists(ctx context.Context, env *Env, key []byte) (bool, error) {
	found := false
	err := env.KV.Scan(ctx, env.Snap, key, keys.Next(key), 1, func(b arrow.RecordBatch) error {
		found = found || b.NumRows() > 0
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("exec: point read: %w", err)
	}
	return found, nil
}

// CreateTable assigns the next table id and returns the mutations creating
// the table; none when IF NOT EXISTS found it already there.
func CreateTable(ctx context.Context, env *Env, ct *plan.CreateTable) ([]storage.Mutation, error) {
	if ct.Exists {
		return nil, nil
	}
	r := &catalog.Reader{KV: env.KV, Snap: env.Snap, DB: env.DB}
	id, err := r.NextID(ctx)
	if err != nil {
		return nil, err
	}
	t := ct.Table
	t.ID = id
	return createTable(env, ct, &t)
}

// DropTable returns the mutations dropping the tables.
func DropTable(env *Env, dt *plan.DropTable) []storage.Mutation {
	var muts []storage.Mutation
	for _, t := range dt.Tables {
		muts = append(muts, catalog.DropMutations(env.DB, t)...)
		muts = append(muts, dropTableExtras(env, t, dt)...)
	}
	return muts
}
