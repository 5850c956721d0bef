package builtins

import (
	"math"
	"math/rand/v2"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

const (
	i2  = types.Int2
	f4  = types.Float4
	f8  = types.Float8
	num = types.Numeric
)

func f64(v any) float64 { return types.ToFloat(v) }

func dec(v any) types.Decimal { return v.(types.Decimal) }

func floatOut(f float64) (any, error) {
	if math.IsInf(f, 0) {
		return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "value out of range: overflow")
	}
	return f, nil
}

func init() {
	// abs and sign per type.
	register("abs", i2, func(a []any) (any, error) {
		x := a[0].(int16)
		if x == math.MinInt16 {
			return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "smallint out of range")
		}
		return max(x, -x), nil
	}, i2)
	register("abs", i4, func(a []any) (any, error) {
		x := a[0].(int32)
		if x == math.MinInt32 {
			return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "integer out of range")
		}
		return max(x, -x), nil
	}, i4)
	register("abs", i8, func(a []any) (any, error) {
		x := a[0].(int64)
		if x == math.MinInt64 {
			return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "bigint out of range")
		}
		return max(x, -x), nil
	}, i8)
	register("abs", f4, func(a []any) (any, error) { return float32(math.Abs(f64(a[0]))), nil }, f4)
	register("abs", f8, func(a []any) (any, error) { return math.Abs(f64(a[0])), nil }, f8)
	register("abs", num, func(a []any) (any, error) { return dec(a[0]).Abs(), nil }, num)
	register("sign", f8, func(a []any) (any, error) {
		x := f64(a[0])
		switch {
		case x > 0:
			return 1.0, nil
		case x < 0:
			return -1.0, nil
		}
		return 0.0, nil
	}, f8)
	register("sign", num, func(a []any) (any, error) { return types.DecimalFromInt(int64(dec(a[0]).Sign())), nil }, num)

	// Rounding: float8 rounds half to even (rint), numeric half away from zero.
	register("round", f8, func(a []any) (any, error) { return math.RoundToEven(f64(a[0])), nil }, f8)
	register("round", num, func(a []any) (any, error) { return dec(a[0]).Round(0), nil }, num)
	register("round", num, func(a []any) (any, error) { return dec(a[0]).Round(clampScale(i64(a[1]))), nil }, num, i4)
	register("trunc", f8, func(a []any) (any, error) { return math.Trunc(f64(a[0])), nil }, f8)
	register("trunc", num, func(a []any) (any, error) { return dec(a[0]).Trunc(0), nil }, num)
	register("trunc", num, func(a []any) (any, error) { return dec(a[0]).Trunc(clampScale(i64(a[1]))), nil }, num, i4)
	register("floor", f8, func(a []any) (any, error) { return math.Floor(f64(a[0])), nil }, f8)
	register("floor", num, func(a []any) (any, error) { return dec(a[0]).Floor(), nil }, num)
	for _, n := range []string{"ceil", "ceiling"} {
		register(n, f8, func(a []any) (any, error) { return math.Ceil(f64(a[0])), nil }, f8)
		register(n, num, func(a []any) (any, error) { return dec(a[0]).Ceil(), nil }, num)
	}

	// mod per type.
	for _, t := range []types.T{i2, i4, i8, num} {
		register("mod", t, func(a []any) (any, error) { return types.Arith("%", a[0], a[1]) }, t, t)
	}

	// float8 transcendental functions.
	register("sqrt", f8, func(a []any) (any, error) {
		x := f64(a[0])
		if x < 0 {
			return nil, sqlerr.New(sqlerr.CodeInvalidArgumentForPower, "cannot take square root of a negative number")
		}
		return math.Sqrt(x), nil
	}, f8)
	register("cbrt", f8, func(a []any) (any, error) { return math.Cbrt(f64(a[0])), nil }, f8)
	register("exp", f8, func(a []any) (any, error) {
		x := f64(a[0])
		r := math.Exp(x)
		if math.IsInf(r, 0) && !math.IsInf(x, 0) {
			return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "value out of range: overflow")
		}
		return r, nil
	}, f8)
	logf := func(f func(float64) float64) func([]any) (any, error) {
		return func(a []any) (any, error) {
			x := f64(a[0])
			switch {
			case x == 0:
				return nil, sqlerr.New(sqlerr.CodeInvalidArgumentForLog, "cannot take logarithm of zero")
			case x < 0:
				return nil, sqlerr.New(sqlerr.CodeInvalidArgumentForLog, "cannot take logarithm of a negative number")
			}
			return f(x), nil
		}
	}
	register("ln", f8, logf(math.Log), f8)
	register("log", f8, logf(math.Log10), f8)
	register("log10", f8, logf(math.Log10), f8)
	power := func(a []any) (any, error) {
		x, y := f64(a[0]), f64(a[1])
		if x == 0 && y < 0 {
			return nil, sqlerr.New(sqlerr.CodeInvalidArgumentForPower, "zero raised to a negative power is undefined")
		}
		if x < 0 && y != math.Trunc(y) {
			return nil, sqlerr.New(sqlerr.CodeInvalidArgumentForPower, "a negative number raised to a non-integer power yields a complex result")
		}
		return floatOut(math.Pow(x, y))
	}
	register("power", f8, power, f8, f8)
	register("pow", f8, power, f8, f8)
	registerOv("pi", Overload{Ret: f8, RetFromArg: -1, Strict: true, Fn: func([]any) (any, error) { return math.Pi, nil }})
	registerOv("random", Overload{Ret: f8, RetFromArg: -1, Strict: true, Volatile: true, Fn: func([]any) (any, error) { return rand.Float64(), nil }})
	register("degrees", f8, func(a []any) (any, error) { return f64(a[0]) * 180 / math.Pi, nil }, f8)
	register("radians", f8, func(a []any) (any, error) { return f64(a[0]) * math.Pi / 180, nil }, f8)
	register("div", num, func(a []any) (any, error) {
		q, err := dec(a[0]).DivScale(dec(a[1]), 0)
		if err != nil {
			return nil, err
		}
		// div truncates toward zero
		t := dec(a[0]).Sub(q.Mul(dec(a[1])))
		if t.Sign() != 0 && t.Sign() != dec(a[0]).Sign() {
			if q.Sign() > 0 {
				q = q.Sub(types.DecimalFromInt(1))
			} else {
				q = q.Add(types.DecimalFromInt(1))
			}
		}
		return q, nil
	}, num, num)
}

// clampScale bounds a scale argument to what a numeric can hold.
func clampScale(s int64) int32 {
	return int32(max(min(s, 1000), -1000))
}
