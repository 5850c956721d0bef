package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/bind"
	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/parse"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
	"github.com/phantom-db/phantom/compute/storage"
)

// Description is what Describe reports about one statement without running
// it: the types of its parameters and the columns of its result rows.
type Description struct {
	// Params holds the type name (bool, int4, int8, float8, text) of each
	// parameter $1..$n, n being the highest parameter number in the text.
	// A parameter whose context does not fix its type is text, as in
	// PostgreSQL.
	Params []string
	// Columns of the result rows; nil for statements without rows.
	Columns []Column
}

// Describe parses and binds one statement at a fresh snapshot, reads
// nothing but the catalog, writes nothing, and reports its parameter types
// and result columns (the extended query protocol's Describe). known, when
// non-nil, holds client-declared parameter types ("" for undeclared); those
// are reported as given. A query with more than one statement answers 42601;
// an empty query an empty Description. Errors are *sqlerr.Error, as from
// Execute.
//
// Parameter types are learned from the binder itself: each parameter is
// bound with probe values (text, then bool, float8, int8) that only the
// type its context coerces to accepts, so Describe agrees with Execute by
// construction. It costs up to 1+4n binds, all on one cached catalog read.
func (e *Engine) Describe(ctx context.Context, query string, known []string) (*Description, error) {
	return e.describe(ctx, query, known, func(context.Context, storage.Snapshot) (uint64, error) { return e.cfg.DatabaseID, nil })
}

