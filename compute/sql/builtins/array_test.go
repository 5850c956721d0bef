package builtins

import (
	"testing"

	"github.com/phantom-db/phantom/compute/sql/types"
)

func ints(vs ...any) types.ArrayValue { return types.ArrayValue{Elem: types.Int4, Elems: vs} }

func TestQuantifiedThreeValued(t *testing.T) {
	eq := func(c int) bool { return c == 0 }
	lt := func(c int) bool { return c < 0 }
	for _, c := range []struct {
		x    any
		a    types.ArrayValue
		all  bool
		cmp  func(int) bool
		want any
	}{
		{int32(2), ints(int32(1), int32(2)), false, eq, true},
		{int32(5), ints(int32(1), int32(2)), false, eq, false},
		{int32(5), ints(int32(1), nil), false, eq, nil},
		{int32(1), ints(int32(1), nil), false, eq, true},
		{nil, ints(int32(1)), false, eq, nil},
		{nil, ints(), false, eq, false},
		{int32(0), ints(int32(1), int32(2)), true, lt, true},
		{int32(1), ints(int32(1), int32(2)), true, lt, false},
		{int32(0), ints(int32(1), nil), true, lt, nil},
		{nil, ints(), true, lt, true},
	} {
		if got := Quantified(c.x, c.a, c.all, c.cmp); got != c.want {
			t.Errorf("Quantified(%v, %s, all=%v) = %v, want %v", c.x, c.a, c.all, got, c.want)
		}
	}
}

func TestArrayFunctions(t *testing.T) {
	a := ints(int32(1), nil, int32(3))
	star := "*"
	if got := ArrayToString(a, ",", nil); got != "1,3" {
		t.Fatalf("array_to_string = %q", got)
	}
	if got := ArrayToString(a, ",", &star); got != "1,*,3" {
		t.Fatalf("array_to_string with null text = %q", got)
	}
	if ArrayLength(a, 1) != int32(3) || ArrayLength(a, 2) != nil || ArrayLength(ints(), 1) != nil || ArrayLower(a, 1) != int32(1) {
		t.Fatal("array_length/array_lower")
	}
	if Subscript(a, 3) != int32(3) || Subscript(a, 0) != nil || Subscript(a, 4) != nil {
		t.Fatal("subscript")
	}
	if ArrayPosition(a, nil) != int32(2) || ArrayPosition(a, int32(3)) != int32(3) || ArrayPosition(a, int32(9)) != nil {
		t.Fatal("array_position")
	}
	if got := ArrayCat(a, ints(int32(4))).String(); got != "{1,NULL,3,4}" {
		t.Fatalf("array_cat = %s", got)
	}
	for _, c := range []struct {
		op   string
		a, b types.ArrayValue
		want bool
	}{
		{"@>", ints(int32(1), int32(2)), ints(int32(2)), true},
		{"@>", ints(int32(1), int32(2)), ints(int32(3)), false},
		{"@>", ints(int32(1)), ints(nil), false},
		{"<@", ints(int32(2)), ints(int32(1), int32(2)), true},
		{"&&", ints(int32(1), nil), ints(nil, int32(1)), true},
		{"&&", ints(nil), ints(nil), false},
	} {
		if got, err := ArrayOp(c.op, c.a, c.b); err != nil || got != c.want {
			t.Errorf("%s %s %s = %v, %v", c.a, c.op, c.b, got, err)
		}
	}
}
