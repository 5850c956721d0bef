package exec

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/rowcodec"
)

// createTable returns the writes creating t (ID assigned): descriptor, id
// counter, index names, owned sequences, parents' ReferencedBy.
func createTable(env *Env, ct *plan.CreateTable, t *catalog.Table) ([]storage.Mutation, error) {
	muts, err := catalog.CreateMutations(env.DB, t)
	if err != nil {
		return nil, err
	}
	next := t.ID + 1
	for _, s := range ct.Sequences {
		s.ID = next
		next++
		m, err := catalog.SequenceMutation(env.DB, &s, false)
		if err != nil {
			return nil, err
		}
		muts = append(muts, m)
	}
	muts = append(muts, catalog.NextIDMutation(env.DB, next))
	for _, ix := range t.Indexes {
		muts = append(muts, catalog.IndexNameMutation(env.DB, ix.Name, t.Name))
	}
	for _, p := range ct.Parents {
		m, err := catalog.PutMutation(env.DB, p)
		if err != nil {
			return nil, err
		}
		muts = append(muts, m)
	}
	return muts, nil
}

// dropTableExtras returns the writes that go with dropping t: its index
// names, its owned sequences and the parents' ReferencedBy.
func dropTableExtras(env *Env, t *catalog.Table, dt *plan.DropTable) []storage.Mutation {
	var muts []storage.Mutation
	for _, ix := range t.Indexes {
		muts = append(muts, catalog.IndexNameMutation(env.DB, ix.Name, ""))
	}
	if t == dt.Tables[len(dt.Tables)-1] {
		for _, s := range dt.Sequences {
			m, _ := catalog.SequenceMutation(env.DB, s, true)
			muts = append(muts, m)
		}
		for _, p := range dt.Parents {
			if m, err := catalog.PutMutation(env.DB, p); err == nil {
				muts = append(muts, m)
			}
		}
	}
	return muts
}

