package sqlshell

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Format is how results are printed.
type Format string

// The output formats.
const (
	// FormatTable is an aligned table like psql's: headers, a separator
	// line, right-aligned numbers, NULL as empty, a "(N rows)" footer.
	FormatTable Format = "table"
	// FormatCSV is RFC 4180 CSV with a header line; NULL is empty.
	FormatCSV Format = "csv"
	// FormatJSON is one JSON object per row and line, keyed by column name.
	FormatJSON Format = "json"
)

// ParseFormat returns the Format named s.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatTable, FormatCSV, FormatJSON:
		return f, nil
	}
	return "", fmt.Errorf("sqlshell: unknown format %q: want table, csv or json", s)
}

// WriteResult prints one statement's result in format f. A statement
// without result columns prints its command tag in table format and
// nothing in csv and json (so their output stays machine-readable).
func WriteResult(w io.Writer, f Format, res *Result) error {
	if len(res.Columns) == 0 {
		if f == FormatTable && res.Command != "" {
			_, err := fmt.Fprintln(w, res.Command)
			return err
		}
		return nil
	}
	switch f {
	case FormatCSV:
		return writeCSV(w, res)
	case FormatJSON:
		return writeJSON(w, res)
	default:
		return writeTable(w, res)
	}
}

// cellText renders a value as psql does: NULL empty, booleans t and f.
func cellText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		if v {
			return "t"
		}
		return "f"
	case json.Number:
		return v.String()
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

// numericType reports a column printed right-aligned.
func numericType(t string) bool {
	switch t {
	case "int2", "int4", "int8", "float4", "float8", "numeric", "oid":
		return true
	}
	return false
}

// writeTable prints psql's aligned format. A cell holding newlines spans
// several lines, each but the last marked with a trailing +.
func writeTable(w io.Writer, res *Result) error {
	n := len(res.Columns)
	widths := make([]int, n)
	for i, c := range res.Columns {
		widths[i] = utf8.RuneCountInString(c.Name)
	}
	cells := make([][][]string, len(res.Rows))
	for r, row := range res.Rows {
		cells[r] = make([][]string, n)
		for i := range n {
			var v any
			if i < len(row) {
				v = row[i]
			}
			lines := strings.Split(cellText(v), "\n")
			cells[r][i] = lines
			for _, l := range lines {
				widths[i] = max(widths[i], utf8.RuneCountInString(l))
			}
		}
	}
	var b bytes.Buffer
	line := func(parts []string) {
		b.WriteString(strings.TrimRight(strings.Join(parts, "|"), " "))
		b.WriteByte('\n')
	}
	parts := make([]string, n)
	for i, c := range res.Columns {
		pad := widths[i] - utf8.RuneCountInString(c.Name)
		parts[i] = " " + strings.Repeat(" ", pad/2) + c.Name + strings.Repeat(" ", pad-pad/2) + " "
	}
	line(parts)
	for i := range parts {
		parts[i] = strings.Repeat("-", widths[i]+2)
	}
	b.WriteString(strings.Join(parts, "+"))
	b.WriteByte('\n')
	for _, row := range cells {
		height := 1
		for _, lines := range row {
			height = max(height, len(lines))
		}
		for k := range height {
			for i, lines := range row {
				s, end := "", " "
				if k < len(lines) {
					s = lines[k]
				}
				if k < len(lines)-1 {
					end = "+"
				}
				pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
				if numericType(res.Columns[i].Type) {
					parts[i] = " " + pad + s + end
				} else {
					parts[i] = " " + s + pad + end
				}
			}
			line(parts)
		}
	}
	if len(res.Rows) == 1 {
		b.WriteString("(1 row)\n\n")
	} else {
		fmt.Fprintf(&b, "(%d rows)\n\n", len(res.Rows))
	}
	_, err := w.Write(b.Bytes())
	return err
}

func writeCSV(w io.Writer, res *Result) error {
	cw := csv.NewWriter(w)
	rec := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		rec[i] = c.Name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	for _, row := range res.Rows {
		for i := range rec {
			rec[i] = ""
			if i < len(row) {
				rec[i] = cellText(row[i])
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeJSON(w io.Writer, res *Result) error {
	var b bytes.Buffer
	for _, row := range res.Rows {
		b.WriteByte('{')
		for i, c := range res.Columns {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(c.Name)
			b.Write(k)
			b.WriteByte(':')
			var v any
			if i < len(row) {
				v = row[i]
			}
			enc, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("sqlshell: encode %s: %w", c.Name, err)
			}
			b.Write(enc)
		}
		b.WriteString("}\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}
