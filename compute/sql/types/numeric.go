package types

import (
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// Decimal is an exact NUMERIC value: Unscaled * 10^-Scale, with Scale the
// display scale PostgreSQL keeps per value (1.50 has scale 2 and prints
// both digits). Values are immutable: operations return new Decimals.
type Decimal struct {
	u     *big.Int
	scale int32
}

// maxNumericScale is PostgreSQL's NUMERIC_MAX_DISPLAY_SCALE.
const maxNumericScale = 1000

var bigTen = big.NewInt(10)

// pow10 returns 10^n as a new big.Int.
func pow10(n int32) *big.Int {
	if n <= 0 {
		return big.NewInt(1)
	}
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}

// NewDecimal returns unscaled * 10^-scale.
func NewDecimal(unscaled *big.Int, scale int32) Decimal {
	return Decimal{u: new(big.Int).Set(unscaled), scale: scale}
}

// DecimalFromInt returns v with scale 0.
func DecimalFromInt(v int64) Decimal { return Decimal{u: big.NewInt(v), scale: 0} }

// Unscaled returns a copy of the unscaled integer.
func (d Decimal) Unscaled() *big.Int { return new(big.Int).Set(d.bi()) }

// Scale returns the display scale.
func (d Decimal) Scale() int32 { return d.scale }

func (d Decimal) bi() *big.Int {
	if d.u == nil {
		return new(big.Int)
	}
	return d.u
}

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int { return d.bi().Sign() }

// ParseDecimal parses PostgreSQL numeric input: an optional sign, digits
// with an optional point, an optional exponent; surrounding spaces allowed.
func ParseDecimal(s string) (Decimal, error) {
	t := strings.TrimSpace(s)
	bad := func() (Decimal, error) { return Decimal{}, invalidText(Numeric, s) }
	if t == "" {
		return bad()
	}
	neg := false
	switch t[0] {
	case '+', '-':
		neg = t[0] == '-'
		t = t[1:]
	}
	mant, exp := t, int64(0)
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		mant = t[:i]
		e, err := strconv.ParseInt(t[i+1:], 10, 32)
		if err != nil || t[i+1:] == "" {
			return bad()
		}
		if e > 1000 || e < -1000 {
			return Decimal{}, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "value overflows numeric format")
		}
		exp = e
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	if intPart == "" && frac == "" {
		return bad()
	}
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return bad()
		}
	}
	u, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return bad()
	}
	scale := int64(len(frac)) - exp
	if scale < 0 {
		u.Mul(u, pow10(int32(-scale)))
		scale = 0
	}
	if scale > maxNumericScale {
		return Decimal{}, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "value overflows numeric format")
	}
	if neg {
		u.Neg(u)
	}
	return Decimal{u: u, scale: int32(scale)}, nil
}

// String returns PostgreSQL's text output: every digit of the display
// scale, no exponent.
func (d Decimal) String() string {
	u := d.bi()
	digits := new(big.Int).Abs(u).String()
	if d.scale > 0 {
		if len(digits) <= int(d.scale) {
			digits = strings.Repeat("0", int(d.scale)-len(digits)+1) + digits
		}
		p := len(digits) - int(d.scale)
		digits = digits[:p] + "." + digits[p:]
	}
	if u.Sign() < 0 {
		return "-" + digits
	}
	return digits
}

// rescale returns d at scale s, rounding half away from zero when s is
// smaller than d's scale.
func (d Decimal) rescale(s int32) Decimal {
	u := d.bi()
	switch {
	case s == d.scale:
		return d
	case s > d.scale:
		return Decimal{u: new(big.Int).Mul(u, pow10(s-d.scale)), scale: s}
	}
	return Decimal{u: roundDiv(u, pow10(d.scale-s)), scale: s}
}

