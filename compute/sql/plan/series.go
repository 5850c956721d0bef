package plan

import "github.com/phantom-db/phantom/compute/sql/types"

// Series is generate_series(Start, Stop [, Step]) in FROM: the values from
// Start up to Stop (down to, for a negative step) by Step, in one column of
// type T (int4, int8, numeric, timestamp or timestamptz; Step is an
// interval for timestamps). The bounds are evaluated once; they never read
// other FROM items (no LATERAL).
type Series struct {
	Start, Stop, Step Expr
	T                 types.T
	Cols              []Column
}

// Columns implements Node.
func (n *Series) Columns() []Column { return n.Cols }
