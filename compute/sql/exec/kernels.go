package exec

import (
	"cmp"
	"errors"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// errDivByZero and errFloatOver build fresh errors: callers may annotate them.
func errDivByZero() error { return sqlerr.New(sqlerr.CodeDivisionByZero, "division by zero") }

func errFloatOver() error {
	return sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "value out of range: overflow")
}

func intOutOfRange(t types.T) error {
	return sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "%s out of range", t.SQLName())
}

// arith evaluates l op r over two arrays of numeric type t in one loop per
// operator, checking overflow and division by zero on valid rows only.
func arith(mem memory.Allocator, op plan.ArithOp, t types.T, l, r arrow.Array) (arrow.Array, error) {
	n := l.Len()
	valid, nulls := validity(mem, n, l, r)
	var values *memory.Buffer
	var err error
	switch t {
	case types.Int4:
		var out []int32
		values, out = newFixedBuf[int32](mem, n)
		err = arithInt(op, fixedValues[int32](l), fixedValues[int32](r), out, valid, math.MinInt32)
	case types.Int8:
		var out []int64
		values, out = newFixedBuf[int64](mem, n)
		err = arithInt(op, fixedValues[int64](l), fixedValues[int64](r), out, valid, math.MinInt64)
	case types.Float8:
		var out []float64
		values, out = newFixedBuf[float64](mem, n)
		err = arithFloat(op, fixedValues[float64](l), fixedValues[float64](r), out, valid)
	}
	if err == nil && values == nil {
		err = sqlerr.New(sqlerr.CodeInternalError, "arithmetic on %s", t)
	}
	if err != nil {
		if valid != nil {
			valid.Release()
		}
		if values != nil {
			values.Release()
		}
		if err == errOverflow {
			err = intOutOfRange(t)
		}
		return nil, err
	}
	return makeArray(t.Arrow(), n, valid, values, nulls), nil
}

// errOverflow is a sentinel the integer loops return; arith replaces it with
// the type's out-of-range error.
var errOverflow = errors.New("exec: integer overflow")

func arithInt[T int32 | int64](op plan.ArithOp, l, r, out []T, valid *memory.Buffer, minV T) error {
	switch op {
	case plan.Add:
		for i := range out {
			s := l[i] + r[i]
			if (s^l[i])&(s^r[i]) < 0 && isValid(valid, i) {
				return errOverflow
			}
			out[i] = s
		}
	case plan.Sub:
		for i := range out {
			d := l[i] - r[i]
			if (l[i]^r[i])&(l[i]^d) < 0 && isValid(valid, i) {
				return errOverflow
			}
			out[i] = d
		}
	case plan.Mul:
		for i := range out {
			a, b := l[i], r[i]
			p := a * b
			if a != 0 && (p/a != b || (a == -1 && b == minV) || (b == -1 && a == minV)) && isValid(valid, i) {
				return errOverflow
			}
			out[i] = p
		}
	case plan.Div:
		for i := range out {
			a, b := l[i], r[i]
			if b == 0 || (b == -1 && a == minV) {
				if !isValid(valid, i) {
					out[i] = 0
					continue
				}
				if b == 0 {
					return errDivByZero()
				}
				return errOverflow
			}
			out[i] = a / b
		}
	}
	return nil
}

func arithFloat(op plan.ArithOp, l, r, out []float64, valid *memory.Buffer) error {
	switch op {
	case plan.Add:
		for i := range out {
			out[i] = l[i] + r[i]
		}
	case plan.Sub:
		for i := range out {
			out[i] = l[i] - r[i]
		}
	case plan.Mul:
		for i := range out {
			out[i] = l[i] * r[i]
		}
	case plan.Div:
		for i := range out {
			if r[i] == 0 && isValid(valid, i) {
				return errDivByZero()
			}
			out[i] = l[i] / r[i]
		}
	}
	// PostgreSQL reports overflow when finite inputs give an infinite result.
	for i := range out {
		if math.IsInf(out[i], 0) && !math.IsInf(l[i], 0) && !math.IsInf(r[i], 0) && isValid(valid, i) {
			return errFloatOver()
		}
	}
	return nil
}

// compare evaluates l op r over two arrays of the same type into a Boolean
// array, NULL where either side is NULL.
func compare(mem memory.Allocator, op plan.CmpOp, l, r arrow.Array) arrow.Array {
	n := l.Len()
	valid, nulls := validity(mem, n, l, r)
	buf, bits := newBitmapBuf(mem, n)
	switch l.DataType().ID() {
	case arrow.INT32:
		cmpOrdered(op, fixedValues[int32](l), fixedValues[int32](r), bits)
	case arrow.INT64:
		cmpOrdered(op, fixedValues[int64](l), fixedValues[int64](r), bits)
	case arrow.FLOAT64:
		lv, rv := fixedValues[float64](l), fixedValues[float64](r)
		cmpFunc(op, n, func(i int) int { return cmpFloat(lv[i], rv[i]) }, bits)
	case arrow.STRING:
		ls, rs := l.(*array.String), r.(*array.String)
		cmpFunc(op, n, func(i int) int { return strings.Compare(ls.Value(i), rs.Value(i)) }, bits)
	case arrow.BOOL:
		lb, rb := l.(*array.Boolean), r.(*array.Boolean)
		cmpFunc(op, n, func(i int) int { return cmpBool(lb.Value(i), rb.Value(i)) }, bits)
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, valid, buf, nulls)
}

