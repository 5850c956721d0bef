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
	var nulls nullColumns
	defer nulls.release()
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
			got, err := filterLiveColumns(ctx, mem, b, mask, &nulls)
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

// TestConcatNullColumns concatenates batches whose columns are NULL in
// every batch (shared zero buffer) or in some, and checks them against
// Arrow's Concatenate.
func TestConcatNullColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "iv", Type: arrow.FixedWidthTypes.MonthDayNanoInterval, Nullable: true},
		{Name: "live", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	var batches []arrow.RecordBatch
	total := 0
	for _, n := range []int{3, 1, 5} {
		cols := make([]arrow.Array, 5)
		for c := range 4 {
			cols[c] = array.MakeArrayOfNull(mem, schema.Field(c).Type, n)
		}
		lb := array.NewInt64Builder(mem)
		for i := range n {
			lb.Append(int64(total + i))
		}
		cols[4] = lb.NewArray()
		lb.Release()
		batches = append(batches, newBatch(schema, cols, n))
		total += n
	}
	got, err := concatBatches(mem, schema, batches, total)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	for c := range 5 {
		parts := make([]arrow.Array, len(batches))
		for i, b := range batches {
			parts[i] = b.Column(c)
		}
		want, err := array.Concatenate(parts, mem)
		if err != nil {
			t.Fatal(err)
		}
		if !array.Equal(got.Column(c), want) || got.Column(c).NullN() != want.NullN() {
			t.Errorf("column %d: got %v, want %v", c, got.Column(c), want)
		}
		want.Release()
	}
	for _, b := range batches {
		b.Release()
	}
}
