package pgwire

import (
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// TestPgxArrays reads and writes arrays through pgx in every exec mode:
// results in binary (int4[], text[] with NULLs and quoting, numeric[]) and
// text, parameters in binary and text.
func TestPgxArrays(t *testing.T) {
	_, addr := startServer(t, Config{})
	for _, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := testCtx(t)
			c := connect(t, addr, mode)
			var ints []pgtype.Int4
			var texts []pgtype.Text
			var empty []int64
			var nums []pgtype.Numeric
			err := c.QueryRow(ctx, `SELECT ARRAY[1, NULL, 3], ARRAY['a', 'b c', NULL, '"q"'], ARRAY[]::int8[], ARRAY[1.5, -2]::numeric[]`).
				Scan(&ints, &texts, &empty, &nums)
			if err != nil {
				t.Fatal(err)
			}
			if len(ints) != 3 || ints[0].Int32 != 1 || ints[1].Valid || ints[2].Int32 != 3 {
				t.Fatalf("int4[] = %+v", ints)
			}
			if len(texts) != 4 || texts[1].String != "b c" || texts[2].Valid || texts[3].String != `"q"` {
				t.Fatalf("text[] = %+v", texts)
			}
			if len(empty) != 0 || len(nums) != 2 {
				t.Fatalf("empty %v, numeric[] %v", empty, nums)
			}
			f, _ := nums[0].Float64Value()
			if f.Float64 != 1.5 {
				t.Fatalf("numeric[0] = %v", f)
			}
			var got []int32
			if err := c.QueryRow(ctx, `SELECT $1::int[] || 4`, []int32{1, 2, 3}).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, []int32{1, 2, 3, 4}) {
				t.Fatalf("parameter round trip = %v", got)
			}
			var in bool
			if err := c.QueryRow(ctx, `SELECT 'b' = ANY($1::text[])`, []string{"a", "b"}).Scan(&in); err != nil || !in {
				t.Fatalf("= ANY($1) = %v, %v", in, err)
			}
		})
	}
}