// cmpOrdered is the tight loop for integer comparisons.
func cmpOrdered[T int32 | int64](op plan.CmpOp, l, r []T, bits []byte) {
	switch op {
	case plan.EQ:
		for i := range l {
			if l[i] == r[i] {
				bitutil.SetBit(bits, i)
			}
		}
	case plan.NE:
		for i := range l {
			if l[i] != r[i] {
				bitutil.SetBit(bits, i)
			}
		}
	case plan.LT:
		for i := range l {
			if l[i] < r[i] {
				bitutil.SetBit(bits, i)
			}
		}
	case plan.LE:
		for i := range l {
			if l[i] <= r[i] {
				bitutil.SetBit(bits, i)
			}
		}
	case plan.GT:
		for i := range l {
			if l[i] > r[i] {
				bitutil.SetBit(bits, i)
			}
		}
	case plan.GE:
		for i := range l {
			if l[i] >= r[i] {
				bitutil.SetBit(bits, i)
			}
		}
	}
}

func cmpFunc(op plan.CmpOp, n int, c func(i int) int, bits []byte) {
	for i := range n {
		v := c(i)
		var ok bool
		switch op {
		case plan.EQ:
			ok = v == 0
		case plan.NE:
			ok = v != 0
		case plan.LT:
			ok = v < 0
		case plan.LE:
			ok = v <= 0
		case plan.GT:
			ok = v > 0
		case plan.GE:
			ok = v >= 0
		}
		if ok {
			bitutil.SetBit(bits, i)
		}
	}
}

// cmpFloat orders floats as PostgreSQL does: NaN equals NaN and sorts after
// every other value.
func cmpFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return cmp.Compare(a, b)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// logic evaluates three-valued AND (and=true) or OR over Boolean arrays.
func logic(mem memory.Allocator, and bool, l, r arrow.Array) arrow.Array {
	lb, rb := l.(*array.Boolean), r.(*array.Boolean)
	n := l.Len()
	vbuf, vbits := newBitmapBuf(mem, n)
	buf, bits := newBitmapBuf(mem, n)
	nulls := 0
	for i := range n {
		lv, rv := lb.IsValid(i), rb.IsValid(i)
		lx, rx := lv && lb.Value(i), rv && rb.Value(i)
		var val, ok bool
		if and {
			// false dominates; otherwise NULL if either is NULL.
			switch {
			case (lv && !lx) || (rv && !rx):
				ok, val = true, false
			case lv && rv:
				ok, val = true, true
			}
		} else {
			switch {
			case lx || rx:
				ok, val = true, true
			case lv && rv:
				ok, val = true, false
			}
		}
		if ok {
			bitutil.SetBit(vbits, i)
			if val {
				bitutil.SetBit(bits, i)
			}
		} else {
			nulls++
		}
	}
	if nulls == 0 {
		vbuf.Release()
		vbuf = nil
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, vbuf, buf, nulls)
}

// not negates a Boolean array; NULL stays NULL.
func not(mem memory.Allocator, x arrow.Array) arrow.Array {
	xb := x.(*array.Boolean)
	n := x.Len()
	valid, nulls := validity(mem, n, x)
	buf, bits := newBitmapBuf(mem, n)
	for i := range n {
		if !xb.Value(i) {
			bitutil.SetBit(bits, i)
		}
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, valid, buf, nulls)
}

// isNull evaluates IS [NOT] NULL; the result has no NULLs.
func isNull(mem memory.Allocator, x arrow.Array, negate bool) arrow.Array {
	n := x.Len()
	buf, bits := newBitmapBuf(mem, n)
	for i := range n {
		if x.IsNull(i) != negate {
			bitutil.SetBit(bits, i)
		}
	}
	return makeArray(arrow.FixedWidthTypes.Boolean, n, nil, buf, 0)
}

// cast converts x to type t with PostgreSQL's cast semantics.
func cast(mem memory.Allocator, x arrow.Array, t types.T) (arrow.Array, error) {
	from := types.FromArrow(x.DataType())
	if from == t {
		x.Retain()
		return x, nil
	}
	b := array.NewBuilder(mem, t.Arrow())
	defer b.Release()
	n := x.Len()
	b.Reserve(n)
	for i := range n {
		v := valueAt(x, i)
		if v == nil {
			b.AppendNull()
			continue
		}
		out, err := types.Cast(v, t)
		if err != nil {
			return nil, err
		}
		appendValue(b, out)
	}
	return b.NewArray(), nil
}
