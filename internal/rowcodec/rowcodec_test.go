package rowcodec

import (
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	kinds := []Kind{KindInt64, KindBool, KindInt32, KindFloat64, KindString}
	r := rand.New(rand.NewPCG(1, 1))
	var rows [][]any
	for i := range 300 {
		row := []any{int64(i) - 150, r.IntN(2) == 0, r.Int32() - r.Int32(), r.NormFloat64(), string(make([]byte, r.IntN(20)))}
		for j := 1; j < len(row); j++ {
			if r.IntN(4) == 0 {
				row[j] = nil
			}
		}
		rows = append(rows, row)
	}
	d := NewDecoder(mem, kinds)
	defer d.Release()
	for _, row := range rows {
		v, err := AppendValues(nil, kinds, row)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Append(v); err != nil {
			t.Fatal(err)
		}
	}
	cols := d.NewArrays()
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for i, row := range rows {
		for j, want := range row {
			got := valueAt(cols[j], i)
			if got != want {
				t.Fatalf("row %d col %d: got %#v want %#v", i, j, got, want)
			}
		}
		// Re-encoding from the arrays gives the same bytes.
		a, err := AppendArrays(nil, cols, i)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := AppendValues(nil, kinds, row)
		if string(a) != string(b) {
			t.Fatalf("row %d: arrays and values encode differently", i)
		}
	}
}

func valueAt(a any, i int) any {
	switch c := a.(type) {
	case *array.Int64:
		if c.IsNull(i) {
			return nil
		}
		return c.Value(i)
	case *array.Int32:
		if c.IsNull(i) {
			return nil
		}
		return c.Value(i)
	case *array.Boolean:
		if c.IsNull(i) {
			return nil
		}
		return c.Value(i)
	case *array.Float64:
		if c.IsNull(i) {
			return nil
		}
		return c.Value(i)
	case *array.String:
		if c.IsNull(i) {
			return nil
		}
		return c.Value(i)
	}
	return "?"
}

func TestMissingTrailingColumnsAreNull(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	v, err := AppendValues(nil, []Kind{KindInt64}, []any{int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(mem, []Kind{KindInt64, KindString})
	defer d.Release()
	if err := d.Append(v); err != nil {
		t.Fatal(err)
	}
	cols := d.NewArrays()
	defer cols[0].Release()
	defer cols[1].Release()
	if valueAt(cols[0], 0) != int64(7) || !cols[1].IsNull(0) {
		t.Fatal("missing column must decode as NULL")
	}
}

func TestCorruptRowsFail(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	good, _ := AppendValues(nil, []Kind{KindInt64, KindString}, []any{int64(1), "hello"})
	d := NewDecoder(mem, []Kind{KindInt64, KindString})
	defer d.Release()
	for i := range len(good) - 1 {
		if err := d.Append(good[:i]); err == nil {
			t.Fatalf("truncated row of %d bytes must fail", i)
		}
	}
	if d.Rows() != 0 {
		t.Fatal("failed appends must not add rows")
	}
	for _, c := range d.NewArrays() {
		if c.Len() != 0 {
			t.Fatal("failed appends must not touch builders")
		}
		c.Release()
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := AppendValues(nil, []Kind{KindInt64, KindString, KindBool}, []any{int64(1), "hi", nil})
	f.Add(good)
	f.Add([]byte{1, 0xFF, 0xFF, 0xFF})
	later, _ := AppendValues(nil, []Kind{KindInt64, KindString, KindBool, KindInt32, KindFloat64, KindInt16, KindFloat32,
		KindDate32, KindTime64, KindTimestamp, KindTimestampTZ, KindInterval, KindUUID, KindBinary},
		[]any{int64(1), "x", true, int32(2), 1.5, int16(3), float32(4), int32(5), int64(6), int64(7), int64(8),
			arrow.MonthDayNanoInterval{Months: 1, Days: 2, Nanoseconds: 3000}, [16]byte{9}, []byte{10, 11}})
	f.Add(later)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(memory.NewGoAllocator(), []Kind{KindInt64, KindString, KindBool, KindInt32, KindFloat64, KindInt16, KindFloat32,
			KindDate32, KindTime64, KindTimestamp, KindTimestampTZ, KindInterval, KindUUID, KindBinary})
		defer d.Release()
		_ = d.Append(b)
	})
}

// TestSkipColumns decodes rows with every other column skipped: the kept
// columns hold the values, the skipped ones are all-NULL arrays of their
// type with the right length.
func TestSkipColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	kinds := []Kind{KindInt64, KindString, KindInt32, KindBinary, KindDate32, KindInterval, KindBool, KindString}
	skip := []bool{false, true, false, true, true, true, false, false}
	r := rand.New(rand.NewPCG(5, 6))
	var rows [][]any
	for i := range 200 {
		row := []any{int64(i), string(make([]byte, r.IntN(30))), r.Int32(), make([]byte, r.IntN(9)),
			r.Int32N(1000), arrow.MonthDayNanoInterval{Months: 1, Days: 2, Nanoseconds: 3000},
			r.IntN(2) == 0, "s"}
		if i%7 == 0 {
			row[1], row[3], row[7] = nil, nil, nil
		}
		rows = append(rows, row)
	}
	d := NewDecoder(mem, kinds)
	defer d.Release()
	d.Skip(skip)
	for _, row := range rows {
		v, err := AppendValues(nil, kinds, row)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Append(v); err != nil {
			t.Fatal(err)
		}
	}
	cols := d.NewArrays()
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for j, c := range cols {
		if c.Len() != len(rows) || !arrow.TypeEqual(c.DataType(), kinds[j].ArrowType()) {
			t.Fatalf("col %d: %d rows of %s", j, c.Len(), c.DataType())
		}
		if skip[j] {
			if c.NullN() != len(rows) {
				t.Fatalf("skipped col %d has %d NULLs, want %d", j, c.NullN(), len(rows))
			}
			continue
		}
		for i, row := range rows {
			if got := valueAt(c, i); got != row[j] {
				t.Fatalf("row %d col %d: got %#v want %#v", i, j, got, row[j])
			}
		}
	}
}
