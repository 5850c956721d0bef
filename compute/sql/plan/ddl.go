package plan

import (
	"fmt"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// CheckExpr is a bound CHECK constraint over table-shaped rows.
type CheckExpr struct {
	Name string
	Expr Expr
}

// FKCheck is a foreign key of the written table with its parent's
// descriptor: every new row must find its key in Parent.
type FKCheck struct {
	FK     catalog.ForeignKey
	Parent *catalog.Table
}

// FKChild is a foreign key of another table (Child) that references the
// written table: a deleted or re-keyed row must not be referenced.
type FKChild struct {
	FK    catalog.ForeignKey
	Child *catalog.Table
}

// Constraints are what a write checks beyond NOT NULL and unique keys.
type Constraints struct {
	Checks   []CheckExpr
	FKs      []FKCheck
	Children []FKChild
}

// OnConflict is INSERT's ON CONFLICT clause.
type OnConflict struct {
	// The arbiter: the primary key (PK), one unique index (Index), or, for
	// DO NOTHING without a target, every unique constraint (Any).
	PK    bool
	Index *catalog.Index
	Any   bool
	// DoNothing skips conflicting rows; otherwise Set rewrites the existing
	// row. Set and Where are over the existing row's columns followed by
	// the proposed (EXCLUDED) row's columns.
	DoNothing bool
	Set       []SetItem
	Where     Expr
}

// IndexScan reads the rows of Table whose key columns match: Eq holds
// constants for the leading key columns, Lo/Hi optional bounds of the next
// one. Index nil scans the primary key. Output: table-shaped rows. The
// binder keeps the full predicate in a Filter above it.
type IndexScan struct {
	Table          *catalog.Table
	Index          *catalog.Index
	Eq             []Expr
	Lo, Hi         Expr
	LoIncl, HiIncl bool
	// Est is the estimated row count (-1 unknown).
	Est float64
}

// Columns implements Node.
func (n *IndexScan) Columns() []Column { return (&Scan{Table: n.Table}).Columns() }

// KeyColumns returns the column ordinals the scan's key is made of.
func (n *IndexScan) KeyColumns() []int {
	if n.Index == nil {
		return n.Table.PrimaryKey
	}
	return n.Index.Columns
}

// IndexName names the index scanned (<table>_pkey for the primary key).
func (n *IndexScan) IndexName() string {
	if n.Index == nil {
		return n.Table.Name + "_pkey"
	}
	return n.Index.Name
}

// Describe renders the key condition, e.g. "a = 1 AND b >= 2".
func (n *IndexScan) Describe() string {
	cols := n.KeyColumns()
	s := ""
	add := func(part string) {
		if s != "" {
			s += " AND "
		}
		s += part
	}
	for i, e := range n.Eq {
		add(fmt.Sprintf("%s = %s", n.Table.Columns[cols[i]].Name, e))
	}
	if k := len(n.Eq); k < len(cols) {
		name := n.Table.Columns[cols[k]].Name
		if n.Lo != nil {
			op := ">"
			if n.LoIncl {
				op = ">="
			}
			add(fmt.Sprintf("%s %s %s", name, op, n.Lo))
		}
		if n.Hi != nil {
			op := "<"
			if n.HiIncl {
				op = "<="
			}
			add(fmt.Sprintf("%s %s %s", name, op, n.Hi))
		}
	}
	return s
}

// SeqCall is a call of a sequence function (nextval, currval, setval)
// evaluated once per row; Do performs it with the row's Args values.
type SeqCall struct {
	Func string
	Seq  string
	Args []Expr
	Do   func(args []any) (int64, error)
}

// Type implements Expr.
func (e *SeqCall) Type() types.T { return types.Int8 }

func (e *SeqCall) String() string { return fmt.Sprintf("%s('%s')", e.Func, e.Seq) }

// CreateIndex creates Index on Table and backfills it.
type CreateIndex struct {
	Table *catalog.Table
	Index catalog.Index
	// Exists: IF NOT EXISTS found the name taken; nothing to do.
	Exists bool
}

// DropIndex drops indexes; Tables[i] owns Names[i].
type DropIndex struct {
	Tables []*catalog.Table
	Names  []string
}

// AlterTable replaces Old's descriptor with New. When Rewrite is set every
// row is rewritten from Source (table-shaped rows of New computed over a
// Scan of Old) under the same keys. Renamed is set when the name changed.
type AlterTable struct {
	Old     *catalog.Table
	New     *catalog.Table
	Rewrite bool
	// NewID moves the table to a fresh table id, rewriting every row and
	// index entry there (the primary key changed: ADD PRIMARY KEY on a
	// table keyed by its hidden row id); implies Rewrite.
	NewID  bool
	Source Node
	// DroppedIndexes are index names to unregister.
	DroppedIndexes []string
	Cons           Constraints
	// Tag is the command tag ("ALTER TABLE").
	Tag string
}

// Truncate empties Tables by giving each a fresh table id.
type Truncate struct {
	Tables []*catalog.Table
}

// CreateSequence creates Seq (its ID assigned at execution).
type CreateSequence struct {
	Seq    catalog.Sequence
	Exists bool
}

// DropSequence drops Seqs.
type DropSequence struct {
	Seqs []*catalog.Sequence
}

// Analyze collects statistics of Tables.
type Analyze struct {
	Tables []*catalog.Table
	// Vacuum is set for VACUUM [ANALYZE] (command tag VACUUM).
	Vacuum bool
}

// Explain shows the plan of Stmt; with Analyze it runs it and reports
// actual rows and time per operator.
type Explain struct {
	Stmt    Statement
	Analyze bool
}

func (*CreateIndex) statement()    {}
func (*DropIndex) statement()      {}
func (*AlterTable) statement()     {}
func (*Truncate) statement()       {}
func (*CreateSequence) statement() {}
func (*DropSequence) statement()   {}
func (*Analyze) statement()        {}
func (*Explain) statement()        {}

// DMLJoin pairs each row of Left (the target table of UPDATE ... FROM or
// DELETE ... USING) with the first row of Right for which Pred (over the
// concatenated row) is true; unmatched left rows are dropped. Output: the
// left columns then the right columns.
type DMLJoin struct {
	Left, Right Node
	Pred        Expr
}

// Columns implements Node.
func (n *DMLJoin) Columns() []Column {
	return append(append([]Column(nil), n.Left.Columns()...), n.Right.Columns()...)
}
