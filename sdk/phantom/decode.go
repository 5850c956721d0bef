package phantom

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"time"
)

// wireResult is one statement's JSON answer.
type wireResult struct {
	Columns  []Column `json:"columns"`
	Rows     [][]any  `json:"rows"`
	Command  string   `json:"command"`
	RowCount int64    `json:"row_count"`
	Timing   struct {
		ElapsedMS float64 `json:"elapsed_ms"`
	} `json:"timing"`
}

// decode types every value by its column's type (unless raw).
func (w *wireResult) decode(raw bool) (*Result, error) {
	res := &Result{Columns: w.Columns, Rows: w.Rows, Command: w.Command, RowCount: w.RowCount,
		Elapsed: time.Duration(w.Timing.ElapsedMS * float64(time.Millisecond))}
	if res.Rows == nil {
		res.Rows = [][]any{}
	}
	for r, row := range res.Rows {
		if len(row) != len(res.Columns) {
			return nil, fmt.Errorf("phantom: row %d has %d values for %d columns", r, len(row), len(res.Columns))
		}
		if raw {
			continue
		}
		for i, v := range row {
			typed, err := decodeValue(res.Columns[i].Type, v)
			if err != nil {
				return nil, fmt.Errorf("phantom: row %d column %q: %w", r, res.Columns[i].Name, err)
			}
			row[i] = typed
		}
	}
	return res, nil
}

// decodeValue converts one JSON value (decoded with UseNumber) to the Go
// type of its column type: int64, float64, string, bool, or nil.
func decodeValue(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "int2", "int4", "int8":
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s value %v is not a number", typ, v)
		}
		return n.Int64()
	case "float4", "float8":
		switch x := v.(type) {
		case json.Number:
			return x.Float64()
		case string: // NaN and ±Infinity travel as PostgreSQL prints them
			switch x {
			case "NaN":
				return math.NaN(), nil
			case "Infinity":
				return math.Inf(1), nil
			case "-Infinity":
				return math.Inf(-1), nil
			}
		}
		return nil, fmt.Errorf("%s value %v is not a number", typ, v)
	case "bool":
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("bool value %v is not a boolean", v)
		}
		return b, nil
	case "text", "varchar":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("text value %v is not a string", v)
		}
		return s, nil
	}
	// An unknown type: keep strings and booleans, spell numbers as text.
	if n, ok := v.(json.Number); ok {
		return n.String(), nil
	}
	return v, nil
}

// encodeArgs converts query arguments to JSON parameters: integers become
// int64, floats float64, time.Time an RFC 3339 string, []byte a string;
// driver.Valuer values are converted first.
func encodeArgs(args []any) ([]any, error) {
	params := make([]any, len(args))
	for i, a := range args {
		p, err := encodeArg(a)
		if err != nil {
			return nil, fmt.Errorf("phantom: argument $%d: %w", i+1, err)
		}
		params[i] = p
	}
	return params, nil
}

func encodeArg(a any) (any, error) {
	if v, ok := a.(driver.Valuer); ok {
		if rv := reflect.ValueOf(a); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return nil, nil
		}
		x, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("%T.Value: %w", a, err)
		}
		a = x
	}
	switch x := a.(type) {
	case nil, string, bool, int64, float64:
		return x, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return nil, fmt.Errorf("%w: %d overflows int64", ErrInvalidArg, x)
		}
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("%w: %d overflows int64", ErrInvalidArg, x)
		}
		return int64(x), nil
	case float32:
		return float64(x), nil
	case []byte:
		if x == nil {
			return nil, nil
		}
		return string(x), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case json.Number:
		return x, nil
	}
	return nil, fmt.Errorf("%w: %T", ErrInvalidArg, a)
}
