package sql

import (
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/phantom-db/phantom/compute/sql/types"
)

// jsonValueExt renders row i of a column of one of the later types (named
// typ) as a JSON-friendly value; ok is false for the first five types.
func jsonValueExt(typ string, a arrow.Array, i int) (any, bool) {
	t, known := types.FromName(typ)
	if !known || t < types.Int2 {
		return nil, false
	}
	v := types.ValueAt(t, a, i)
	switch x := v.(type) {
	case int16:
		return int32(x), true
	case float32:
		f, _ := strconv.ParseFloat(types.FormatFloat4(x), 64)
		return f, true
	}
	return types.FormatText(v), true
}
