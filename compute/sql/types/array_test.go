package types

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

func TestArrayTextRoundTrip(t *testing.T) {
	for _, c := range []struct {
		elem T
		in   string
		out  string
	}{
		{Int4, "{1,2,3}", "{1,2,3}"},
		{Int4, " { 1 , NULL ,3 } ", "{1,NULL,3}"},
		{Int4, "{}", "{}"},
		{Text, `{a,"b c","",NULL,"NULL","x\"y",z\\w}`, `{a,"b c","",NULL,"NULL","x\"y","z\\w"}`},
		{Text, `{"{}",","}`, `{"{}",","}`},
		{Numeric, "{1.50,-2}", "{1.50,-2}"},
		{Bool, "{t,false}", "{t,f}"},
		{Date, "{2024-01-02}", "{2024-01-02}"},
	} {
		a, err := ParseArray(c.elem, c.in)
		if err != nil {
			t.Fatalf("ParseArray(%s, %q): %v", c.elem, c.in, err)
		}
		if got := a.String(); got != c.out {
			t.Fatalf("ParseArray(%s, %q) prints %q, want %q", c.elem, c.in, got, c.out)
		}
		b, err := ParseArray(c.elem, a.String())
		if err != nil || b.String() != c.out {
			t.Fatalf("reparse of %q: %q, %v", c.out, b.String(), err)
		}
	}
}

func TestArrayBadInput(t *testing.T) {
	for _, c := range []struct {
		elem T
		in   string
		code string
	}{
		{Int4, "{1,2", sqlerr.CodeInvalidTextRep},
		{Int4, "1,2", sqlerr.CodeInvalidTextRep},
		{Int4, "{1,x}", sqlerr.CodeInvalidTextRep},
		{Int4, "{1,,2}", sqlerr.CodeInvalidTextRep},
		{Int4, "{1} x", sqlerr.CodeInvalidTextRep},
		{Int4, `{"1}`, sqlerr.CodeInvalidTextRep},
		{Int4, "{{1},{2}}", sqlerr.CodeFeatureNotSupported},
		{Int4, "[1:2]={1,2}", sqlerr.CodeFeatureNotSupported},
	} {
		_, err := ParseArray(c.elem, c.in)
		if se := sqlerr.As(err); se == nil || se.Code != c.code {
			t.Fatalf("ParseArray(%q) = %v, want SQLSTATE %s", c.in, err, c.code)
		}
	}
}

func TestArrayTypeNames(t *testing.T) {
	at := ArrayOf(Int4)
	if !at.IsArray() || at.Elem() != Int4 || at.String() != "_int4" || at.SQLName() != "integer[]" {
		t.Fatalf("int4[]: %v %v %q %q", at.IsArray(), at.Elem(), at.String(), at.SQLName())
	}
	for _, e := range []T{Bool, Int2, Int4, Int8, Float4, Float8, Text, Numeric, Date, Timestamp, TimestampTZ, Interval, UUID, Bytea, JSONB} {
		got, ok := FromName(ArrayOf(e).String())
		if !ok || got != ArrayOf(e) {
			t.Fatalf("FromName(%q) = %v, %v", ArrayOf(e).String(), got, ok)
		}
		if OIDOf(ArrayOf(e), 0) == 0 || OIDOf(e, 0) == 0 {
			t.Fatalf("no OID for %s or its array", e)
		}
	}
	if Int4.IsArray() || Int4.Elem() != Unknown {
		t.Fatal("int4 is not an array")
	}
}

// TestArrayKeyOrderMatchesCompare checks over random int4 arrays (NULL
// elements included) that the key encoding orders as Compare does.
func TestArrayKeyOrderMatchesCompare(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() ArrayValue {
		a := ArrayValue{Elem: Int4, Elems: []any{}}
		for range r.IntN(4) {
			if r.IntN(5) == 0 {
				a.Elems = append(a.Elems, nil)
			} else {
				a.Elems = append(a.Elems, int32(r.IntN(7)-3))
			}
		}
		return a
	}
	for range 5000 {
		a, b := gen(), gen()
		ka, err := AppendKey(nil, a)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := AppendKey(nil, b)
		if got, want := sign(bytes.Compare(ka, kb)), sign(Compare(a, b)); got != want {
			t.Fatalf("%s vs %s: key order %d, Compare %d", a, b, got, want)
		}
	}
}

func TestArrayCasts(t *testing.T) {
	a, err := Cast("{1,2}", ArrayOf(Int8))
	if err != nil || FormatText(a) != "{1,2}" || TypeOfValue(a) != ArrayOf(Int8) {
		t.Fatalf("text to int8[]: %v, %v", a, err)
	}
	f, err := Cast(a, ArrayOf(Float8))
	if err != nil || FormatText(f) != "{1,2}" || TypeOfValue(f) != ArrayOf(Float8) {
		t.Fatalf("int8[] to float8[]: %v, %v", f, err)
	}
	if _, err := Cast(a, Int4); err == nil {
		t.Fatal("int8[] to int4 must fail")
	}
	if s, err := Cast(a, Text); err != nil || s != "{1,2}" {
		t.Fatalf("int8[] to text: %v, %v", s, err)
	}
}

func TestFormatType(t *testing.T) {
	for _, c := range []struct {
		oid  int64
		mod  int32
		want string
	}{
		{23, -1, "integer"}, {1043, 14, "character varying(10)"}, {1042, 5, "character(1)"},
		{1700, 655366, "numeric(10,2)"}, {1009, -1, "text[]"}, {1184, -1, "timestamp with time zone"},
	} {
		if got, ok := FormatType(c.oid, c.mod); !ok || got != c.want {
			t.Fatalf("FormatType(%d, %d) = %q, want %q", c.oid, c.mod, got, c.want)
		}
	}
	if OIDOf(Text, VarcharMod(10)) != 1043 || OIDOf(Text, CharMod(2)) != 1042 || OIDOf(Text, 0) != 25 || OIDOf(Int8, 0) != 20 {
		t.Fatal("OIDOf of text/varchar/char/int8")
	}
}
