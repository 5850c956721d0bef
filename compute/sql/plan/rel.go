package plan

import (
	"fmt"
	"strings"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// JoinKind is the kind of a Join.
type JoinKind uint8

// Join kinds. Semi, Anti and Mark come from subqueries (EXISTS, IN) after
// decorrelation and output only the left columns (Mark adds one boolean).
const (
	// InnerJoin outputs the matching pairs (CROSS JOIN: no keys, no Cond).
	InnerJoin JoinKind = iota
	// LeftJoin adds the unmatched left rows, right columns NULL.
	LeftJoin
	// RightJoin adds the unmatched right rows, left columns NULL.
	RightJoin
	// FullJoin adds both.
	FullJoin
	// SemiJoin outputs each left row with at least one match, once.
	SemiJoin
	// AntiJoin outputs each left row without a match.
	AntiJoin
	// MarkJoin outputs every left row plus a boolean column: true when a
	// match satisfies Mark, NULL when none does but Mark was NULL for one
	// of the matches, false otherwise (the three-valued result of
	// x IN (subquery); EXISTS when Mark is nil).
	MarkJoin
)

var joinKindNames = [...]string{"inner", "left", "right", "full", "semi", "anti", "mark"}

func (k JoinKind) String() string { return joinKindNames[k] }

// Join combines Left and Right. A pair matches when every LeftKeys[i]
// (over the left columns) equals RightKeys[i] (over the right columns) —
// NULL keys never match — and Cond (over the left columns followed by the
// right columns) is true. With keys the executor hashes; without, it
// compares every pair (nested loop).
type Join struct {
	Kind      JoinKind
	Left      Node
	Right     Node
	LeftKeys  []Expr
	RightKeys []Expr
	Cond      Expr // nil: true
	// Mark is the condition a MarkJoin reports, over the concatenated
	// columns like Cond; nil for EXISTS.
	Mark Expr
	// Single makes a left join fail with 21000 when a left row matches
	// two right rows (a correlated scalar subquery).
	Single bool
	Cols   []Column
}

// Columns implements Node.
func (n *Join) Columns() []Column { return n.Cols }

// JoinColumns returns the output columns of a join of kind k.
func JoinColumns(k JoinKind, l, r []Column) []Column {
	out := append([]Column(nil), l...)
	switch k {
	case SemiJoin, AntiJoin:
		return out
	case MarkJoin:
		return append(out, Column{Name: "?mark?", T: types.Bool})
	}
	return append(out, r...)
}

// MaxOneRow passes its input through and fails with 21000 when it produces
// more than one row (a scalar subquery).
type MaxOneRow struct {
	Input Node
}

// Columns implements Node.
func (n *MaxOneRow) Columns() []Column { return n.Input.Columns() }

// SetOpKind is UNION, INTERSECT or EXCEPT.
type SetOpKind uint8

// Set operations.
const (
	Union SetOpKind = iota
	Intersect
	Except
)

func (k SetOpKind) String() string { return [...]string{"union", "intersect", "except"}[k] }

// SetOp combines two inputs of the same column types. Without All the
// result has no duplicate rows (NULLs equal each other); with All,
// UNION keeps every row, INTERSECT ALL min(m, n) copies and EXCEPT ALL
// max(m - n, 0) copies of a row present m times left and n times right.
type SetOp struct {
	Kind        SetOpKind
	All         bool
	Left, Right Node
	Cols        []Column
}

// Columns implements Node.
func (n *SetOp) Columns() []Column { return n.Cols }

// DistinctOn keeps the first row of each distinct value of the key
// columns, in input order (the input is sorted by the keys first).
type DistinctOn struct {
	Input Node
	Keys  []int
}

// Columns implements Node.
func (n *DistinctOn) Columns() []Column { return n.Input.Columns() }

// RecursiveCTE evaluates WITH RECURSIVE: Init once, then Step repeatedly
// over the rows the previous round produced (read by WorkScan nodes with
// the same ID) until a round produces no new rows. Without All, rows
// already produced are dropped (UNION); the executor bounds the rounds
// and rows.
type RecursiveCTE struct {
	ID   int
	Init Node
	Step Node
	All  bool
	Cols []Column
}

// Columns implements Node.
func (n *RecursiveCTE) Columns() []Column { return n.Cols }

// WorkScan reads the working table of the RecursiveCTE with the same ID.
type WorkScan struct {
	ID   int
	Cols []Column
}

// Columns implements Node.
func (n *WorkScan) Columns() []Column { return n.Cols }

// WindowFunc is a window function.
type WindowFunc uint8

// Window functions; the aggregates reuse AggFunc through WinAgg.
const (
	WinRowNumber WindowFunc = iota
	WinRank
	WinDenseRank
	WinLag
	WinLead
	WinFirstValue
	WinLastValue
	WinAgg
)

// FrameBound is one end of a window frame.
type FrameBound struct {
	// Unbounded is UNBOUNDED PRECEDING/FOLLOWING; Current is CURRENT ROW;
	// otherwise Offset rows before (Offset < 0) or after.
	Unbounded bool
	Current   bool
	Offset    int64
}

// Frame is a window frame. Rows false is the default RANGE frame (start
// of the partition to the last peer of the current row when the window is
// ordered, the whole partition otherwise).
type Frame struct {
	Rows       bool
	Start, End FrameBound
}

// WindowExpr is one window function call. Partition and Order are input
// column ordinals (the binder projects expressions first).
type WindowExpr struct {
	Func      WindowFunc
	Agg       AggFunc // when Func is WinAgg
	Args      []Expr  // over the input
	Partition []int
	Order     []SortKey
	Frame     Frame
	T         types.T
}

// Window appends one column per function to its input's columns.
type Window struct {
	Input Node
	Funcs []WindowExpr
	Cols  []Column
}

// Columns implements Node.
func (n *Window) Columns() []Column { return n.Cols }

// FirstNotNull is the first non-NULL of its operands (all of type T): the
// merged column of FULL JOIN ... USING.
type FirstNotNull struct {
	Xs []Expr
	T  types.T
}

// Type implements Expr.
func (e *FirstNotNull) Type() types.T { return e.T }

func (e *FirstNotNull) String() string {
	var parts []string
	for _, x := range e.Xs {
		parts = append(parts, x.String())
	}
	return fmt.Sprintf("first_not_null(%s)", strings.Join(parts, ", "))
}

// CreateView stores View (a descriptor with ViewQuery set); its ID is
// assigned at execution unless it replaces Existing (OR REPLACE).
type CreateView struct {
	View     catalog.Table
	Existing *catalog.Table
}

// DropView drops Views (those that exist).
type DropView struct {
	Views []*catalog.Table
}

func (*CreateView) statement() {}
func (*DropView) statement()   {}

// formatRel renders the relational nodes of this file for Format; false
// for other nodes.
func formatRel(sb *strings.Builder, n Node, depth int) bool {
	exprs := func(es []Expr) string {
		var parts []string
		for _, e := range es {
			parts = append(parts, e.String())
		}
		return strings.Join(parts, ", ")
	}
	switch x := n.(type) {
	case *Join:
		fmt.Fprintf(sb, "Join %s", x.Kind)
		if len(x.LeftKeys) > 0 {
			fmt.Fprintf(sb, " hash [%s] = [%s]", exprs(x.LeftKeys), exprs(x.RightKeys))
		}
		if x.Cond != nil {
			fmt.Fprintf(sb, " cond %s", x.Cond)
		}
		if x.Mark != nil {
			fmt.Fprintf(sb, " mark %s", x.Mark)
		}
		if x.Single {
			sb.WriteString(" single")
		}
		sb.WriteString("\n")
		formatNode(sb, x.Left, depth+1)
		formatNode(sb, x.Right, depth+1)
	case *Series:
		fmt.Fprintf(sb, "Series %s to %s by %s\n", x.Start, x.Stop, x.Step)
	case *MaxOneRow:
		sb.WriteString("MaxOneRow\n")
		formatNode(sb, x.Input, depth+1)
	case *SetOp:
		all := ""
		if x.All {
			all = " all"
		}
		fmt.Fprintf(sb, "SetOp %s%s\n", x.Kind, all)
		formatNode(sb, x.Left, depth+1)
		formatNode(sb, x.Right, depth+1)
	case *DistinctOn:
		fmt.Fprintf(sb, "DistinctOn %v\n", x.Keys)
		formatNode(sb, x.Input, depth+1)
	case *RecursiveCTE:
		fmt.Fprintf(sb, "RecursiveCTE %d all=%v\n", x.ID, x.All)
		formatNode(sb, x.Init, depth+1)
		formatNode(sb, x.Step, depth+1)
	case *WorkScan:
		fmt.Fprintf(sb, "WorkScan %d\n", x.ID)
	case *Window:
		fmt.Fprintf(sb, "Window %d functions\n", len(x.Funcs))
		formatNode(sb, x.Input, depth+1)
	default:
		return false
	}
	return true
}
