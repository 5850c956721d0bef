package builtins

import (
	"strings"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Array functions over types.ArrayValue carriers (one-dimensional arrays
// with lower bound 1). They are polymorphic (anyarray), so the binder
// types their calls (bind/array.go) and calls these implementations.

// ArrayToString joins the non-NULL elements' text with delim; NULL
// elements are skipped, or printed as *null when it is not nil.
func ArrayToString(a types.ArrayValue, delim string, null *string) string {
	var b strings.Builder
	first := true
	for _, e := range a.Elems {
		var s string
		switch {
		case e != nil:
			s = types.FormatText(e)
		case null != nil:
			s = *null
		default:
			continue
		}
		if !first {
			b.WriteString(delim)
		}
		first = false
		b.WriteString(s)
	}
	return b.String()
}

// ArrayLength is array_length(a, dim) (also array_upper): the length of
// dimension 1, NULL for an empty array or another dimension.
func ArrayLength(a types.ArrayValue, dim int32) any {
	if dim != 1 || len(a.Elems) == 0 {
		return nil
	}
	return int32(len(a.Elems))
}

// ArrayLower is array_lower(a, dim): 1, NULL for an empty array or
// another dimension.
func ArrayLower(a types.ArrayValue, dim int32) any {
	if dim != 1 || len(a.Elems) == 0 {
		return nil
	}
	return int32(1)
}

// ArrayCat concatenates two arrays of one element type.
func ArrayCat(a, b types.ArrayValue) types.ArrayValue {
	out := types.ArrayValue{Elem: a.Elem, Elems: make([]any, 0, len(a.Elems)+len(b.Elems))}
	out.Elems = append(append(out.Elems, a.Elems...), b.Elems...)
	return out
}

// ArrayPosition is array_position(a, x): the 1-based position of the first
// element not distinct from x, NULL when none.
func ArrayPosition(a types.ArrayValue, x any) any {
	for i, e := range a.Elems {
		if (e == nil && x == nil) || (e != nil && x != nil && types.Compare(e, x) == 0) {
			return int32(i + 1)
		}
	}
	return nil
}

// Subscript is a[i]: NULL out of bounds.
func Subscript(a types.ArrayValue, i int64) any {
	if i < 1 || i > int64(len(a.Elems)) {
		return nil
	}
	return a.Elems[i-1]
}

// arrayContains reports whether every non-NULL element of b equals an element
// of a (PostgreSQL's @>: an array with a NULL element contains nothing
// but the empty array).
func arrayContains(a, b types.ArrayValue) bool {
	for _, y := range b.Elems {
		if y == nil {
			return false
		}
		found := false
		for _, x := range a.Elems {
			if x != nil && types.Compare(x, y) == 0 {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// ArrayOp evaluates @> (contains), <@ (is contained by) and && (overlap).
func ArrayOp(op string, a, b types.ArrayValue) (bool, error) {
	switch op {
	case "@>":
		return arrayContains(a, b), nil
	case "<@":
		return arrayContains(b, a), nil
	case "&&":
		for _, x := range a.Elems {
			for _, y := range b.Elems {
				if x != nil && y != nil && types.Compare(x, y) == 0 {
					return true, nil
				}
			}
		}
		return false, nil
	}
	return false, sqlerr.New(sqlerr.CodeUndefinedFunction, "operator does not exist: anyarray %s anyarray", op)
}

// Quantified evaluates x op ANY (a) (all false) or x op ALL (a) (all
// true) with three-valued logic: cmp compares two non-NULL values.
func Quantified(x any, a types.ArrayValue, all bool, cmp func(c int) bool) any {
	if len(a.Elems) == 0 {
		return all
	}
	if x == nil {
		return nil
	}
	sawNull := false
	for _, e := range a.Elems {
		if e == nil {
			sawNull = true
			continue
		}
		r := cmp(types.Compare(x, e))
		if all && !r {
			return false
		}
		if !all && r {
			return true
		}
	}
	if sawNull {
		return nil
	}
	return all
}
