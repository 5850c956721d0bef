package exec

import (
	"math"
	"math/bits"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Typed kernels for the later types where the row-by-row carrier path
// (expr_ext.go) is slow and the values fit machine words:
//
//   - NUMERIC +, -, * and comparisons on a scaled-int64 fast path: a value
//     whose text has at most 18 digits parses into (unscaled int64, scale)
//     without allocating, the result follows types.Decimal's scale rules
//     (+/-: the larger scale, *: the sum) and prints as Decimal.String
//     does. A row that does not parse that way or would overflow int64
//     falls back to types.Decimal (math/big) for that row only, so results
//     are exactly the carrier path's.
//   - comparisons of two fixed-width temporal or int2 columns of the same
//     type (date, time, timestamp[tz], int2) as integer loops.
//   - casts int2/int4/int8 -> numeric and date -> timestamp[tz].

// maxFastDigits keeps every parsed unscaled value below 10^18, so one
// rescale by up to 10 digits or one addition is checked cheaply.
const maxFastDigits = 18

// pow10i64 are the powers of ten that fit an int64.
var pow10i64 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// parseFastDec parses the text of a NUMERIC in its output form (optional
// '-', digits, optional '.' and digits) with at most maxFastDigits digits.
// ok is false for anything else (the caller falls back to ParseDecimal).
func parseFastDec(s string) (u int64, scale int32, ok bool) {
	if len(s) == 0 {
		return 0, 0, false
	}
	neg := false
	i := 0
	if s[0] == '-' {
		neg = true
		i = 1
	}
	digits := 0
	point := -1
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			u = u*10 + int64(c-'0')
			digits++
			if digits > maxFastDigits {
				return 0, 0, false
			}
		case c == '.' && point < 0:
			point = i
		default:
			return 0, 0, false
		}
	}
	if digits == 0 {
		return 0, 0, false
	}
	if point >= 0 {
		scale = int32(len(s) - point - 1)
	}
	if neg {
		u = -u
	}
	return u, scale, true
}

