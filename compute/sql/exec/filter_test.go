package exec

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestFilterLiveColumns filters a batch with live and all-NULL (undecoded)
// columns and checks every column against Arrow's own filter.
func TestFilterLiveColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "skipped", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	ib := array.NewInt64Builder(mem)
	ib.AppendValues([]int64{1, 2, 3, 4, 5}, []bool{true, false, true, true, true})
	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"a", "b", "c", "d", "e"}, nil)
	mb := array.NewBooleanBuilder(mem)
	mb.AppendValues([]bool{true, true, false, true, false}, []bool{true, true, true, true, false})
	a, s, mask := ib.NewArray(), sb.NewArray(), mb.NewArray()
	ib.Release()
	sb.Release()
	mb.Release()
	defer mask.Release()
	ctx := context.Background()
	// Each batch below takes over its columns (a and s are used once).
	for _, tc := range []struct {
		name string
		cols []arrow.Array
	}{
		{"some columns skipped", []arrow.Array{a, array.MakeArrayOfNull(mem, arrow.BinaryTypes.String, 5), s}},
		{"every column skipped", []arrow.Array{
			array.MakeArrayOfNull(mem, arrow.PrimitiveTypes.Int64, 5),
			array.MakeArrayOfNull(mem, arrow.BinaryTypes.String, 5),
			array.MakeArrayOfNull(mem, arrow.BinaryTypes.String, 5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBatch(schema, tc.cols, 5)
			defer b.Release()
			got, err := filterLiveColumns(ctx, mem, b, mask)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Release()
			if got.NumRows() != 3 {
				t.Fatalf("rows %d, want 3", got.NumRows())
			}
			for i := range b.NumCols() {
				want, err := filterArrayForTest(ctx, b.Column(int(i)), mask)
				if err != nil {
					t.Fatal(err)
				}
				if !array.Equal(got.Column(int(i)), want) {
					t.Errorf("column %d: got %v, want %v", i, got.Column(int(i)), want)
				}
				want.Release()
			}
		})
	}
}

func filterArrayForTest(ctx context.Context, col, mask arrow.Array) (arrow.Array, error) {
	return compute.FilterArray(ctx, col, mask, *compute.DefaultFilterOptions())
}
