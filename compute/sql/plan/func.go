package plan

import (
	"fmt"
	"strings"

	"github.com/phantom-db/phantom/compute/sql/types"
)

// Func calls a scalar built-in function row by row. Eval receives the
// argument values as type carriers (nil for NULL); when Strict, a NULL
// argument makes the result NULL without calling Eval.
type Func struct {
	Name   string
	Args   []Expr
	T      types.T
	Strict bool
	Eval   func(args []any) (any, error)
}

// When is one WHEN cond THEN result arm of a Case.
type When struct {
	Cond, Then Expr
}

// Case is a searched CASE: the Then of the first arm whose Cond is true,
// else Else (NULL when nil). Arms are evaluated lazily: a Then is only
// evaluated for the rows that select it, so CASE guards errors as in
// PostgreSQL.
type Case struct {
	Whens []When
	Else  Expr
	T     types.T
}

// Coalesce returns its first non-NULL argument, evaluating later
// arguments only for the rows still NULL.
type Coalesce struct {
	Args []Expr
	T    types.T
}

// Type implements Expr.
func (e *Func) Type() types.T { return e.T }

// Type implements Expr.
func (e *Case) Type() types.T { return e.T }

// Type implements Expr.
func (e *Coalesce) Type() types.T { return e.T }

func (e *Func) String() string {
	parts := make([]string, len(e.Args))
	for i, a := range e.Args {
		parts[i] = a.String()
	}
	return fmt.Sprintf("%s(%s)", e.Name, strings.Join(parts, ", "))
}

func (e *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, w := range e.Whens {
		fmt.Fprintf(&b, " WHEN %s THEN %s", w.Cond, w.Then)
	}
	if e.Else != nil {
		fmt.Fprintf(&b, " ELSE %s", e.Else)
	}
	b.WriteString(" END")
	return b.String()
}

func (e *Coalesce) String() string {
	parts := make([]string, len(e.Args))
	for i, a := range e.Args {
		parts[i] = a.String()
	}
	return fmt.Sprintf("COALESCE(%s)", strings.Join(parts, ", "))
}

// walkExt walks the operands of the expressions of this file.
func walkExt(e Expr, fn func(Expr) bool) {
	switch x := e.(type) {
	case *Func:
		for _, a := range x.Args {
			Walk(a, fn)
		}
	case *Case:
		for _, w := range x.Whens {
			Walk(w.Cond, fn)
			Walk(w.Then, fn)
		}
		if x.Else != nil {
			Walk(x.Else, fn)
		}
	case *Coalesce:
		for _, a := range x.Args {
			Walk(a, fn)
		}
	}
}

// mapExt maps the operands of the expressions of this file; ok is false
// for other expressions.
func mapExt(e Expr, fn func(Expr) (Expr, error)) (Expr, bool, error) {
	mapAll := func(in []Expr) ([]Expr, error) {
		out := make([]Expr, len(in))
		for i, a := range in {
			m, err := Map(a, fn)
			if err != nil {
				return nil, err
			}
			out[i] = m
		}
		return out, nil
	}
	var err error
	switch x := e.(type) {
	case *Func:
		c := *x
		c.Args, err = mapAll(x.Args)
		return &c, true, err
	case *Coalesce:
		c := *x
		c.Args, err = mapAll(x.Args)
		return &c, true, err
	case *Case:
		c := *x
		c.Whens = make([]When, len(x.Whens))
		for i, w := range x.Whens {
			if c.Whens[i].Cond, err = Map(w.Cond, fn); err != nil {
				return nil, true, err
			}
			if c.Whens[i].Then, err = Map(w.Then, fn); err != nil {
				return nil, true, err
			}
		}
		if x.Else != nil {
			if c.Else, err = Map(x.Else, fn); err != nil {
				return nil, true, err
			}
		}
		return &c, true, nil
	}
	return e, false, nil
}
