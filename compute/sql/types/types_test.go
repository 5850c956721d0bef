package types

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

func TestParseText(t *testing.T) {
	for _, tc := range []struct {
		t    T
		in   string
		want any
		code string
	}{
		{Int4, " 42 ", int32(42), ""},
		{Int4, "2147483648", nil, "22003"},
		{Int4, "abc", nil, "22P02"},
		{Int8, "-9223372036854775808", int64(math.MinInt64), ""},
		{Int8, "9223372036854775808", nil, "22003"},
		{Float8, "1e3", 1000.0, ""},
		{Float8, "x", nil, "22P02"},
		{Bool, "YES", true, ""},
		{Bool, "off", false, ""},
		{Bool, "2", nil, "22P02"},
		{Text, "  s ", "  s ", ""},
	} {
		got, err := ParseText(tc.t, tc.in)
		if sqlerr.Code(err) != tc.code && !(tc.code == "" && err == nil) {
			t.Errorf("ParseText(%s, %q): err %v, want %s", tc.t, tc.in, err, tc.code)
			continue
		}
		if tc.code == "" && got != tc.want {
			t.Errorf("ParseText(%s, %q) = %#v, want %#v", tc.t, tc.in, got, tc.want)
		}
	}
}

func TestCoerceParam(t *testing.T) {
	for _, tc := range []struct {
		t    T
		in   any
		want any
		code string
	}{
		{Int4, json.Number("7"), int32(7), ""},
		{Int4, 7.0, int32(7), ""},
		{Int4, 7.5, nil, "22P02"},
		{Int4, 3e9, nil, "22003"},
		{Int8, "12", int64(12), ""},
		{Float8, json.Number("2.5"), 2.5, ""},
		{Text, true, "true", ""},
		{Bool, 1.0, nil, "22P02"},
		{Unknown, json.Number("3"), int64(3), ""},
		{Unknown, 2.5, 2.5, ""},
		{Unknown, "s", "s", ""},
		{Int4, nil, nil, ""},
	} {
		got, err := CoerceParam(tc.t, tc.in)
		if (err == nil) != (tc.code == "") || (err != nil && sqlerr.Code(err) != tc.code) {
			t.Errorf("CoerceParam(%s, %#v): err %v, want %s", tc.t, tc.in, err, tc.code)
			continue
		}
		if tc.code == "" && got != tc.want {
			t.Errorf("CoerceParam(%s, %#v) = %#v, want %#v", tc.t, tc.in, got, tc.want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, ty := range []T{Bool, Int4, Int8, Float8, Text} {
		b, _ := ty.MarshalText()
		var back T
		if err := back.UnmarshalText(b); err != nil || back != ty || FromArrow(ty.Arrow()) != ty {
			t.Fatalf("%s does not round-trip", ty)
		}
	}
	if FormatText(math.Inf(-1)) != "-Infinity" || FormatText(int32(-3)) != "-3" || FormatText(nil) != "NULL" {
		t.Fatal("FormatText wrong")
	}
}
