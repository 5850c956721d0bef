// Package catalog owns table descriptors and their storage in the KV store.
//
// A descriptor is JSON at keys.TableDescriptorKey(db, name). Table ids come
// from the counter at keys.NextTableIDKey(db), which CREATE TABLE reads and
// rewrites in the same commit as the descriptor: two concurrent CREATEs both
// write the counter key, so the resolver rejects one with a conflict instead
// of handing out the same id twice. Ids are never reused; DROP TABLE deletes
// only the descriptor, and the rows under keys.TablePrefix(db, id) become
// garbage for a later GC.
//
// Every read happens at the statement's snapshot, so a statement sees one
// consistent catalog.
package catalog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/types"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/rowcodec"
)

// Column describes one column of a table.
type Column struct {
	Name    string  `json:"name"`
	Type    types.T `json:"type"`
	NotNull bool    `json:"not_null,omitempty"`
	// Mod is the type modifier (varchar(n), char(n), numeric(p,s)); 0 for
	// none.
	Mod types.Mod `json:"mod,omitempty"`
	// Default is the column's DEFAULT expression as SQL text, "" for none
	// (NULL). SERIAL columns default to nextval('<sequence>').
	Default string `json:"default,omitempty"`
	// Identity is "a" (GENERATED ALWAYS AS IDENTITY), "d" (BY DEFAULT) or "".
	Identity string `json:"identity,omitempty"`
	// Hidden marks the row id column of a table created without a primary
	// key (see RowIDColumn): stored and keyed like any column, but no SQL
	// name reaches it and * does not list it.
	Hidden bool `json:"hidden,omitempty"`
}

// RowIDColumn names the hidden primary-key column of a table created
// without a PRIMARY KEY. Its value is 16 bytes (bytea): the big-endian
// snapshot timestamp of the inserting statement, then a big-endian counter
// of the inserting process (exec.NewRowID). The timestamp oracle never
// hands out one timestamp twice, and the counter never repeats within a
// process, so row ids are unique across compute nodes without any
// coordination; they also sort in insertion order per node.
const RowIDColumn = "phantom_rowid"

// RowIDLen is the length in bytes of a row id.
const RowIDLen = 16

// NewRowIDColumn returns the hidden row id column.
func NewRowIDColumn() Column {
	return Column{Name: RowIDColumn, Type: types.Bytea, NotNull: true, Hidden: true}
}

// Table is a table descriptor.
type Table struct {
	// ID is the table id, unique within the database and never reused.
	ID uint64 `json:"id"`
	// Name is the table name (folded as PostgreSQL folds identifiers).
	Name string `json:"name"`
	// Columns in declaration order; rows encode columns in this order.
	Columns []Column `json:"columns"`
	// PrimaryKey holds column ordinals in key order.
	PrimaryKey []int `json:"primary_key"`
	// Version is the schema version, bumped by every schema change.
	Version uint64 `json:"version"`
	// Indexes are the secondary indexes (see index.go).
	Indexes []Index `json:"indexes,omitempty"`
	// NextIndexID is the id the next index of this table gets (ids start at 1).
	NextIndexID uint64 `json:"next_index_id,omitempty"`
	// Checks are the CHECK constraints.
	Checks []Check `json:"checks,omitempty"`
	// ForeignKeys are the FOREIGN KEY constraints of this (child) table.
	ForeignKeys []ForeignKey `json:"foreign_keys,omitempty"`
	// ReferencedBy names the tables with a foreign key to this one.
	ReferencedBy []string `json:"referenced_by,omitempty"`
	// OwnedSequences names the sequences of SERIAL and identity columns,
	// dropped with the table.
	OwnedSequences []string `json:"owned_sequences,omitempty"`
	// ViewQuery, when not empty, makes the descriptor a view: the SELECT
	// (deparsed) that the binder expands in its place. A view has no rows.
	ViewQuery string `json:"view_query,omitempty"`
}

// ColumnIndex returns the ordinal of the named column, or -1. The hidden
// row id column has no name in SQL: it is never found.
func (t *Table) ColumnIndex(name string) int {
	for i, c := range t.Columns {
		if c.Name == name && !c.Hidden {
			return i
		}
	}
	return -1
}

// RowID returns the ordinal of the hidden row id column, -1 when the table
// has a declared primary key.
func (t *Table) RowID() int {
	if len(t.PrimaryKey) == 1 && t.Columns[t.PrimaryKey[0]].Hidden {
		return t.PrimaryKey[0]
	}
	return -1
}

