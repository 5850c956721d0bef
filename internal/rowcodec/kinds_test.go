package rowcodec

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var laterKinds = []Kind{KindInt16, KindFloat32, KindDate32, KindTime64, KindTimestamp, KindTimestampTZ, KindInterval, KindUUID, KindBinary}

func randomLaterValue(r *rand.Rand, k Kind) any {
	if r.IntN(5) == 0 {
		return nil
	}
	switch k {
	case KindInt16:
		return int16(r.Uint32())
	case KindFloat32:
		return float32(r.NormFloat64() * 1e6)
	case KindDate32:
		return int32(r.Uint32())
	case KindTime64, KindTimestamp, KindTimestampTZ:
		return int64(r.Uint64())
	case KindInterval:
		return arrow.MonthDayNanoInterval{Months: int32(r.Uint32()), Days: int32(r.Uint32()), Nanoseconds: int64(r.Int32()) * 1000}
	case KindUUID:
		var u [16]byte
		for i := range u {
			u[i] = byte(r.Uint32())
		}
		return u
	case KindBinary:
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	return nil
}

// TestLaterKindsRoundTrip encodes random rows of every later kind with
// AppendValues, decodes them into Arrow, re-encodes the arrays with
// AppendArrays and checks both encodings and the decoded values agree.
func TestLaterKindsRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(1, 2))
	kinds := append(append([]Kind{}, laterKinds...), KindString, KindInt64)
	var rows [][]any
	var encoded [][]byte
	d := NewDecoder(mem, kinds)
	defer d.Release()
	for range 200 {
		row := make([]any, len(kinds))
		for i, k := range kinds {
			switch k {
			case KindString:
				row[i] = "s"
			case KindInt64:
				row[i] = int64(r.Uint64())
			default:
				row[i] = randomLaterValue(r, k)
			}
		}
		b, err := AppendValues(nil, kinds, row)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Append(b); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
		encoded = append(encoded, b)
	}
	cols := d.NewArrays()
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for i, c := range cols {
		if !arrow.TypeEqual(c.DataType(), kinds[i].ArrowType()) {
			t.Fatalf("column %d: type %s, want %s", i, c.DataType(), kinds[i].ArrowType())
		}
		if k, ok := KindOf(c.DataType()); !ok || k != kinds[i] {
			t.Fatalf("KindOf(%s) = %d, want %d", c.DataType(), k, kinds[i])
		}
	}
	for row := range rows {
		again, err := AppendArrays(nil, cols, row)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, encoded[row]) {
			t.Fatalf("row %d: re-encoded %x, want %x", row, again, encoded[row])
		}
		for i, want := range rows[row] {
			if (want == nil) != cols[i].IsNull(row) {
				t.Fatalf("row %d col %d: null mismatch", row, i)
			}
			if want == nil {
				continue
			}
			var got any
			switch c := cols[i].(type) {
			case *array.Int16:
				got = c.Value(row)
			case *array.Float32:
				got = c.Value(row)
			case *array.Date32:
				got = int32(c.Value(row))
			case *array.Time64:
				got = int64(c.Value(row))
			case *array.Timestamp:
				got = int64(c.Value(row))
			case *array.MonthDayNanoInterval:
				got = c.Value(row)
			case *array.FixedSizeBinary:
				var u [16]byte
				copy(u[:], c.Value(row))
				got = u
			case *array.Binary:
				got = append([]byte{}, c.Value(row)...)
			default:
				continue
			}
			if w, ok := want.([]byte); ok {
				if !bytes.Equal(w, got.([]byte)) {
					t.Fatalf("row %d col %d: %v, want %v", row, i, got, want)
				}
				continue
			}
			if got != want {
				t.Fatalf("row %d col %d: %v, want %v", row, i, got, want)
			}
		}
	}
}

// TestLaterKindsCorrupt truncates valid rows of the later kinds at every
// length: each must fail to decode cleanly, never panic.
func TestLaterKindsCorrupt(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	row := make([]any, len(laterKinds))
	for i, k := range laterKinds {
		for row[i] == nil {
			row[i] = randomLaterValue(r, k)
		}
	}
	b, err := AppendValues(nil, laterKinds, row)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(memory.NewGoAllocator(), laterKinds)
	defer d.Release()
	for n := 0; n < len(b); n++ {
		if err := d.Append(b[:n]); err == nil {
			t.Fatalf("truncated row of %d bytes decoded", n)
		}
	}
	if err := d.Append(b); err != nil {
		t.Fatal(err)
	}
}
