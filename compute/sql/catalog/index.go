package catalog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
)

// Index is a secondary index of a table. Its entries live under
// keys.IndexPrefix(db, table id, ID): a unique index whose columns hold no
// NULL keys the entry by the column values alone (so two transactions
// inserting the same value write the same key and the resolver aborts
// one), every other entry appends the primary-key columns. The value of
// every entry is the encoded primary key (keys.TablePrefix follows it to
// the row).
type Index struct {
	ID   uint64 `json:"id"`
	Name string `json:"name"`
	// Columns holds column ordinals in key order.
	Columns []int `json:"columns"`
	Unique  bool  `json:"unique,omitempty"`
	// Constraint is set for an index created by a UNIQUE constraint.
	Constraint bool `json:"constraint,omitempty"`
}

// Check is a CHECK constraint: Expr is SQL text over the table's columns;
// a row passes unless Expr is false (NULL passes, as in PostgreSQL).
type Check struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
}

// Foreign-key referential actions, as pg_query spells them.
const (
	FKNoAction = "a"
	FKRestrict = "r"
	FKCascade  = "c"
	FKSetNull  = "n"
)

// ForeignKey is a FOREIGN KEY constraint of a child table: Columns (of the
// child) reference RefColumns of RefTable, which are its primary key or the
// columns of one of its unique indexes.
type ForeignKey struct {
	Name       string `json:"name"`
	Columns    []int  `json:"columns"`
	RefTable   string `json:"ref_table"`
	RefColumns []int  `json:"ref_columns"`
	OnDelete   string `json:"on_delete,omitempty"`
	OnUpdate   string `json:"on_update,omitempty"`
}

// IndexByName returns the named index of t, or nil.
func (t *Table) IndexByName(name string) *Index {
	for i := range t.Indexes {
		if t.Indexes[i].Name == name {
			return &t.Indexes[i]
		}
	}
	return nil
}

// UniqueOn returns the unique index of t over exactly cols (in any order),
// or nil; ok reports whether cols are t's primary key instead.
func (t *Table) UniqueOn(cols []int) (ix *Index, pk bool) {
	if sameSet(cols, t.PrimaryKey) {
		return nil, true
	}
	for i := range t.Indexes {
		if t.Indexes[i].Unique && sameSet(cols, t.Indexes[i].Columns) {
			return &t.Indexes[i], false
		}
	}
	return nil, false
}

func sameSet(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x == y
		}
		if !found {
			return false
		}
	}
	return true
}

// PutMutation returns the write that stores t's descriptor under its name.
func PutMutation(db uint64, t *Table) (storage.Mutation, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return storage.Mutation{}, fmt.Errorf("catalog: encode descriptor: %w", err)
	}
	return storage.Mutation{Key: keys.TableDescriptorKey(db, t.Name), Value: raw}, nil
}

// IndexNameMutation maps index name to table (delete when table is "").
func IndexNameMutation(db uint64, name, table string) storage.Mutation {
	if table == "" {
		return storage.Mutation{Key: keys.CatalogIndexKey(db, name), Delete: true}
	}
	return storage.Mutation{Key: keys.CatalogIndexKey(db, name), Value: []byte(table)}
}

// IndexTable returns the name of the table owning index name, "" when no
// index has that name.
func (r *Reader) IndexTable(ctx context.Context, name string) (string, error) {
	raw, err := r.get(ctx, keys.CatalogIndexKey(r.DB, name))
	return string(raw), err
}

// Sequence is a sequence descriptor. Values are handed out in ranges
// through the transactional KV (see compute/sql/sequence.go); the counter
// lives at keys.SequenceValueKey(db, ID).
type Sequence struct {
	ID        uint64 `json:"id"`
	Name      string `json:"name"`
	Start     int64  `json:"start"`
	Increment int64  `json:"increment"`
	Min       int64  `json:"min"`
	Max       int64  `json:"max"`
	Cycle     bool   `json:"cycle,omitempty"`
	// OwnedBy is the table whose SERIAL/identity column uses it, "" for none.
	OwnedBy string `json:"owned_by,omitempty"`
}

// Sequence returns the named sequence, or nil.
func (r *Reader) Sequence(ctx context.Context, name string) (*Sequence, error) {
	raw, err := r.get(ctx, keys.CatalogSequenceKey(r.DB, name))
	if err != nil || raw == nil {
		return nil, err
	}
	var s Sequence
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("catalog: decode sequence %q: %w", name, err)
	}
	return &s, nil
}

// SequenceMutation stores s (or deletes it when del).
func SequenceMutation(db uint64, s *Sequence, del bool) (storage.Mutation, error) {
	if del {
		return storage.Mutation{Key: keys.CatalogSequenceKey(db, s.Name), Delete: true}, nil
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return storage.Mutation{}, fmt.Errorf("catalog: encode sequence: %w", err)
	}
	return storage.Mutation{Key: keys.CatalogSequenceKey(db, s.Name), Value: raw}, nil
}

// NextIDMutation sets the id counter to next.
func NextIDMutation(db, next uint64) storage.Mutation {
	return storage.Mutation{Key: keys.NextTableIDKey(db), Value: binary.BigEndian.AppendUint64(nil, next)}
}

// ColumnStats are the statistics of one column.
type ColumnStats struct {
	NullFrac  float64 `json:"null_frac"`
	NDistinct int64   `json:"n_distinct"`
	// Histogram holds bucket bounds of the non-NULL values (equi-depth),
	// as JSON scalars of the column type; empty for booleans.
	Histogram []any `json:"histogram,omitempty"`
}

// TableStats are what ANALYZE collected for a table.
type TableStats struct {
	RowCount int64         `json:"row_count"`
	Columns  []ColumnStats `json:"columns"`
	// Version is the table's schema version when collected.
	Version uint64 `json:"version"`
}

// Stats returns the statistics of table id table, or nil when it was never
// analyzed.
func (r *Reader) Stats(ctx context.Context, table uint64) (*TableStats, error) {
	raw, err := r.get(ctx, keys.TableStatsKey(r.DB, table))
	if err != nil || raw == nil {
		return nil, err
	}
	var s TableStats
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("catalog: decode stats of table %d: %w", table, err)
	}
	return &s, nil
}

// StatsMutation stores s for table id table.
func StatsMutation(db, table uint64, s *TableStats) (storage.Mutation, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return storage.Mutation{}, fmt.Errorf("catalog: encode stats: %w", err)
	}
	return storage.Mutation{Key: keys.TableStatsKey(db, table), Value: raw}, nil
}
