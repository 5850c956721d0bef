package pgwire

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

func TestFloat8TextMatchesPostgreSQL(t *testing.T) {
	// Expected strings are PostgreSQL 15's float8out with the default
	// extra_float_digits = 1.
	tenth := 0.1 // a variable, so 0.1 + 0.2 is rounded as float64
	cases := []struct {
		f    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{1.5, "1.5"},
		{-2.25, "-2.25"},
		{100, "100"},
		{1234567, "1234567"},
		{1e14, "100000000000000"},
		{123456789012345, "123456789012345"},
		{1e15, "1e+15"},
		{123456789012345680, "1.2345678901234568e+17"},
		{0.0001, "0.0001"},
		{0.00012345, "0.00012345"},
		{0.00001, "1e-05"},
		{1e-10, "1e-10"},
		{1e300, "1e+300"},
		{tenth + 0.2, "0.30000000000000004"},
		{1.0 / 3, "0.3333333333333333"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{5e-324, "5e-324"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	}
	for _, tc := range cases {
		if got := string(appendFloat8(nil, tc.f)); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestDecodeParam(t *testing.T) {
	cases := []struct {
		raw  []byte
		typ  string
		f    int16
		want string // fmt of the value, or the SQLSTATE of the error
	}{
		{nil, "int8", formatBinary, "<nil>"},
		{[]byte("42"), "", formatText, "string 42"},
		{[]byte("42"), "int4", formatText, "int32 42"},
		{[]byte("4000000000"), "int4", formatText, "22003"},
		{[]byte("x"), "int8", formatText, "22P02"},
		{[]byte("on"), "bool", formatText, "bool true"},
		{[]byte("1e3"), "float8", formatText, "float64 1000"},
		{[]byte{0, 0, 0, 0, 0, 0, 0, 42}, "int8", formatBinary, "int64 42"},
		{[]byte{0xff, 0xff, 0xff, 0xfe}, "int4", formatBinary, "int32 -2"},
		{[]byte{0xff, 0xfe}, "int4", formatBinary, "int32 -2"},
		{[]byte{1}, "bool", formatBinary, "bool true"},
		{[]byte{0x3f, 0xc0, 0, 0}, "float8", formatBinary, "float64 1.5"},
		{[]byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, "float8", formatBinary, "float64 1.5"},
		{[]byte("héllo"), "text", formatBinary, "string héllo"},
		{[]byte{1, 2, 3}, "int8", formatBinary, "22P03"},
		{[]byte{1, 2}, "bool", formatBinary, "22P03"},
		{[]byte("1"), "int8", 7, "22023"},
	}
	for _, tc := range cases {
		v, err := decodeParam(tc.raw, tc.typ, tc.f, 1)
		got := fmt.Sprintf("%T %v", v, v)
		if v == nil {
			got = "<nil>"
		}
		if err != nil {
			got = sqlerr.Code(err)
		}
		if got != tc.want {
			t.Errorf("%q as %s/%d: got %s, want %s", tc.raw, tc.typ, tc.f, got, tc.want)
		}
	}
}

func TestEngineDescribe(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	res, err := e.Execute(ctx, "CREATE TABLE t (a INT PRIMARY KEY, b BIGINT, c DOUBLE PRECISION, d TEXT, f BOOLEAN)", nil)
	if err != nil {
		t.Fatal(err)
	}
	releaseAll(res)
	cases := []struct {
		query string
		known []string
		want  string
	}{
		{"SELECT a, d FROM t WHERE b = $1 AND c > $2 AND d = $3 AND f = $4 AND a = $5", nil,
			"[int8 float8 text bool int4] [{a int4} {d text}]"},
		{"INSERT INTO t VALUES ($1, $2, $3, $4, $5)", nil, "[int4 int8 float8 text bool] []"},
		{"INSERT INTO t (d, a) VALUES ($1, $2)", nil, "[text int4] []"},
		{"SELECT $1", nil, "[text] [{?column? text}]"},
		{"SELECT $2, $1 + 1", nil, "[int4 text] [{?column? text} {?column? int4}]"},
		{"SELECT $1", []string{"int8"}, "[int8] [{?column? int8}]"},
		{"SELECT a FROM t WHERE a = $1", []string{"float8"}, "[float8] [{a int4}]"},
		{"SELECT CAST($1 AS BIGINT) FROM t LIMIT $2", nil, "[int8 int8] [{int8 int8}]"},
		{"SELECT count(*) FROM t", nil, "[] [{count int8}]"},
		{"CREATE TABLE u (k INT PRIMARY KEY)", nil, "[] []"},
		{"DROP TABLE t", nil, "[] []"},
		{"BEGIN", nil, "[] []"},
		{"", nil, "[] []"},
		{"SELECT * FROM missing", nil, "42P01"},
		{"SELECT 1; SELECT 2", nil, "42601"},
		{"SELEC", nil, "42601"},
	}
	for _, tc := range cases {
		d, err := e.Describe(ctx, tc.query, tc.known)
		got := ""
		if err != nil {
			got = sqlerr.Code(err)
		} else {
			got = fmt.Sprint(d.Params, " ", d.Columns)
			if d.Columns == nil {
				got = fmt.Sprint(d.Params, " []")
			}
		}
		if got != tc.want {
			t.Errorf("%s %v: got %s, want %s", tc.query, tc.known, got, tc.want)
		}
	}
	// Describing wrote nothing: the CREATE and DROP were not run.
	res, err = e.Execute(ctx, "SELECT count(*) FROM t; CREATE TABLE u (k INT PRIMARY KEY)", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(res)
	if rows := res[0].Rows(); rows[0][0] != int64(0) {
		t.Fatalf("rows after describe: %v", rows)
	}
}