// WithoutRowID returns t as SQL sees it: without the hidden row id column
// (later ordinals shifted down) and so without a primary key; t itself when
// it has none.
func (t *Table) WithoutRowID() *Table {
	rid := -1
	for i, c := range t.Columns {
		if c.Hidden {
			rid = i
		}
	}
	if rid < 0 {
		return t
	}
	c := *t
	c.Columns = append(append([]Column(nil), t.Columns[:rid]...), t.Columns[rid+1:]...)
	shift := func(ords []int) []int {
		out := make([]int, 0, len(ords))
		for _, o := range ords {
			switch {
			case o > rid:
				out = append(out, o-1)
			case o < rid:
				out = append(out, o)
			}
		}
		return out
	}
	c.PrimaryKey = shift(t.PrimaryKey)
	c.Indexes = make([]Index, len(t.Indexes))
	for i, ix := range t.Indexes {
		ix.Columns = shift(ix.Columns)
		c.Indexes[i] = ix
	}
	c.ForeignKeys = make([]ForeignKey, len(t.ForeignKeys))
	for i, fk := range t.ForeignKeys {
		fk.Columns = shift(fk.Columns)
		c.ForeignKeys[i] = fk
	}
	return &c
}

// VisibleColumns returns the ordinals of the columns SQL sees (all but the
// hidden row id), in order.
func (t *Table) VisibleColumns() []int {
	out := make([]int, 0, len(t.Columns))
	for i, c := range t.Columns {
		if !c.Hidden {
			out = append(out, i)
		}
	}
	return out
}

// Kinds returns the row-codec kinds of the columns.
func (t *Table) Kinds() []rowcodec.Kind {
	out := make([]rowcodec.Kind, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Type.Kind()
	}
	return out
}

// Schema returns the Arrow schema of the table's rows.
func (t *Table) Schema() *arrow.Schema {
	fs := make([]arrow.Field, len(t.Columns))
	for i, c := range t.Columns {
		fs[i] = arrow.Field{Name: c.Name, Type: c.Type.Arrow(), Nullable: !c.NotNull}
	}
	return arrow.NewSchema(fs, nil)
}

// Reader reads the catalog of one database at one snapshot.
type Reader struct {
	KV   storage.KV
	Snap storage.Snapshot
	DB   uint64
}

// get returns the value at key, or nil when absent.
func (r *Reader) get(ctx context.Context, key []byte) ([]byte, error) {
	var val []byte
	err := r.KV.Scan(ctx, r.Snap, key, keys.Next(key), 1, func(b arrow.RecordBatch) error {
		if b.NumRows() > 0 {
			val = append([]byte{}, b.Column(1).(*array.Binary).Value(0)...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: read %x: %w", key, err)
	}
	return val, nil
}

// Table returns the descriptor of the named table, or nil when there is none.
func (r *Reader) Table(ctx context.Context, name string) (*Table, error) {
	raw, err := r.get(ctx, keys.TableDescriptorKey(r.DB, name))
	if err != nil || raw == nil {
		return nil, err
	}
	var t Table
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("catalog: decode descriptor of %q: %w", name, err)
	}
	return &t, nil
}

// NextID returns the id the next CREATE TABLE will use (1 in an empty database).
func (r *Reader) NextID(ctx context.Context) (uint64, error) {
	raw, err := r.get(ctx, keys.NextTableIDKey(r.DB))
	if err != nil {
		return 0, err
	}
	if raw == nil {
		return 1, nil
	}
	if len(raw) != 8 {
		return 0, fmt.Errorf("catalog: corrupt next_id of %d bytes", len(raw))
	}
	return binary.BigEndian.Uint64(raw), nil
}

// CreateMutations returns the writes that create t (whose ID must be the
// current NextID): the descriptor and the bumped counter.
func CreateMutations(db uint64, t *Table) ([]storage.Mutation, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("catalog: encode descriptor: %w", err)
	}
	return []storage.Mutation{
		{Key: keys.TableDescriptorKey(db, t.Name), Value: raw},
		{Key: keys.NextTableIDKey(db), Value: binary.BigEndian.AppendUint64(nil, t.ID+1)},
	}, nil
}

// DropMutations returns the writes that drop t: the descriptor is deleted;
// its rows are left for a later GC (ids are never reused).
func DropMutations(db uint64, t *Table) []storage.Mutation {
	return []storage.Mutation{{Key: keys.TableDescriptorKey(db, t.Name), Delete: true}}
}
