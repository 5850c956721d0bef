// Package builtins holds the scalar built-in functions of the SQL engine:
// their overloads (argument and result types, as PostgreSQL declares them)
// and their row-at-a-time implementations over type carriers (see package
// types). The binder resolves a call to one overload; the executor calls
// its Fn per row.
package builtins

import (
	"github.com/phantom-db/phantom/compute/sql/types"
)

// AnyText as an argument type accepts a value of any type, converted to its
// text form (concat, concat_ws, format-style functions).
const AnyText = types.Unknown

// Overload is one signature of a built-in function.
type Overload struct {
	// Args are the parameter types; with Variadic the last one repeats
	// zero or more times.
	Args     []types.T
	Variadic bool
	// Ret is the result type; RetFromArg >= 0 makes it the type of that
	// argument instead (after resolution).
	Ret        types.T
	RetFromArg int
	// Strict functions return NULL for a NULL argument without running Fn.
	Strict bool
	// Volatile functions (random, now) must not be folded at bind time.
	Volatile bool
	// Fn computes the result from carrier values (nil for NULL).
	Fn func(args []any) (any, error)
}

var registry = map[string][]Overload{}

// register adds strict overloads with a fixed result type.
func register(name string, ret types.T, fn func([]any) (any, error), args ...types.T) {
	registry[name] = append(registry[name], Overload{Args: args, Ret: ret, RetFromArg: -1, Strict: true, Fn: fn})
}

// registerOv adds a fully described overload.
func registerOv(name string, o Overload) {
	registry[name] = append(registry[name], o)
}

// Lookup returns the overloads of a function name (nil when unknown).
func Lookup(name string) []Overload { return registry[name] }

// ResultType is the result type of o called with argument types args.
func (o Overload) ResultType(args []types.T) types.T {
	if o.RetFromArg >= 0 && o.RetFromArg < len(args) {
		return args[o.RetFromArg]
	}
	return o.Ret
}

// ParamType is the type of parameter i (repeating the last when variadic).
func (o Overload) ParamType(i int) types.T {
	if i >= len(o.Args) {
		return o.Args[len(o.Args)-1]
	}
	return o.Args[i]
}

// Accepts reports whether o takes n arguments.
func (o Overload) Accepts(n int) bool {
	if o.Variadic {
		return n >= len(o.Args)-1
	}
	return n == len(o.Args)
}
