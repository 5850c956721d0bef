package plan

import (
	"fmt"

	"github.com/phantom-db/phantom/compute/sql/types"
)

// Expr is a typed scalar expression over the columns of a node's input.
// Binding guarantees operand types match: arithmetic and comparison operands
// have the same type (the binder inserts casts), boolean operators take
// booleans.
type Expr interface {
	// Type is the SQL type of the expression's value.
	Type() types.T
	// String renders the expression for EXPLAIN-style output and tests.
	String() string
}

// ColRef reads input column Idx.
type ColRef struct {
	Idx  int
	Name string
	T    types.T
}

// Const is a constant; a nil Value is NULL.
type Const struct {
	Value any
	T     types.T
}

// ArithOp is an arithmetic operator.
type ArithOp uint8

// Arithmetic operators.
const (
	Add ArithOp = iota
	Sub
	Mul
	Div
)

func (o ArithOp) String() string { return [...]string{"+", "-", "*", "/"}[o] }

// Arith is L op R over numeric operands of type T; integer overflow answers
// 22003 and division by zero 22012.
type Arith struct {
	Op   ArithOp
	L, R Expr
	T    types.T
}

// CmpOp is a comparison operator.
type CmpOp uint8

// Comparison operators.
const (
	EQ CmpOp = iota
	NE
	LT
	LE
	GT
	GE
)

func (o CmpOp) String() string { return [...]string{"=", "<>", "<", "<=", ">", ">="}[o] }

// Holds reports whether the comparison is true for c, a three-way
// comparison result (negative, zero, positive) of its left and right side.
func (o CmpOp) Holds(c int) bool {
	switch o {
	case EQ:
		return c == 0
	case NE:
		return c != 0
	case LT:
		return c < 0
	case LE:
		return c <= 0
	case GT:
		return c > 0
	}
	return c >= 0
}

// Cmp compares two operands of the same type; NULL when either is NULL.
type Cmp struct {
	Op   CmpOp
	L, R Expr
}

// And is three-valued conjunction.
type And struct{ L, R Expr }

// Or is three-valued disjunction.
type Or struct{ L, R Expr }

// Not is three-valued negation.
type Not struct{ X Expr }

// IsNull is X IS NULL, or X IS NOT NULL when Negate; never NULL itself.
type IsNull struct {
	X      Expr
	Negate bool
}

// Cast converts X to T with PostgreSQL's cast semantics (range checks 22003,
// text input 22P02).
type Cast struct {
	X Expr
	T types.T
}

// Type implementations.
func (e *ColRef) Type() types.T { return e.T }

// Type implements Expr.
func (e *Const) Type() types.T { return e.T }

// Type implements Expr.
func (e *Arith) Type() types.T { return e.T }

// Type implements Expr.
func (e *Cmp) Type() types.T { return types.Bool }

// Type implements Expr.
func (e *And) Type() types.T { return types.Bool }

// Type implements Expr.
func (e *Or) Type() types.T { return types.Bool }

// Type implements Expr.
func (e *Not) Type() types.T { return types.Bool }

// Type implements Expr.
func (e *IsNull) Type() types.T { return types.Bool }

// Type implements Expr.
func (e *Cast) Type() types.T { return e.T }

func (e *ColRef) String() string { return fmt.Sprintf("%s#%d", e.Name, e.Idx) }
func (e *Const) String() string {
	if s, ok := e.Value.(string); ok {
		return fmt.Sprintf("'%s'::%s", s, e.T)
	}
	return fmt.Sprintf("%s::%s", types.FormatText(e.Value), e.T)
}
func (e *Arith) String() string { return fmt.Sprintf("(%s %s %s)", e.L, e.Op, e.R) }
func (e *Cmp) String() string   { return fmt.Sprintf("(%s %s %s)", e.L, e.Op, e.R) }
func (e *And) String() string   { return fmt.Sprintf("(%s AND %s)", e.L, e.R) }
func (e *Or) String() string    { return fmt.Sprintf("(%s OR %s)", e.L, e.R) }
func (e *Not) String() string   { return fmt.Sprintf("(NOT %s)", e.X) }
func (e *Cast) String() string  { return fmt.Sprintf("%s::%s", e.X, e.T) }
func (e *IsNull) String() string {
	if e.Negate {
		return fmt.Sprintf("(%s IS NOT NULL)", e.X)
	}
	return fmt.Sprintf("(%s IS NULL)", e.X)
}

// Walk calls fn on e and, while fn returns true, on its operands, depth
// first.
func Walk(e Expr, fn func(Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch x := e.(type) {
	case *Arith:
		Walk(x.L, fn)
		Walk(x.R, fn)
	case *Cmp:
		Walk(x.L, fn)
		Walk(x.R, fn)
	case *And:
		Walk(x.L, fn)
		Walk(x.R, fn)
	case *Or:
		Walk(x.L, fn)
		Walk(x.R, fn)
	case *Not:
		Walk(x.X, fn)
	case *IsNull:
		Walk(x.X, fn)
	case *Cast:
		Walk(x.X, fn)
	case *FirstNotNull:
		for _, a := range x.Xs {
			Walk(a, fn)
		}
	default:
		walkExt(e, fn)
	}
}

// HasColRef reports whether e reads any input column.
func HasColRef(e Expr) bool {
	found := false
	Walk(e, func(x Expr) bool {
		if _, ok := x.(*ColRef); ok {
			found = true
		}
		return !found
	})
	return found
}

// Map rewrites e top-down: fn is called on e first; when it
// returns a non-nil expression that replaces e (and its operands are not
// visited), otherwise e's operands are mapped and e is rebuilt around them.
// An error from fn stops the rewrite.
func Map(e Expr, fn func(Expr) (Expr, error)) (Expr, error) {
	if r, err := fn(e); err != nil || r != nil {
		return r, err
	}
	two := func(l, r Expr) (Expr, Expr, error) {
		l, err := Map(l, fn)
		if err != nil {
			return nil, nil, err
		}
		r, err = Map(r, fn)
		return l, r, err
	}
	var err error
	switch x := e.(type) {
	case *Arith:
		c := *x
		c.L, c.R, err = two(x.L, x.R)
		return &c, err
	case *Cmp:
		c := *x
		c.L, c.R, err = two(x.L, x.R)
		return &c, err
	case *And:
		c := *x
		c.L, c.R, err = two(x.L, x.R)
		return &c, err
	case *Or:
		c := *x
		c.L, c.R, err = two(x.L, x.R)
		return &c, err
	case *Not:
		c := *x
		c.X, err = Map(x.X, fn)
		return &c, err
	case *IsNull:
		c := *x
		c.X, err = Map(x.X, fn)
		return &c, err
	case *Cast:
		c := *x
		c.X, err = Map(x.X, fn)
		return &c, err
	case *FirstNotNull:
		c := &FirstNotNull{T: x.T}
		for _, a := range x.Xs {
			m, err := Map(a, fn)
			if err != nil {
				return nil, err
			}
			c.Xs = append(c.Xs, m)
		}
		return c, nil
	}
	if m, ok, err := mapExt(e, fn); ok {
		return m, err
	}
	return e, nil
}
