package sql

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Rows returns the result rows as JSON-friendly values: bool, int32, int64,
// float64, string, or nil for NULL. int2 is an int32 and float4 a float64
// (of its shortest text); numeric, date/time, interval, uuid, bytea and
// jsonb values are their PostgreSQL text form.
func (r *Result) Rows() [][]any {
	out := make([][]any, 0, r.RowCount)
	for _, b := range r.Batches {
		cols := b.Columns()
		for i := range int(b.NumRows()) {
			row := make([]any, len(cols))
			for j, c := range cols {
				if c.IsNull(i) {
					continue
				}
				if j < len(r.Columns) {
					if v, ok := jsonValueExt(r.Columns[j].Type, c, i); ok {
						row[j] = v
						continue
					}
				}
				switch a := c.(type) {
				case *array.Boolean:
					row[j] = a.Value(i)
				case *array.Int32:
					row[j] = a.Value(i)
				case *array.Int64:
					row[j] = a.Value(i)
				case *array.Float64:
					row[j] = a.Value(i)
				case *array.String:
					row[j] = a.Value(i)
				default:
					row[j] = a.ValueStr(i)
				}
			}
			out = append(out, row)
		}
	}
	return out
}

// textBatch returns a one-row batch of one text column.
func textBatch(mem memory.Allocator, name, val string) (arrow.RecordBatch, error) {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Append(val)
	arr := b.NewArray()
	defer arr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{arr}, 1), nil
}
