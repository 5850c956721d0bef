package types

import (
	"math"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// Promote returns the type PostgreSQL computes arithmetic and comparisons
// of two numeric types in: float8 when either is float8, or float4 meets a
// non-float4, or a float meets numeric; float4 for two float4; numeric
// when either is numeric (and the other an integer); otherwise the wider
// integer.
func Promote(a, b T) T {
	switch {
	case a == Float8 || b == Float8:
		return Float8
	case a == Float4 && b == Float4:
		return Float4
	case a == Float4 || b == Float4:
		return Float8
	case a == Numeric || b == Numeric:
		return Numeric
	case a == Int8 || b == Int8:
		return Int8
	case a == Int4 || b == Int4:
		return Int4
	}
	return Int2
}

// DatetimeArith returns the result type of l op r for the date, time and
// interval operators PostgreSQL has, with the types the operands are cast
// to first; ok is false when there is no such operator. op is one of + - * /.
func DatetimeArith(op string, l, r T) (res, lt, rt T, ok bool) {
	switch op {
	case "+":
		switch {
		case l == Date && r.IsInteger():
			return Date, Date, Int4, true
		case l.IsInteger() && r == Date:
			return Date, Int4, Date, true
		case l == Date && r == Interval:
			return Timestamp, Timestamp, Interval, true
		case l == Interval && r == Date:
			return Timestamp, Interval, Timestamp, true
		case l == Date && r == Time:
			return Timestamp, Date, Time, true
		case l == Time && r == Date:
			return Timestamp, Time, Date, true
		case (l == Timestamp || l == TimestampTZ || l == Time) && r == Interval:
			return l, l, Interval, true
		case l == Interval && (r == Timestamp || r == TimestampTZ || r == Time):
			return r, Interval, r, true
		case l == Interval && r == Interval:
			return Interval, Interval, Interval, true
		}
	case "-":
		switch {
		case l == Date && r.IsInteger():
			return Date, Date, Int4, true
		case l == Date && r == Date:
			return Int4, Date, Date, true
		case l == Date && r == Interval:
			return Timestamp, Timestamp, Interval, true
		case (l == Timestamp || l == TimestampTZ || l == Time) && r == Interval:
			return l, l, Interval, true
		case l == Interval && r == Interval:
			return Interval, Interval, Interval, true
		case l == r && (l == Timestamp || l == TimestampTZ || l == Time):
			return Interval, l, r, true
		case l == Timestamp && r == Date, l == Date && r == Timestamp:
			return Interval, Timestamp, Timestamp, true
		case l == TimestampTZ && (r == Date || r == Timestamp), r == TimestampTZ && (l == Date || l == Timestamp):
			return Interval, TimestampTZ, TimestampTZ, true
		}
	case "*":
		switch {
		case l == Interval && r.IsNumeric():
			return Interval, Interval, Float8, true
		case l.IsNumeric() && r == Interval:
			return Interval, Float8, Interval, true
		}
	case "/":
		if l == Interval && r.IsNumeric() {
			return Interval, Interval, Float8, true
		}
	}
	return Unknown, Unknown, Unknown, false
}

// Arith evaluates a op b over two non-NULL carrier values: numbers of one
// type (after Promote) or the datetime operands DatetimeArith allows.
// Integer overflow answers 22003, division by zero 22012.
func Arith(op string, a, b any) (any, error) {
	switch x := a.(type) {
	case int16:
		r, err := intArith(op, int64(x), int64(b.(int16)), math.MinInt16, math.MaxInt16)
		if err != nil {
			return nil, fixRange(err, Int2)
		}
		return int16(r), nil
	case int32:
		if d, ok := b.(DateValue); ok && op == "+" {
			return addDays(d, int64(x))
		}
		r, err := intArith(op, int64(x), int64(b.(int32)), math.MinInt32, math.MaxInt32)
		if err != nil {
			return nil, fixRange(err, Int4)
		}
		return int32(r), nil
	case int64:
		return int64Arith(op, x, b.(int64))
	case float32:
		r, err := floatArith(op, float64(x), float64(b.(float32)))
		if err != nil {
			return nil, err
		}
		f := float32(r)
		if math.IsInf(float64(f), 0) && !math.IsInf(r, 0) {
			return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "value out of range: overflow")
		}
		return f, nil
	case float64:
		if iv, ok := b.(IntervalValue); ok && op == "*" {
			return iv.Mul(x)
		}
		return floatArith(op, x, b.(float64))
	case Decimal:
		y := b.(Decimal)
		switch op {
		case "+":
			return x.Add(y), nil
		case "-":
			return x.Sub(y), nil
		case "*":
			return x.Mul(y), nil
		case "/":
			return x.Div(y)
		case "%":
			return x.Mod(y)
		}
	case DateValue:
		switch y := b.(type) {
		case int32:
			if op == "-" {
				return addDays(x, -int64(y))
			}
			return addDays(x, int64(y))
		case DateValue:
			return int32(int64(x) - int64(y)), nil
		case TimeValue:
			return TimestampValue(int64(x)*usPerDay + int64(y)), nil
		}
	case TimeValue:
		switch y := b.(type) {
		case IntervalValue:
			m := y.Micros
			if op == "-" {
				m = -m
			}
			_, us := floorDiv(int64(x)+m, usPerDay)
			return TimeValue(us), nil
		case TimeValue:
			return IntervalValue{Micros: int64(x) - int64(y)}, nil
		case DateValue:
			return TimestampValue(int64(y)*usPerDay + int64(x)), nil
		}
	case TimestampValue:
		switch y := b.(type) {
		case IntervalValue:
			if op == "-" {
				y = y.Neg()
			}
			v, err := AddInterval(int64(x), y)
			return TimestampValue(v), err
		case TimestampValue:
			return SubTimestamps(int64(x), int64(y)), nil
		}
	case TimestampTZValue:
		switch y := b.(type) {
		case IntervalValue:
			if op == "-" {
				y = y.Neg()
			}
			v, err := AddInterval(int64(x), y)
			return TimestampTZValue(v), err
		case TimestampTZValue:
			return SubTimestamps(int64(x), int64(y)), nil
		}
	case IntervalValue:
		switch y := b.(type) {
		case IntervalValue:
			if op == "-" {
				y = y.Neg()
			}
			return x.Add(y), nil
		case float64:
			if op == "/" {
				if y == 0 {
					return nil, sqlerr.New(sqlerr.CodeDivisionByZero, "division by zero")
				}
				return x.Mul(1 / y)
			}
			return x.Mul(y)
		case TimestampValue:
			v, err := AddInterval(int64(y), x)
			return TimestampValue(v), err
		case TimestampTZValue:
			v, err := AddInterval(int64(y), x)
			return TimestampTZValue(v), err
		case TimeValue:
			_, us := floorDiv(int64(y)+x.Micros, usPerDay)
			return TimeValue(us), nil
		}
	}
	return nil, sqlerr.New(sqlerr.CodeInternalError, "no operator %T %s %T", a, op, b)
}