// appendFastDec appends u * 10^-scale as Decimal.String prints it.
func appendFastDec(dst []byte, u int64, scale int32) []byte {
	neg := u < 0
	var mag uint64
	if neg {
		mag = uint64(-u)
		if u == math.MinInt64 {
			mag = 1 << 63
		}
		dst = append(dst, '-')
	} else {
		mag = uint64(u)
	}
	var tmp [24]byte
	d := strconv.AppendUint(tmp[:0], mag, 10)
	if scale <= 0 {
		return append(dst, d...)
	}
	s := int(scale)
	if len(d) <= s {
		dst = append(dst, '0', '.')
		for range s - len(d) {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	p := len(d) - s
	dst = append(dst, d[:p]...)
	dst = append(dst, '.')
	return append(dst, d[p:]...)
}

// mulCheck returns a*b and whether it did not overflow.
func mulCheck(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	hi, lo := bits.Mul64(uint64(absI64(a)), uint64(absI64(b)))
	if hi != 0 || lo > math.MaxInt64 || a == math.MinInt64 || b == math.MinInt64 {
		return 0, false
	}
	p := int64(lo)
	if (a < 0) != (b < 0) {
		p = -p
	}
	return p, true
}

func absI64(a int64) int64 {
	if a < 0 {
		return -a
	}
	return a
}

// rescaleUp returns u * 10^by and whether it fits.
func rescaleUp(u int64, by int32) (int64, bool) {
	if by == 0 {
		return u, true
	}
	if by < 0 || by >= int32(len(pow10i64)) {
		return 0, false
	}
	return mulCheck(u, pow10i64[by])
}

// addCheck returns a+b and whether it did not overflow.
func addCheck(a, b int64) (int64, bool) {
	s := a + b
	return s, (s^a)&(s^b) >= 0
}

// fastDecArith computes l op r (op +, -, *) on the fast path; ok false
// means the caller must use types.Decimal.
func fastDecArith(op plan.ArithOp, lu int64, ls int32, ru int64, rs int32) (int64, int32, bool) {
	switch op {
	case plan.Add, plan.Sub:
		s := max(ls, rs)
		a, ok1 := rescaleUp(lu, s-ls)
		b, ok2 := rescaleUp(ru, s-rs)
		if !ok1 || !ok2 {
			return 0, 0, false
		}
		if op == plan.Sub {
			b = -b
		}
		v, ok := addCheck(a, b)
		return v, s, ok
	case plan.Mul:
		v, ok := mulCheck(lu, ru)
		return v, ls + rs, ok && ls+rs <= 1000
	}
	return 0, 0, false
}

// numericArith evaluates l op r over two NUMERIC (text) arrays.
func numericArith(mem memory.Allocator, op plan.ArithOp, l, r *array.String) (arrow.Array, error) {
	n := l.Len()
	bld := array.NewStringBuilder(mem)
	defer bld.Release()
	bld.Reserve(n)
	bld.ReserveData(n * 8)
	var buf []byte
	sym := op.String()
	for i := range n {
		if l.IsNull(i) || r.IsNull(i) {
			bld.AppendNull()
			continue
		}
		ltxt, rtxt := l.Value(i), r.Value(i)
		if lu, ls, ok := parseFastDec(ltxt); ok {
			if ru, rs, ok := parseFastDec(rtxt); ok {
				if v, s, ok := fastDecArith(op, lu, ls, ru, rs); ok {
					buf = appendFastDec(buf[:0], v, s)
					bld.BinaryBuilder.Append(buf)
					continue
				}
			}
		}
		ld, err := types.ParseDecimal(ltxt)
		if err != nil {
			return nil, err
		}
		rd, err := types.ParseDecimal(rtxt)
		if err != nil {
			return nil, err
		}
		out, err := types.Arith(sym, ld, rd)
		if err != nil {
			return nil, err
		}
		bld.Append(out.(types.Decimal).String())
	}
	return bld.NewArray(), nil
}

// cmpNumericText compares two NUMERIC texts.
func cmpNumericText(a, b string) int {
	if au, as, ok := parseFastDec(a); ok {
		if bu, bs, ok := parseFastDec(b); ok {
			s := max(as, bs)
			x, ok1 := rescaleUp(au, s-as)
			y, ok2 := rescaleUp(bu, s-bs)
			if ok1 && ok2 {
				switch {
				case x < y:
					return -1
				case x > y:
					return 1
				}
				return 0
			}
		}
	}
	da, err1 := types.ParseDecimal(a)
	db, err2 := types.ParseDecimal(b)
	if err1 != nil || err2 != nil {
		// Stored numerics always parse; order corrupt text last.
		return types.Compare(a, b)
	}
	return da.Cmp(db)
}

// hasFastCompare reports whether fastCompare has a loop for t.
func hasFastCompare(t types.T) bool {
	switch t {
	case types.Date, types.Int2, types.Time, types.Timestamp, types.TimestampTZ, types.Numeric:
		return true
	}
	return false
}

// fastCompare compares two arrays of the same later type t with a typed
// loop; ok is false when t has none.
func fastCompare(mem memory.Allocator, op plan.CmpOp, t types.T, l, r arrow.Array) (arrow.Array, bool) {
	n := l.Len()
	var fill func(bits []byte)
	switch t {
	case types.Date:
		lv, rv := l.(*array.Date32).Date32Values(), r.(*array.Date32).Date32Values()
		fill = func(bits []byte) { cmpOrderedAny(op, lv, rv, bits) }
	case types.Int2:
		lv, rv := l.(*array.Int16).Int16Values(), r.(*array.Int16).Int16Values()
		fill = func(bits []byte) { cmpOrderedAny(op, lv, rv, bits) }
	case types.Time:
		lv, rv := l.(*array.Time64).Time64Values(), r.(*array.Time64).Time64Values()
		fill = func(bits []byte) { cmpOrderedAny(op, lv, rv, bits) }
	case types.Timestamp, types.TimestampTZ:
		lv, rv := l.(*array.Timestamp).TimestampValues(), r.(*array.Timestamp).TimestampValues()
		fill = func(bits []byte) { cmpOrderedAny(op, lv, rv, bits) }
	case types.Numeric:
		ls, rs := l.(*array.String), r.(*array.String)
		fill = func(bits []byte) {
			cmpFunc(op, n, func(i int) int {
				if ls.IsNull(i) || rs.IsNull(i) {
					return 0
				}
				return cmpNumericText(ls.Value(i), rs.Value(i))
			}, bits)
		}
	default:
		return nil, false
	}
	valid, nulls := validity(mem, n, l, r)
	buf, bm := newBitmapBuf(mem, n)
	fill(bm)
	return makeArray(arrow.FixedWidthTypes.Boolean, n, valid, buf, nulls), true
}

// cmpOrderedAny is cmpOrdered for any integer-backed value type.
func cmpOrderedAny[T ~int16 | ~int32 | ~int64](op plan.CmpOp, l, r []T, bm []byte) {
	for i := range l {
		a, b := l[i], r[i]
		var ok bool
		switch op {
		case plan.EQ:
			ok = a == b
		case plan.NE:
			ok = a != b
		case plan.LT:
			ok = a < b
		case plan.LE:
			ok = a <= b
		case plan.GT:
			ok = a > b
		default:
			ok = a >= b
		}
		if ok {
			bitutil.SetBit(bm, i)
		}
	}
}

// fastCast converts x (of type from) to t with a typed loop; ok is false
// when the pair has none.
func fastCast(mem memory.Allocator, from, t types.T, x arrow.Array) (arrow.Array, bool) {
	n := x.Len()
	switch {
	case t == types.Numeric && (from == types.Int2 || from == types.Int4 || from == types.Int8):
		bld := array.NewStringBuilder(mem)
		defer bld.Release()
		bld.Reserve(n)
		var buf []byte
		for i := range n {
			if x.IsNull(i) {
				bld.AppendNull()
				continue
			}
			var v int64
			switch a := x.(type) {
			case *array.Int16:
				v = int64(a.Value(i))
			case *array.Int32:
				v = int64(a.Value(i))
			case *array.Int64:
				v = a.Value(i)
			}
			buf = strconv.AppendInt(buf[:0], v, 10)
			bld.BinaryBuilder.Append(buf)
		}
		return bld.NewArray(), true
	case from == types.Date && (t == types.Timestamp || t == types.TimestampTZ):
		dv := x.(*array.Date32).Date32Values()
		for _, d := range dv {
			// Far dates leave timestamp's range: the carrier path
			// reports that error.
			if d > 100_000_000 || d < -100_000_000 {
				return nil, false
			}
		}
		bld := array.NewBuilder(mem, t.Arrow()).(*array.TimestampBuilder)
		defer bld.Release()
		bld.Reserve(n)
		const usPerDay = 86400 * 1000000
		for i, d := range dv {
			if x.IsNull(i) {
				bld.AppendNull()
				continue
			}
			bld.Append(arrow.Timestamp(int64(d) * usPerDay))
		}
		return bld.NewArray(), true
	}
	return nil, false
}