// describe is Describe with the database (or branch) id chosen at the
// snapshot by dbID.
func (e *Engine) describe(ctx context.Context, query string, known []string,
	dbID func(context.Context, storage.Snapshot) (uint64, error)) (_ *Description, err error) {
	defer func() {
		if r := recover(); r != nil {
			e.cfg.Logger.Error("panic describing statement", "query", query, "panic", r)
			err = sqlerr.New(sqlerr.CodeInternalError, "internal error: %v", r)
		}
	}()
	stmts, err := parse.Parse(query)
	if err != nil {
		return nil, err
	}
	switch len(stmts) {
	case 0:
		return &Description{}, nil
	case 1:
	default:
		return nil, sqlerr.New(sqlerr.CodeSyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	n, err := maxParam(query)
	if err != nil {
		return nil, err
	}
	d := &Description{Params: make([]string, n)}
	for i := range d.Params {
		d.Params[i] = "text"
		if i < len(known) && known[i] != "" {
			d.Params[i] = known[i]
		}
	}
	if _, ok := stmts[0].AST.Node.(*pg_query.Node_TransactionStmt); ok {
		// Transaction control has neither parameters nor rows; the binder
		// does not handle it, the session does.
		return d, nil
	}
	snap, err := e.cfg.KV.Begin(ctx)
	if err != nil {
		return nil, sqlerr.Normalize(fmt.Errorf("sql: begin: %w", err))
	}
	db, err := dbID(ctx, snap)
	if err != nil {
		return nil, sqlerr.Normalize(err)
	}
	cat := &memoCatalog{r: &catalog.Reader{KV: e.cfg.KV, Snap: snap, DB: db}, m: map[string]*catalog.Table{}}
	bindWith := func(params []any) (plan.Statement, error) {
		return bind.New(ctx, cat, query, params).Bind(stmts[0].AST)
	}
	// Declared parameters are bound with a value of their type, which is
	// what Execute will see (an untyped context infers the type from it);
	// should that fail where NULL would not, bind them as NULL.
	params := make([]any, n)
	for i := range params {
		if i < len(known) {
			params[i] = sampleOf(known[i])
		}
	}
	bound, err := bindWith(params)
	if err != nil && len(known) > 0 {
		clear(params)
		bound, err = bindWith(params)
	}
	if err != nil {
		return nil, sqlerr.Normalize(err)
	}
	var cols []plan.Column
	if q, ok := bound.(*plan.Query); ok {
		cols = q.Root.Columns()
	} else if _, ok := bound.(*plan.Explain); ok {
		cols = []plan.Column{{Name: "QUERY PLAN", T: types.Text}}
	} else {
		cols = returningColumns(bound)
	}
	for _, c := range cols {
		d.Columns = append(d.Columns, Column{Name: c.Name, Type: c.T.String()})
	}
	for i := range params {
		if i < len(known) && known[i] != "" {
			continue
		}
		d.Params[i] = probeParam(bindWith, params, i)
	}
	return d, nil
}

// paramProbes are tried in order; the first one the statement binds with
// names the parameter's type. Each is accepted by exactly the types
// listed (types.CoerceParam): "x" by text, true by bool and text,
// 1.5 by float8 and text, 3000000000 by int8, float8 and text. A
// parameter accepting none of them is int4 (3000000000 overflows it).
var paramProbes = []struct {
	v any
	t types.T
}{
	{"x", types.Text},
	{true, types.Bool},
	{json.Number("1.5"), types.Float8},
	{json.Number("3000000000"), types.Int8},
}

func probeParam(bindWith func([]any) (plan.Statement, error), params []any, i int) string {
	defer func(v any) { params[i] = v }(params[i])
	// The later types (date, numeric, ...) accept none of the probes below:
	// a ParamProbe records the type the context coerces the parameter to.
	probe := &types.ParamProbe{}
	params[i] = probe
	if _, err := bindWith(params); err == nil && probe.T >= types.Int2 {
		return probe.T.String()
	}
	var last error
	for _, p := range paramProbes {
		params[i] = p.v
		if _, last = bindWith(params); last == nil {
			return p.t.String()
		}
	}
	if sqlerr.Code(last) == sqlerr.CodeNumericValueOutOfRange {
		return types.Int4.String()
	}
	// The statement failed for a reason other than the parameter's type;
	// report text, the type PostgreSQL gives an unconstrained parameter.
	return types.Text.String()
}

// returningColumns returns the RETURNING columns of a writing statement:
// the Cols of its non-nil Returning field, if the plan has one. It reads the
// field by reflection because RETURNING is landing in the plan package
// concurrently; once it has, this becomes a type switch over plan.Insert,
// plan.Update and plan.Delete.
func returningColumns(st plan.Statement) []plan.Column {
	v := reflect.ValueOf(st)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	r := v.Elem().FieldByName("Returning")
	if !r.IsValid() || r.Kind() != reflect.Pointer || r.IsNil() || r.Elem().Kind() != reflect.Struct {
		return nil
	}
	cols, _ := r.Elem().FieldByName("Cols").Interface().([]plan.Column)
	return cols
}

// sampleOf returns a value of a declared parameter type (nil for text
// and undeclared, whose NULL binds like a string).
func sampleOf(typ string) any {
	switch typ {
	case "bool":
		return true
	case "int4":
		return int32(1)
	case "int8":
		return int64(1)
	case "float8":
		return 1.5
	}
	return nil
}

// maxParam returns the highest $n in query (0 without parameters).
func maxParam(query string) (int, error) {
	scan, err := pg_query.Scan(query)
	if err != nil {
		return 0, sqlerr.New(sqlerr.CodeSyntaxError, "%v", err)
	}
	n := 0
	for _, tok := range scan.Tokens {
		if tok.Token != pg_query.Token_PARAM || tok.Start < 0 || int(tok.End) > len(query) || tok.Start+1 > tok.End {
			continue
		}
		v, err := strconv.Atoi(query[tok.Start+1 : tok.End])
		if err != nil || v < 1 || v > 65535 {
			return 0, sqlerr.New(sqlerr.CodeUndefinedParameter, "there is no parameter %s", query[tok.Start:tok.End]).
				WithPosition(parse.Position(query, tok.Start))
		}
		n = max(n, v)
	}
	return n, nil
}

// memoCatalog caches the descriptors one Describe reads, so its probe binds
// cost one catalog read per table.
type memoCatalog struct {
	r *catalog.Reader
	m map[string]*catalog.Table
}

func (c *memoCatalog) Table(ctx context.Context, name string) (*catalog.Table, error) {
	if t, ok := c.m[name]; ok {
		return t, nil
	}
	t, err := c.r.Table(ctx, name)
	if err != nil {
		return nil, err
	}
	c.m[name] = t
	return t, nil
}
