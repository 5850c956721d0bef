// Package plan defines the bound, typed plans the binder produces and the
// executor runs: relational nodes (scan, filter, project, sort, limit,
// aggregate, values) for queries, and statement plans for DDL and DML.
//
// Invariants: every column reference in an expression is an index into the
// output columns of the node's input, every expression is fully typed (no
// types.Unknown remains), and statement plans carry everything the executor
// needs (resolved descriptors, target types), so execution never goes back
// to the parse tree.
package plan

import (
	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Column is an output column of a node.
type Column struct {
	Name string
	T    types.T
	// Hidden marks a table's row id column (catalog.RowIDColumn): carried
	// through plans, but names and * do not reach it.
	Hidden bool
}

// Node is a relational operator.
type Node interface {
	// Columns returns the node's output columns.
	Columns() []Column
}

// Scan reads every row of Table, all columns in table order.
type Scan struct {
	Table *catalog.Table
}

// Values produces literal rows; SELECT without FROM is one row of no columns.
type Values struct {
	Cols []Column
	Rows [][]Expr
}

// Filter keeps the rows for which Pred is true (NULL and false drop the row).
type Filter struct {
	Input Node
	Pred  Expr
}

// Project computes Exprs over each input row.
type Project struct {
	Input Node
	Exprs []Expr
	Cols  []Column
}

// SortKey orders by one input column.
type SortKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// Sort orders its input by Keys, stably.
type Sort struct {
	Input Node
	Keys  []SortKey
}

// Limit skips Offset rows then passes at most Count rows (Count < 0: all).
type Limit struct {
	Input  Node
	Offset int64
	Count  int64
}

// AggFunc is an aggregate function.
type AggFunc uint8

// Aggregate functions. All ignore NULL arguments; over no (non-NULL) input
// the counts give 0 and the others NULL.
const (
	// CountStar counts rows (int8).
	CountStar AggFunc = iota
	// Count counts rows where Arg is not NULL (int8).
	Count
	// Sum adds Arg: int4 and int8 give int8 (overflow: 22003), float8 gives
	// float8.
	Sum
	// Avg is the mean of Arg as float8.
	Avg
	// Min is the smallest Arg (numeric or text; NaN is the largest float).
	Min
	// Max is the largest Arg.
	Max
	// BoolAnd is true when every Arg is true.
	BoolAnd
	// BoolOr is true when any Arg is true.
	BoolOr
	// StringAgg joins the non-NULL text Args with Sep (string_agg).
	StringAgg
	// ArrayAgg collects every Arg, NULLs included, into an array
	// (array_agg); NULL over no rows.
	ArrayAgg
)

var aggNames = [...]string{"count", "count", "sum", "avg", "min", "max", "bool_and", "bool_or", "string_agg", "array_agg"}

func (f AggFunc) String() string { return aggNames[f] }

// Agg is one aggregate of an Aggregate node.
type Agg struct {
	Func AggFunc
	// Arg is the argument over the Aggregate's input; nil for CountStar.
	Arg Expr
	// Distinct aggregates each distinct non-NULL Arg value once per group.
	Distinct bool
	// T is the result type.
	T types.T
	// Sep is string_agg's delimiter (a constant here).
	Sep string
	// OrderBy orders the values string_agg and array_agg collect
	// (ORDER BY inside the call); expressions over the input.
	OrderBy []AggOrder
}

// AggOrder is one ORDER BY key inside an aggregate call.
type AggOrder struct {
	Expr       Expr
	Desc       bool
	NullsFirst bool
}

// Aggregate groups its input by GroupBy (expressions over the input) and
// computes Aggs per group. Its output columns are the group keys then the
// aggregates, in order. With no GroupBy it emits exactly one row, even over
// empty input; with GroupBy, one row per distinct key (NULLs form one group).
type Aggregate struct {
	Input   Node
	GroupBy []Expr
	Aggs    []Agg
	Cols    []Column
}

// Columns implements Node.
func (n *Scan) Columns() []Column {
	out := make([]Column, len(n.Table.Columns))
	for i, c := range n.Table.Columns {
		out[i] = Column{Name: c.Name, T: c.Type, Hidden: c.Hidden}
	}
	return out
}

// Columns implements Node.
func (n *Values) Columns() []Column { return n.Cols }

// Columns implements Node.
func (n *Filter) Columns() []Column { return n.Input.Columns() }

// Columns implements Node.
func (n *Project) Columns() []Column { return n.Cols }

// Columns implements Node.
func (n *Sort) Columns() []Column { return n.Input.Columns() }

// Columns implements Node.
func (n *Limit) Columns() []Column { return n.Input.Columns() }

// Columns implements Node.
func (n *Aggregate) Columns() []Column { return n.Cols }

// Statement is a bound statement.
type Statement interface{ statement() }

// Query is a SELECT.
type Query struct {
	Root Node
}

// CreateTable creates Table; its ID is assigned at execution.
type CreateTable struct {
	Table       catalog.Table
	IfNotExists bool
	// Exists is set when the table already exists at binding time and
	// IfNotExists made that a no-op.
	Exists bool
	// Sequences are created with the table (SERIAL, identity columns);
	// their ids are assigned at execution.
	Sequences []catalog.Sequence
	// Parents are the referenced tables' descriptors, updated to list this
	// table in ReferencedBy.
	Parents []*catalog.Table
}

// DropTable drops Tables (those that exist; missing ones were rejected by
// the binder unless IF EXISTS).
type DropTable struct {
	Tables []*catalog.Table
	// Parents are descriptors of tables the dropped ones referenced, with
	// the dropped names removed from ReferencedBy; Sequences are the
	// dropped tables' owned sequences.
	Parents   []*catalog.Table
	Sequences []*catalog.Sequence
}

// Insert writes the rows Source produces; Source's columns are exactly the
// table's columns, in table order and of the column types.
type Insert struct {
	Table  *catalog.Table
	Source Node
	// Returning, when not nil, is computed over the inserted rows.
	Returning *Returning
	// OnConflict, when not nil, handles rows whose key already exists.
	OnConflict *OnConflict
	Cons       Constraints
}

// SetItem assigns Expr (typed as the column, over the table's row) to the
// column with ordinal Col.
type SetItem struct {
	Col  int
	Expr Expr
}

// Update rewrites the rows Input produces (a Scan of Table, possibly
// filtered: table-shaped rows) with the Set assignments, all evaluated over
// the old row.
type Update struct {
	Table *catalog.Table
	Input Node
	Set   []SetItem
	// Returning, when not nil, is computed over the new rows.
	Returning *Returning
	Cons      Constraints
}

// Delete deletes the rows Input produces (a Scan of Table, possibly
// filtered).
type Delete struct {
	Table *catalog.Table
	Input Node
	// Returning, when not nil, is computed over the deleted rows.
	Returning *Returning
	Cons      Constraints
}

// Returning is the RETURNING list of a writing statement: expressions over
// table-shaped rows and their output columns.
type Returning struct {
	Exprs []Expr
	Cols  []Column
}

func (*Query) statement()       {}
func (*CreateTable) statement() {}
func (*DropTable) statement()   {}
func (*Insert) statement()      {}
func (*Update) statement()      {}
func (*Delete) statement()      {}
