package tpch

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cell is one value of an answer, normalised so that systems that spell
// the same value differently (NUMERIC text, DuckDB's DECIMAL, float64;
// blank-padded CHAR; DATE as text or time.Time) compare equal.
type cell struct {
	null  bool
	isNum bool
	num   float64
	text  string // strings and dates; the original spelling of numbers
}

func (c cell) String() string {
	switch {
	case c.null:
		return "NULL"
	default:
		return c.text
	}
}

// resultSet is the answer of a query: column names and rows.
type resultSet struct {
	cols []string
	rows [][]cell
}

// textCell normalises a value PostgreSQL's text format spelled: numbers of
// the numeric types parse as numbers, everything else is a string without
// CHAR's blank padding.
func textCell(v []byte, numeric bool) cell {
	if v == nil {
		return cell{null: true}
	}
	s := string(v)
	if numeric {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return cell{isNum: true, num: f, text: s}
		}
	}
	return cell{text: strings.TrimRight(s, " ")}
}

// valueCell normalises a value database/sql scanned from DuckDB.
func valueCell(v any) (cell, error) {
	switch x := v.(type) {
	case nil:
		return cell{null: true}, nil
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		s := fmt.Sprint(x)
		f, _ := strconv.ParseFloat(s, 64)
		return cell{isNum: true, num: f, text: s}, nil
	case float32:
		return cell{isNum: true, num: float64(x), text: fmt.Sprint(x)}, nil
	case float64:
		return cell{isNum: true, num: x, text: strconv.FormatFloat(x, 'g', -1, 64)}, nil
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return cell{isNum: true, num: f, text: x.String()}, nil
	case interface{ Float64() float64 }: // duckdb.Decimal
		return cell{isNum: true, num: x.Float64(), text: fmt.Sprint(x)}, nil
	case string:
		return cell{text: strings.TrimRight(x, " ")}, nil
	case []byte:
		return cell{text: strings.TrimRight(string(x), " ")}, nil
	case bool:
		return cell{text: strconv.FormatBool(x)}, nil
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return cell{text: x.Format("2006-01-02")}, nil
		}
		return cell{text: x.Format("2006-01-02 15:04:05.999999")}, nil
	default:
		return cell{}, fmt.Errorf("tpch: unexpected DuckDB value %T (%v)", v, v)
	}
}

// Tolerances of number comparison: two numbers are equal when they differ
// by at most absTol or by at most relTol of the larger magnitude (DECIMAL
// sums are exact in both, averages and ratios may be float in one).
const (
	relTol = 1e-6
	absTol = 0.01
)

// asNumber answers c as a number: a string that parses as one counts (a
// system may type a computed column differently).
func (c cell) asNumber() (float64, bool) {
	if c.isNum {
		return c.num, true
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(c.text), 64)
	return f, err == nil
}

// cellsEqual compares two normalised values.
func cellsEqual(a, b cell) bool {
	if a.null || b.null {
		return a.null == b.null
	}
	if a.isNum || b.isNum {
		x, ok1 := a.asNumber()
		y, ok2 := b.asNumber()
		if !ok1 || !ok2 {
			return false
		}
		d := math.Abs(x - y)
		return d <= absTol || d <= relTol*math.Max(math.Abs(x), math.Abs(y))
	}
	return a.text == b.text
}

// compareCells orders values for sorting an unordered answer: NULLs
// first, numbers by value, the rest by text.
func compareCells(a, b cell) int {
	switch {
	case a.null || b.null:
		if a.null == b.null {
			return 0
		}
		if a.null {
			return -1
		}
		return 1
	case a.isNum && b.isNum:
		return cmp.Compare(a.num, b.num)
	default:
		return strings.Compare(a.text, b.text)
	}
}

func compareRows(a, b []cell) int {
	for i := range min(len(a), len(b)) {
		if c := compareCells(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// diff compares got with the reference answer want and describes the first
// difference ("" when they agree): the row count, then every row in order
// (after sorting both when the order is not defined), column by column.
func diff(got, want *resultSet, ordered bool) string {
	if len(got.rows) != len(want.rows) {
		return fmt.Sprintf("%d rows, want %d", len(got.rows), len(want.rows))
	}
	if len(got.cols) != len(want.cols) {
		return fmt.Sprintf("%d columns, want %d", len(got.cols), len(want.cols))
	}
	g, w := got.rows, want.rows
	if !ordered {
		g, w = slices.Clone(g), slices.Clone(w)
		slices.SortStableFunc(g, compareRows)
		slices.SortStableFunc(w, compareRows)
	}
	for i := range g {
		for j := range g[i] {
			if !cellsEqual(g[i][j], w[i][j]) {
				return fmt.Sprintf("row %d column %s: %s, want %s", i+1, want.cols[j], g[i][j], w[i][j])
			}
		}
	}
	return ""
}
