package bind

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// generateSeries binds generate_series(start, stop [, step]) over
// integers, numerics or timestamps, with PostgreSQL's overloads: the
// common numeric type of the arguments, or timestamp[tz] bounds with an
// interval step.
//
// The series streams from a Series node (batch by batch, never
// materialized); args are the call's bound arguments.
func (b *Binder) generateSeries(fc *pg_query.FuncCall, args []plan.Expr) (*plan.Series, error) {
	if len(args) < 2 || len(args) > 3 || fc.AggStar || fc.AggDistinct || fc.Over != nil {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function generate_series with %d arguments does not exist", len(args)), fc.Location)
	}
	var err error
	unknown := 0
	for _, a := range args {
		if u, ok := a.(*unknownLit); ok && !u.isParam {
			unknown++
		}
	}
	if unknown == len(args) {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeAmbiguousFunction, "function generate_series(unknown, ...) is not unique").
			WithHint("Could not choose a best candidate function. You might need to add explicit type casts."), fc.Location)
	}
	// Timestamps: (ts, ts, interval).
	isTime := func(t types.T) bool { return t == types.Timestamp || t == types.TimestampTZ || t == types.Date }
	for _, a := range args[:2] {
		if isTime(a.Type()) {
			return b.timeSeries(fc, args)
		}
	}
	for i, a := range args {
		if a.Type() != types.Unknown && !a.Type().IsNumeric() {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction,
				"function generate_series does not exist for an argument of type %s", a.Type().SQLName()).
				WithHint("generate_series takes integers, numerics, or timestamps with an interval step"), exprLocation(fc.Args[i]))
		}
	}
	for i, a := range args {
		if args[i], err = b.coerce(a, types.Int4); err != nil {
			return nil, err
		}
	}
	args, t, err := b.commonType(args, "generate_series", fc.Location)
	if err != nil {
		return nil, err
	}
	switch t {
	case types.Int2:
		t = types.Int4
	case types.Float4, types.Float8:
		t = types.Numeric // PostgreSQL resolves float arguments to the numeric overload
	}
	for i := range args {
		if args[i], err = castTo(args[i], t); err != nil {
			return nil, b.errAt(sqlerr.As(err), fc.Location)
		}
	}
	s := &plan.Series{Start: args[0], Stop: args[1], T: t, Cols: []plan.Column{{Name: "generate_series", T: t}}}
	if len(args) == 3 {
		s.Step = args[2]
	} else {
		one, _ := types.ParseText(t, "1")
		s.Step = &plan.Const{Value: one, T: t}
	}
	return s, nil
}

// timeSeries binds generate_series(timestamp[tz], timestamp[tz], interval).
func (b *Binder) timeSeries(fc *pg_query.FuncCall, args []plan.Expr) (*plan.Series, error) {
	if len(args) != 3 {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function generate_series(timestamp, timestamp) does not exist").
			WithHint("give an interval step"), fc.Location)
	}
	t := types.Timestamp
	for _, a := range args[:2] {
		if a.Type() == types.TimestampTZ {
			t = types.TimestampTZ
		}
	}
	var err error
	for i := range 2 {
		if args[i], err = b.coerce(args[i], t); err != nil {
			return nil, err
		}
		if args[i], err = castTo(args[i], t); err != nil {
			return nil, b.errAt(sqlerr.As(err), fc.Location)
		}
	}
	if args[2], err = b.coerce(args[2], types.Interval); err != nil {
		return nil, err
	}
	if args[2].Type() != types.Interval {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction,
			"function generate_series(%s, %s, %s) does not exist", t.SQLName(), t.SQLName(), args[2].Type().SQLName()), fc.Location)
	}
	return &plan.Series{Start: args[0], Stop: args[1], Step: args[2], T: t, Cols: []plan.Column{{Name: "generate_series", T: t}}}, nil
}
