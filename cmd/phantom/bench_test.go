package main

import (
	"slices"
	"testing"
)

func TestParseClientLevels(t *testing.T) {
	got, err := parseClientLevels(" 1, 16,64 ,")
	if err != nil || !slices.Equal(got, []int{1, 16, 64}) {
		t.Fatalf("parseClientLevels = %v, %v; want [1 16 64]", got, err)
	}
	for _, bad := range []string{"", ",", "0", "-3", "x", "1,two"} {
		if _, err := parseClientLevels(bad); err == nil {
			t.Errorf("parseClientLevels(%q) accepted", bad)
		}
	}
}