// roundDiv returns n/m rounded half away from zero (m > 0).
func roundDiv(n, m *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(n, m, new(big.Int))
	r.Abs(r).Lsh(r, 1)
	if r.Cmp(m) >= 0 {
		if n.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// Round rounds to s fraction digits (s may be negative), half away from
// zero; the result's scale is max(s, 0).
func (d Decimal) Round(s int32) Decimal {
	if s >= d.scale {
		return d.rescale(s)
	}
	if s >= 0 {
		return d.rescale(s)
	}
	m := pow10(d.scale - s)
	q := roundDiv(d.bi(), m)
	return Decimal{u: q.Mul(q, pow10(-s)), scale: 0}
}

// Trunc truncates to s fraction digits (toward zero); scale max(s, 0).
func (d Decimal) Trunc(s int32) Decimal {
	if s >= d.scale {
		return d.rescale(s)
	}
	q := new(big.Int).Quo(d.bi(), pow10(d.scale-s))
	if s < 0 {
		q.Mul(q, pow10(-s))
		s = 0
	}
	return Decimal{u: q, scale: s}
}

// Floor returns the largest integer <= d (scale 0).
func (d Decimal) Floor() Decimal {
	q, m := new(big.Int).DivMod(d.bi(), pow10(d.scale), new(big.Int))
	_ = m
	return Decimal{u: q, scale: 0}
}

// Ceil returns the smallest integer >= d (scale 0).
func (d Decimal) Ceil() Decimal {
	f := d.Floor()
	if f.rescale(d.scale).bi().Cmp(d.bi()) != 0 {
		return Decimal{u: new(big.Int).Add(f.u, big.NewInt(1)), scale: 0}
	}
	return f
}

// Neg returns -d.
func (d Decimal) Neg() Decimal { return Decimal{u: new(big.Int).Neg(d.bi()), scale: d.scale} }

// Abs returns |d|.
func (d Decimal) Abs() Decimal { return Decimal{u: new(big.Int).Abs(d.bi()), scale: d.scale} }

// Cmp compares two decimals by value (1.0 equals 1.00).
func (d Decimal) Cmp(e Decimal) int {
	s := max(d.scale, e.scale)
	return d.rescale(s).bi().Cmp(e.rescale(s).bi())
}

// Add returns d + e at scale max(d, e).
func (d Decimal) Add(e Decimal) Decimal {
	s := max(d.scale, e.scale)
	return Decimal{u: new(big.Int).Add(d.rescale(s).bi(), e.rescale(s).bi()), scale: s}
}

// Sub returns d - e at scale max(d, e).
func (d Decimal) Sub(e Decimal) Decimal { return d.Add(e.Neg()) }

// Mul returns d * e at scale d+e (exact), capped at the maximum scale.
func (d Decimal) Mul(e Decimal) Decimal {
	p := Decimal{u: new(big.Int).Mul(d.bi(), e.bi()), scale: d.scale + e.scale}
	if p.scale > maxNumericScale {
		p = p.rescale(maxNumericScale)
	}
	return p
}

// nbaseWeight returns PostgreSQL's base-10000 weight and first base-10000
// digit of |d| (0, 0 for zero), as select_div_scale reads them.
func (d Decimal) nbaseWeight() (int, int64) {
	u := new(big.Int).Abs(d.bi())
	if u.Sign() == 0 {
		return 0, 0
	}
	e := len(u.String()) - 1 - int(d.scale) // decimal exponent of the leading digit
	w := e / 4
	if e < 0 && e%4 != 0 {
		w--
	}
	shift := int32(d.scale) + int32(4*w) // |d| / 10000^w = u / 10^shift
	var q *big.Int
	if shift >= 0 {
		q = new(big.Int).Quo(u, pow10(shift))
	} else {
		q = new(big.Int).Mul(u, pow10(-shift))
	}
	return w, q.Int64()
}

// divScale is PostgreSQL's select_div_scale.
func divScale(d, e Decimal) int32 {
	w1, f1 := d.nbaseWeight()
	w2, f2 := e.nbaseWeight()
	qw := w1 - w2
	if f1 <= f2 {
		qw--
	}
	rs := int32(16 - qw*4)
	rs = max(rs, d.scale, e.scale, 0)
	return min(rs, maxNumericScale)
}

// Div returns d / e at PostgreSQL's result scale, rounded half away from
// zero; 22012 when e is zero.
func (d Decimal) Div(e Decimal) (Decimal, error) {
	return d.DivScale(e, divScale(d, e))
}

// DivScale returns d / e rounded to scale s; 22012 when e is zero.
func (d Decimal) DivScale(e Decimal, s int32) (Decimal, error) {
	if e.Sign() == 0 {
		return Decimal{}, sqlerr.New(sqlerr.CodeDivisionByZero, "division by zero")
	}
	// d/e * 10^s = du * 10^(s - ds + es) / eu
	n := new(big.Int).Set(d.bi())
	den := new(big.Int).Set(e.bi())
	k := s - d.scale + e.scale
	if k >= 0 {
		n.Mul(n, pow10(k))
	} else {
		den.Mul(den, pow10(-k))
	}
	if den.Sign() < 0 {
		n.Neg(n)
		den.Neg(den)
	}
	return Decimal{u: roundDiv(n, den), scale: s}, nil
}

// Mod returns d - trunc(d/e)*e at scale max(d, e); 22012 when e is zero.
func (d Decimal) Mod(e Decimal) (Decimal, error) {
	if e.Sign() == 0 {
		return Decimal{}, sqlerr.New(sqlerr.CodeDivisionByZero, "division by zero")
	}
	s := max(d.scale, e.scale)
	r := new(big.Int).Rem(d.rescale(s).bi(), e.rescale(s).bi())
	return Decimal{u: r, scale: s}, nil
}

// Int64 rounds d half away from zero to an integer; ok false when it does
// not fit in int64.
func (d Decimal) Int64() (int64, bool) {
	r := d.rescale(0).bi()
	if !r.IsInt64() {
		return 0, false
	}
	return r.Int64(), true
}

// Float64 converts d to the nearest float64 (through its text, as
// PostgreSQL does).
func (d Decimal) Float64() float64 {
	f, _ := strconv.ParseFloat(d.String(), 64)
	return f
}

// DecimalFromFloat converts a finite float as PostgreSQL's float8 to
// numeric cast does: through its text with digits significant digits
// (15 for float8, 6 for float4). NaN and infinities answer 0A000: PostgreSQL
// 15 has numeric NaN and Infinity, which this engine does not.
func DecimalFromFloat(f float64, digits int) (Decimal, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Decimal{}, sqlerr.New(sqlerr.CodeFeatureNotSupported, "numeric NaN and Infinity are not supported")
	}
	return ParseDecimal(strconv.FormatFloat(f, 'g', digits, 64))
}

// ApplyNumericMod rounds d to the scale of numeric(prec, scale) and checks
// the precision (22003 numeric field overflow).
func ApplyNumericMod(d Decimal, prec, scale int32) (Decimal, error) {
	r := d.rescale(scale)
	// digits before the point must be at most prec - scale
	limit := pow10(prec) // |r.u| < 10^prec
	if new(big.Int).Abs(r.bi()).Cmp(limit) >= 0 {
		e := sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "numeric field overflow")
		e.Detail = "A field with precision " + strconv.Itoa(int(prec)) + ", scale " + strconv.Itoa(int(scale)) +
			" must round to an absolute value less than " + pow10Text(prec-scale) + "."
		return Decimal{}, e
	}
	return r, nil
}

func pow10Text(n int32) string {
	if n <= 0 {
		return "1"
	}
	return "10^" + strconv.Itoa(int(n))
}