func addDays(d DateValue, n int64) (any, error) {
	v := int64(d) + n
	if v < minDate || v > maxDate {
		return nil, sqlerr.New(sqlerr.CodeDatetimeFieldOverflow, "date out of range")
	}
	return DateValue(v), nil
}

var errIntRange = sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "integer out of range")

func fixRange(err error, t T) error {
	if err == errIntRange {
		return rangeError(t)
	}
	return err
}

func intArith(op string, a, b, lo, hi int64) (int64, error) {
	var r int64
	switch op {
	case "+":
		r = a + b
	case "-":
		r = a - b
	case "*":
		r = a * b
	case "/":
		if b == 0 {
			return 0, sqlerr.New(sqlerr.CodeDivisionByZero, "division by zero")
		}
		r = a / b
	case "%":
		if b == 0 {
			return 0, sqlerr.New(sqlerr.CodeDivisionByZero, "division by zero")
		}
		return a % b, nil
	}
	if r < lo || r > hi {
		return 0, errIntRange
	}
	return r, nil
}

func int64Arith(op string, a, b int64) (any, error) {
	over := func() (any, error) { return nil, rangeError(Int8) }
	switch op {
	case "+":
		s := a + b
		if (s^a)&(s^b) < 0 {
			return over()
		}
		return s, nil
	case "-":
		d := a - b
		if (a^b)&(a^d) < 0 {
			return over()
		}
		return d, nil
	case "*":
		p := a * b
		if a != 0 && (p/a != b || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64)) {
			return over()
		}
		return p, nil
	case "/":
		if b == 0 {
			return nil, sqlerr.New(sqlerr.CodeDivisionByZero, "division by zero")
		}
		if b == -1 && a == math.MinInt64 {
			return over()
		}
		return a / b, nil
	case "%":
		if b == 0 {
			return nil, sqlerr.New(sqlerr.CodeDivisionByZero, "division by zero")
		}
		if b == -1 {
			return int64(0), nil
		}
		return a % b, nil
	}
	return nil, sqlerr.New(sqlerr.CodeInternalError, "operator %s", op)
}

func floatArith(op string, a, b float64) (float64, error) {
	var r float64
	switch op {
	case "+":
		r = a + b
	case "-":
		r = a - b
	case "*":
		r = a * b
	case "/":
		if b == 0 {
			return 0, sqlerr.New(sqlerr.CodeDivisionByZero, "division by zero")
		}
		r = a / b
	default:
		return 0, sqlerr.New(sqlerr.CodeInternalError, "operator %s", op)
	}
	if math.IsInf(r, 0) && !math.IsInf(a, 0) && !math.IsInf(b, 0) {
		return 0, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "value out of range: overflow")
	}
	return r, nil
}
