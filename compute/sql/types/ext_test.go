package types

import (
	"bytes"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/phantom-db/phantom/internal/keys"
)

func randDecimal(r *rand.Rand) Decimal {
	u := new(big.Int).SetUint64(r.Uint64() >> uint(r.IntN(64)))
	if r.IntN(3) == 0 {
		u.Mul(u, new(big.Int).SetUint64(r.Uint64()))
	}
	if r.IntN(2) == 0 {
		u.Neg(u)
	}
	return Decimal{u: u, scale: int32(r.IntN(30))}
}

// randValue returns a random carrier value of type t.
func randValue(r *rand.Rand, t T) any {
	switch t {
	case Int2:
		return int16(r.Uint32())
	case Float4:
		switch r.IntN(10) {
		case 0:
			return float32(math.NaN())
		case 1:
			return float32(math.Inf(-1))
		case 2:
			return float32(0)
		}
		return float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(20)-10)))
	case Numeric:
		return randDecimal(r)
	case Date:
		return DateValue(r.Int64N(maxDate-minDate) + minDate)
	case Time:
		return TimeValue(r.Int64N(usPerDay + 1))
	case Timestamp:
		return TimestampValue(randTS(r))
	case TimestampTZ:
		return TimestampTZValue(randTS(r))
	case Interval:
		return IntervalValue{Months: int32(r.IntN(2000) - 1000), Days: int32(r.IntN(20000) - 10000), Micros: r.Int64N(1<<45) - 1<<44}
	case UUID:
		var u UUIDValue
		for i := range u {
			u[i] = byte(r.IntN(4)) // small alphabet: many shared prefixes
		}
		return u
	case Bytea:
		b := make([]byte, r.IntN(6))
		for i := range b {
			b[i] = byte(r.IntN(3)) // includes 0x00, the escaped byte
		}
		return b
	}
	panic(t)
}

func randTS(r *rand.Rand) int64 {
	switch r.IntN(3) {
	case 0:
		return -r.Int64N(-minTS)
	case 1:
		return r.Int64N(maxTS)
	}
	return r.Int64N(100*365*usPerDay) - 50*365*usPerDay // near 1970, fractions included
}

var keyedTypes = []T{Int2, Float4, Numeric, Date, Time, Timestamp, TimestampTZ, Interval, UUID, Bytea}

// TestKeyOrderMatchesCompare checks, over random pairs of every later
// type, that the key encoding orders (and equates) values exactly as
// Compare does: primary keys scan in SQL order and equal values collide.
func TestKeyOrderMatchesCompare(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, typ := range keyedTypes {
		for range 3000 {
			a, b := randValue(r, typ), randValue(r, typ)
			if r.IntN(10) == 0 {
				b = a
			}
			ka, err := AppendKey(nil, a)
			if err != nil {
				t.Fatal(err)
			}
			kb, _ := AppendKey(nil, b)
			want := Compare(a, b)
			if got := bytes.Compare(ka, kb); sign(got) != sign(want) {
				t.Fatalf("%s: key order of %s vs %s is %d, Compare says %d", typ, FormatText(a), FormatText(b), got, want)
			}
		}
	}
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// TestDecimalKeyCanonical checks that equal numerics of different display
// scales (and interval spans) encode equally and decode to the value.
func TestDecimalKeyCanonical(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 2000 {
		d := randDecimal(r)
		wider := d.rescale(d.scale + int32(r.IntN(5)))
		k1, _ := AppendKey(nil, d)
		k2, _ := AppendKey(nil, wider)
		if !bytes.Equal(k1, k2) {
			t.Fatalf("%s and %s encode differently", d, wider)
		}
		v, rest, err := keys.Decode(k1)
		if err != nil || len(rest) != 0 {
			t.Fatalf("decode %s: %v", d, err)
		}
		back, err := ParseDecimal(v.(keys.Decimal).String())
		if err != nil || back.Cmp(d) != 0 {
			t.Fatalf("decoded %v, want %s (%v)", v, d, err)
		}
	}
	a, _ := AppendKey(nil, IntervalValue{Months: 1})
	b, _ := AppendKey(nil, IntervalValue{Days: 30})
	if !bytes.Equal(a, b) {
		t.Fatal("1 month and 30 days must be one key, as they are equal")
	}
}

// TestTextRoundTrip prints random values and parses the text back.
func TestTextRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, typ := range keyedTypes {
		for range 1000 {
			v := randValue(r, typ)
			s := FormatText(v)
			back, err := ParseText(typ, s)
			if err != nil {
				t.Fatalf("%s: parse %q: %v", typ, s, err)
			}
			if typ == Float4 && math.IsNaN(float64(v.(float32))) {
				continue
			}
			if Compare(v, back) != 0 || FormatText(back) != s {
				t.Fatalf("%s: %q read back as %q", typ, s, FormatText(back))
			}
		}
	}
}

// TestNumericScales checks PostgreSQL 15's result scales and rounding.
func TestNumericScales(t *testing.T) {
	d := func(s string) Decimal {
		v, err := ParseDecimal(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	div := func(a, b string) string {
		q, err := d(a).Div(d(b))
		if err != nil {
			t.Fatal(err)
		}
		return q.String()
	}
	cases := []struct{ got, want string }{
		{d("1.50").Add(d("2.1")).String(), "3.60"},
		{d("1.5").Mul(d("2.25")).String(), "3.375"},
		{div("1", "3"), "0.33333333333333333333"},
		{div("10", "4.0"), "2.5000000000000000"},
		{div("2", "3.0"), "0.66666666666666666667"},
		{div("1000000", "0.003"), "333333333.33333333"},
		{div("0.001", "7"), "0.00014285714285714286"},
		{div("9223372036854775808", "2"), "4611686018427387904"},
		{d("2.5").Round(0).String(), "3"},
		{d("-2.5").Round(0).String(), "-3"},
		{d("1234.5678").Round(-2).String(), "1200"},
		{d("-2.789").Trunc(1).String(), "-2.7"},
		{d("-2.5").Floor().String(), "-3"},
		{d("-2.5").Ceil().String(), "-2"},
		{d("1e3").String(), "1000"},
		{d("1.5e-3").String(), "0.0015"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %s, want %s", i, c.got, c.want)
		}
	}
	if _, err := d("1").Div(d("0")); err == nil {
		t.Fatal("division by zero must fail")
	}
	if _, err := ApplyNumericMod(d("1234.5"), 5, 2); err == nil {
		t.Fatal("numeric(5,2) must reject 1234.5")
	}
}

// TestIntervalText checks PostgreSQL's interval output.
func TestIntervalText(t *testing.T) {
	cases := map[string]string{
		"1 day":              "1 day",
		"-1 day +2 hours":    "-1 days +02:00:00",
		"1 year 2 months":    "1 year 2 mons",
		"1.5 days":           "1 day 12:00:00",
		"0":                  "00:00:00",
		"90 minutes":         "01:30:00",
		"1 year ago":         "-1 years",
		"2 hours 30 minutes": "02:30:00",
	}
	for in, want := range cases {
		v, err := ParseInterval(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := v.String(); got != want {
			t.Errorf("%q prints %q, want %q", in, got, want)
		}
	}
}
