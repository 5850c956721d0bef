package sqlerr

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/phantom-db/phantom/compute/storage"
)

func TestCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "00000"},
		{New(CodeUndefinedTable, "x"), "42P01"},
		{fmt.Errorf("wrapped: %w", New(CodeUniqueViolation, "dup")), "23505"},
		{context.DeadlineExceeded, "57014"},
		{fmt.Errorf("scan: %w", context.Canceled), "57014"},
		{fmt.Errorf("commit: %w", storage.ErrConflict), "40001"},
		{errors.New("boom"), "XX000"},
	} {
		if got := Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
	n := Normalize(errors.New("boom"))
	if n.Code != "XX000" || n.Message != "boom" {
		t.Fatalf("Normalize: %#v", n)
	}
	e := NotSupported("JOIN").WithHint("h").WithPosition(3)
	if e.Error() != "JOIN is not supported (SQLSTATE 0A000)" || e.Hint != "h" || e.Position != 3 {
		t.Fatalf("got %#v", e)
	}
}