// CreateIndex returns the writes creating ci.Index on ci.Table: the new
// descriptor, the index name and one entry per existing row (backfill). A
// unique index over duplicate values answers 23505. The table's rows are
// pinned: a concurrent write to them aborts this transaction (40001), so
// no row can miss its entry.
func CreateIndex(ctx context.Context, env *Env, ci *plan.CreateIndex) ([]storage.Mutation, error) {
	if ci.Exists {
		return nil, nil
	}
	t := *ci.Table
	t.Indexes = append(slices.Clone(t.Indexes), ci.Index)
	t.NextIndexID = ci.Index.ID + 1
	t.Version++
	ix := &t.Indexes[len(t.Indexes)-1]
	prefix := keys.TablePrefix(env.DB, t.ID)
	env.pin(prefix, keys.PrefixEnd(prefix))
	var muts []storage.Mutation
	seen := map[string]struct{}{}
	op := newScan(env, &plan.Scan{Table: &t})
	err := Drain(ctx, op, func(b arrow.RecordBatch) error {
		cols := b.Columns()
		for r := range int(b.NumRows()) {
			pk := rowKey(prefix, &t, cols, r)[len(prefix):]
			k, unique := indexEntry(env.DB, &t, ix, cols, r, pk)
			if unique {
				if _, dup := seen[string(k)]; dup {
					e := sqlerr.New(sqlerr.CodeUniqueViolation, "could not create unique index %q", ix.Name)
					var vals []any
					for _, c := range ix.Columns {
						vals = append(vals, valueAt(cols[c], r))
					}
					e.Detail = fmt.Sprintf("Key (%s)=(%s) is duplicated.", colNames(&t, ix.Columns), joinVals(vals))
					return e
				}
				seen[string(k)] = struct{}{}
			}
			muts = append(muts, storage.Mutation{Key: k, Value: append([]byte(nil), pk...)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d, err := catalog.PutMutation(env.DB, &t)
	if err != nil {
		return nil, err
	}
	return append(muts, d, catalog.IndexNameMutation(env.DB, ix.Name, t.Name)), nil
}

func joinVals(vals []any) string {
	s := ""
	for i, v := range vals {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(v)
	}
	return s
}

// DropIndex returns the writes dropping the indexes; their entries become
// garbage (index ids are never reused).
func DropIndex(env *Env, di *plan.DropIndex) ([]storage.Mutation, error) {
	byTable := map[string]*catalog.Table{}
	var order []string
	for i, t := range di.Tables {
		nt, ok := byTable[t.Name]
		if !ok {
			c := *t
			nt = &c
			byTable[t.Name] = nt
			order = append(order, t.Name)
		}
		nt.Indexes = slices.DeleteFunc(slices.Clone(nt.Indexes), func(ix catalog.Index) bool { return ix.Name == di.Names[i] })
		nt.Version++
	}
	var muts []storage.Mutation
	for _, name := range order {
		m, err := catalog.PutMutation(env.DB, byTable[name])
		if err != nil {
			return nil, err
		}
		muts = append(muts, m)
	}
	for _, n := range di.Names {
		muts = append(muts, catalog.IndexNameMutation(env.DB, n, ""))
	}
	return muts, nil
}

// AlterTable returns the writes of an ALTER TABLE: the new descriptor
// (under a new name: the old key deleted), and, when the layout changed,
// every row rewritten from at.Source under its key.
func AlterTable(ctx context.Context, env *Env, at *plan.AlterTable) ([]storage.Mutation, error) {
	var muts []storage.Mutation
	if at.NewID {
		return moveTable(ctx, env, at)
	}
	if at.Rewrite {
		prefix := keys.TablePrefix(env.DB, at.Old.ID)
		env.pin(prefix, keys.PrefixEnd(prefix))
		src, err := Build(env, at.Source)
		if err != nil {
			return nil, err
		}
		w, err := newTableWriter(env, at.New, &at.Cons)
		if err != nil {
			src.Close()
			return nil, err
		}
		defer w.release()
		err = Drain(ctx, src, func(b arrow.RecordBatch) error {
			if err := w.check(b, nil); err != nil {
				if se := sqlerr.As(err); se != nil && se.Code == sqlerr.CodeNotNullViolation {
					for i, c := range at.New.Columns {
						if c.NotNull && b.Column(i).NullN() > 0 {
							return sqlerr.New(sqlerr.CodeNotNullViolation, "column %q of relation %q contains null values", c.Name, at.New.Name)
						}
					}
				}
				return err
			}
			cols := b.Columns()
			for r := range int(b.NumRows()) {
				val, err := rowcodec.AppendArrays(nil, cols, r)
				if err != nil {
					return err
				}
				muts = append(muts, storage.Mutation{Key: rowKey(prefix, at.New, cols, r), Value: val})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if at.Old.Name != at.New.Name {
		muts = append(muts, storage.Mutation{Key: keys.TableDescriptorKey(env.DB, at.Old.Name), Delete: true})
		for _, ix := range at.New.Indexes {
			muts = append(muts, catalog.IndexNameMutation(env.DB, ix.Name, at.New.Name))
		}
	}
	for _, n := range at.DroppedIndexes {
		muts = append(muts, catalog.IndexNameMutation(env.DB, n, ""))
	}
	d, err := catalog.PutMutation(env.DB, at.New)
	if err != nil {
		return nil, err
	}
	return append(muts, d), nil
}

// Truncate empties tables by moving each to a fresh table id: only the
// descriptors and the id counter are written; old rows and index entries
// become garbage for a GC.
func Truncate(ctx context.Context, env *Env, tr *plan.Truncate) ([]storage.Mutation, error) {
	r := &catalog.Reader{KV: env.KV, Snap: env.Snap, DB: env.DB}
	next, err := r.NextID(ctx)
	if err != nil {
		return nil, err
	}
	var muts []storage.Mutation
	for _, t := range tr.Tables {
		c := *t
		c.ID = next
		c.Version++
		next++
		m, err := catalog.PutMutation(env.DB, &c)
		if err != nil {
			return nil, err
		}
		muts = append(muts, m)
	}
	return append(muts, catalog.NextIDMutation(env.DB, next)), nil
}

// CreateSequence returns the writes creating a sequence (id from the
// shared id counter).
func CreateSequence(ctx context.Context, env *Env, cs *plan.CreateSequence) ([]storage.Mutation, error) {
	if cs.Exists {
		return nil, nil
	}
	r := &catalog.Reader{KV: env.KV, Snap: env.Snap, DB: env.DB}
	id, err := r.NextID(ctx)
	if err != nil {
		return nil, err
	}
	s := cs.Seq
	s.ID = id
	m, err := catalog.SequenceMutation(env.DB, &s, false)
	if err != nil {
		return nil, err
	}
	return []storage.Mutation{m, catalog.NextIDMutation(env.DB, id+1)}, nil
}

// DropSequence returns the writes dropping sequences.
func DropSequence(env *Env, ds *plan.DropSequence) []storage.Mutation {
	var muts []storage.Mutation
	for _, s := range ds.Seqs {
		m, _ := catalog.SequenceMutation(env.DB, s, true)
		muts = append(muts, m)
	}
	return muts
}

// histogramBuckets is the number of equi-depth buckets ANALYZE keeps.
const histogramBuckets = 100

// analyzeSample bounds the values per column ANALYZE sorts for the histogram.
const analyzeSample = 30000

// Analyze scans each table once and returns the writes storing its
// statistics: row count, and per column the NULL fraction, the number of
// distinct values (exact up to a bound, then extrapolated) and an
// equi-depth histogram over a reservoir sample.
func Analyze(ctx context.Context, env *Env, a *plan.Analyze) ([]storage.Mutation, error) {
	var muts []storage.Mutation
	for _, t := range a.Tables {
		st, err := analyzeTable(ctx, env, t)
		if err != nil {
			return nil, err
		}
		m, err := catalog.StatsMutation(env.DB, t.ID, st)
		if err != nil {
			return nil, err
		}
		muts = append(muts, m)
	}
	return muts, nil
}

func analyzeTable(ctx context.Context, env *Env, t *catalog.Table) (*catalog.TableStats, error) {
	n := len(t.Columns)
	nulls := make([]int64, n)
	distinct := make([]map[any]struct{}, n)
	overflow := make([]bool, n)
	samples := make([][]any, n)
	for i := range distinct {
		distinct[i] = map[any]struct{}{}
	}
	var rows int64
	rng := uint64(0x9E3779B97F4A7C15)
	op := newScan(env, &plan.Scan{Table: t})
	err := Drain(ctx, op, func(b arrow.RecordBatch) error {
		for c := range n {
			col := b.Column(c)
			for r := range int(b.NumRows()) {
				if col.IsNull(r) {
					nulls[c]++
					continue
				}
				v := valueAt(col, r)
				if !overflow[c] {
					dk := v
					if bs, ok := v.([]byte); ok { // bytea, the row id: not a map key as is
						dk = string(bs)
					}
					distinct[c][dk] = struct{}{}
					overflow[c] = len(distinct[c]) > 4*analyzeSample
				}
				seen := rows + int64(r) - nulls[c]
				if len(samples[c]) < analyzeSample {
					samples[c] = append(samples[c], v)
				} else {
					rng ^= rng << 13
					rng ^= rng >> 7
					rng ^= rng << 17
					if j := rng % uint64(seen+1); j < analyzeSample {
						samples[c][j] = v
					}
				}
			}
		}
		rows += b.NumRows()
		return nil
	})
	if err != nil {
		return nil, err
	}
	st := &catalog.TableStats{RowCount: rows, Version: t.Version, Columns: make([]catalog.ColumnStats, n)}
	for c := range n {
		cs := &st.Columns[c]
		if rows > 0 {
			cs.NullFrac = float64(nulls[c]) / float64(rows)
		}
		cs.NDistinct = int64(len(distinct[c]))
		if overflow[c] {
			// Extrapolate: the sample's distinct ratio over the non-NULL rows.
			cs.NDistinct = int64(math.Max(float64(cs.NDistinct), float64(rows-nulls[c])*float64(distinctIn(samples[c]))/float64(max(1, len(samples[c])))))
		}
		s := samples[c]
		if len(s) == 0 {
			continue
		}
		switch s[0].(type) {
		case bool, []byte: // no ranges planned over these
			continue
		}
		sort.Slice(s, func(i, j int) bool { return compareValues(s[i], s[j]) < 0 })
		buckets := min(histogramBuckets, len(s))
		for i := 0; i <= buckets; i++ {
			idx := min(i*(len(s)-1)/buckets, len(s)-1)
			cs.Histogram = append(cs.Histogram, s[idx])
		}
	}
	return st, nil
}

func distinctIn(s []any) int {
	m := map[any]struct{}{}
	for _, v := range s {
		if bs, ok := v.([]byte); ok {
			v = string(bs)
		}
		m[v] = struct{}{}
	}
	return len(m)
}

// compareValues orders two non-NULL values of one column type (integers
// of either width compare with each other; NaN sorts last).
func compareValues(a, b any) int {
	switch x := a.(type) {
	case int32:
		return cmpOrd(int64(x), toInt64(b))
	case int64:
		return cmpOrd(x, toInt64(b))
	case float64:
		y, _ := b.(float64)
		return cmpFloat(x, y)
	case string:
		y, _ := b.(string)
		return cmpOrd(x, y)
	case bool:
		y, _ := b.(bool)
		return cmpBool(x, y)
	}
	// Dates, timestamps, numerics and the other carriers: both values are
	// of the same column type.
	return types.Compare(a, b)
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int32:
		return int64(x)
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}

func cmpOrd[T int64 | float64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
