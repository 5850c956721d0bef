package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/rowcodec"
)

// Insert runs an INSERT: it checks NOT NULL constraints, encodes every row
// of the source into a key and a value, rejects primary keys that repeat
// within the statement or exist at the snapshot (23505), and returns the
// mutations to commit with the number of rows.
func Insert(ctx context.Context, env *Env, ins *plan.Insert) ([]storage.Mutation, int64, error) {
	src, err := Build(env, ins.Source)
	if err != nil {
		return nil, 0, err
	}
	t := ins.Table
	prefix := keys.TablePrefix(env.DB, t.ID)
	seen := make(map[string]struct{})
	var muts []storage.Mutation
	err = Drain(ctx, src, func(b arrow.RecordBatch) error {
		cols := b.Columns()
		for i, c := range t.Columns {
			if c.NotNull && cols[i].NullN() > 0 {
				return sqlerr.New(sqlerr.CodeNotNullViolation,
					"null value in column %q of relation %q violates not-null constraint", c.Name, t.Name)
			}
		}
		for row := range int(b.NumRows()) {
			key := append([]byte(nil), prefix...)
			for _, ci := range t.PrimaryKey {
				key = appendKeyColumn(key, cols[ci], row)
			}
			if _, dup := seen[string(key)]; dup {
				return duplicateKey(t, cols, row)
			}
			seen[string(key)] = struct{}{}
			val, err := rowcodec.AppendArrays(nil, cols, row)
			if err != nil {
				return err
			}
			exists, err := keyExists(ctx, env, key)
			if err != nil {
				return err
			}
			if exists {
				return duplicateKey(t, cols, row)
			}
			muts = append(muts, storage.Mutation{Key: key, Value: val})
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return muts, int64(len(muts)), nil
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

func duplicateKey(t *catalog.Table, cols []arrow.Array, row int) error {
	names, vals := "", ""
	for i, ci := range t.PrimaryKey {
		if i > 0 {
			names += ", "
			vals += ", "
		}
		names += t.Columns[ci].Name
		vals += fmt.Sprint(valueAt(cols[ci], row))
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
	return catalog.CreateMutations(env.DB, &t)
}

// DropTable returns the mutations dropping the tables.
func DropTable(env *Env, dt *plan.DropTable) []storage.Mutation {
	var muts []storage.Mutation
	for _, t := range dt.Tables {
		muts = append(muts, catalog.DropMutations(env.DB, t)...)
	}
	return muts
}
