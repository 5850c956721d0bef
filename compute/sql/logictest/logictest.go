// Package logictest runs sqllogictest files (the format of SQLite's and
// CockroachDB's logic tests) against anything that executes SQL: the engine
// in-process (EngineExec) or, in end-to-end tests, a real server.
//
// # File format
//
// Records are separated by blank lines; lines starting with # are comments.
//
//	statement ok [params=<JSON array>]
//	<SQL, one or more lines>
//
//	statement error <expectation> [params=...]
//	<SQL>
//
//	query <types> [rowsort] [colnames] [params=<JSON array>]
//	<SQL>
//	----
//	<expected rows, one per line, values separated by one space>
//
//	query error <expectation>
//	<SQL>
//
// <types> has one letter per column: I integer, R float, T text, B boolean.
// Values print as NULL for NULL, (empty) for the empty string, true/false,
// decimal integers and floats in Go's shortest 'g' form (Infinity, NaN).
// rowsort sorts actual and expected rows before comparing; colnames makes the
// first expected line the column names.
//
// An <expectation> is an optional SQLSTATE (a five-character token of digits
// and upper-case letters), then an optional @N (the error's 1-based
// position), then an optional regular expression matched against the
// message. params= must come last on its line; its JSON is decoded with
// UseNumber, so numbers arrive as json.Number as they do over HTTP.
//
// "hash-threshold N" lines are accepted and ignored; "halt" stops the file.
package logictest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Result is what an ExecFunc returns: the columns and rows of the last
// statement of the query string (both empty for statements without rows).
type Result struct {
	Columns []string
	// Rows hold JSON-friendly values: nil, bool, int32, int64, int,
	// float64, json.Number or string.
	Rows [][]any
}

// ExecFunc executes a query string with parameters. Errors should carry
// their SQLSTATE as an *sqlerr.Error (in its chain) so expectations can
// match code and position; other errors count as XX000.
type ExecFunc func(ctx context.Context, query string, params []any) (Result, error)

// RunGlob runs every file matching pattern as a subtest, each against a
// fresh database from newExec.
func RunGlob(t *testing.T, pattern string, newExec func(t *testing.T) ExecFunc) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("logictest: no files match %s", pattern)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { Run(t, f, newExec(t)) })
	}
}

// Run runs one logic-test file against exec. Failures are reported with
// the file and line of the record; the run continues with the next record.
func Run(t *testing.T, path string, exec ExecFunc) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := parseFile(path, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if msg := r.run(ctx, exec); msg != "" {
			t.Errorf("%s:%d: %s\n%s", path, r.line, msg, r.sql)
		}
		cancel()
	}
}

// record is one statement or query of a file.
type record struct {
	line     int
	kind     string // "statement" or "query"
	ok       bool   // statement ok / query with results
	expect   *errExpect
	types    string
	rowsort  bool
	colnames bool
	params   []any
	sql      string
	want     []string
}

type errExpect struct {
	code string
	pos  int
	re   *regexp.Regexp
}

var sqlstateRE = regexp.MustCompile(`^[0-9A-Z]{5}$`)

func parseExpect(s string) (*errExpect, error) {
	e := &errExpect{}
	s = strings.TrimSpace(s)
	if tok, rest, _ := strings.Cut(s, " "); sqlstateRE.MatchString(tok) {
		e.code, s = tok, strings.TrimSpace(rest)
	}
	if strings.HasPrefix(s, "@") {
		tok, rest, _ := strings.Cut(s, " ")
		p, err := strconv.Atoi(tok[1:])
		if err != nil {
			return nil, fmt.Errorf("bad position %q", tok)
		}
		e.pos, s = p, strings.TrimSpace(rest)
	}
	if s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, err
		}
		e.re = re
	}
	return e, nil
}

func parseFile(path string, data []byte) ([]*record, error) {
	var recs []*record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lineNo := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		lineNo++
		return sc.Text(), true
	}
	for {
		line, ok := next()
		if !ok {
			break
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "hash-threshold") {
			continue
		}
		if trimmed == "halt" {
			break
		}
		r := &record{line: lineNo}
		head := trimmed
		if i := strings.Index(head, "params="); i >= 0 {
			dec := json.NewDecoder(strings.NewReader(head[i+len("params="):]))
			dec.UseNumber()
			if err := dec.Decode(&r.params); err != nil {
				return nil, fmt.Errorf("%s:%d: bad params: %w", path, lineNo, err)
			}
			head = strings.TrimSpace(head[:i])
		}
		fields := strings.Fields(head)
		r.kind = fields[0]
		switch {
		case r.kind == "statement" && len(fields) >= 2 && fields[1] == "ok":
			r.ok = true
		case (r.kind == "statement" || r.kind == "query") && len(fields) >= 2 && fields[1] == "error":
			e, err := parseExpect(strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(head, r.kind)), "error"))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, lineNo, err)
			}
			r.expect = e
		case r.kind == "query" && len(fields) >= 2:
			r.ok = true
			r.types = fields[1]
			for _, opt := range fields[2:] {
				switch opt {
				case "rowsort":
					r.rowsort = true
				case "nosort":
				case "colnames":
					r.colnames = true
				default:
					return nil, fmt.Errorf("%s:%d: unknown query option %q", path, lineNo, opt)
				}
			}
		default:
			return nil, fmt.Errorf("%s:%d: unknown directive %q", path, lineNo, trimmed)
		}
		var sqlLines []string
		inResults := false
		for {
			l, ok := next()
			if !ok || strings.TrimSpace(l) == "" {
				break
			}
			if r.kind == "query" && r.expect == nil && strings.TrimSpace(l) == "----" {
				inResults = true
				continue
			}
			if inResults {
				r.want = append(r.want, strings.TrimSpace(l))
			} else {
				sqlLines = append(sqlLines, l)
			}
		}
		r.sql = strings.Join(sqlLines, "\n")
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

func (r *record) run(ctx context.Context, exec ExecFunc) string {
	res, err := exec(ctx, r.sql, r.params)
	if r.expect != nil {
		return r.expect.check(err)
	}
	if err != nil {
		return fmt.Sprintf("unexpected error (SQLSTATE %s): %v", sqlerr.Code(err), err)
	}
	if r.kind == "statement" {
		return ""
	}
	var got []string
	if r.colnames {
		got = append(got, strings.Join(res.Columns, " "))
	}
	var rows []string
	for _, row := range res.Rows {
		if len(row) != len(r.types) {
			return fmt.Sprintf("row has %d columns, query declares %d (%s)", len(row), len(r.types), r.types)
		}
		vals := make([]string, len(row))
		for i, v := range row {
			s, err := format(r.types[i], v)
			if err != nil {
				return fmt.Sprintf("column %d: %v", i+1, err)
			}
			vals[i] = s
		}
		rows = append(rows, strings.Join(vals, " "))
	}
	want := slices.Clone(r.want)
	if r.rowsort {
		slices.Sort(rows)
		start := 0
		if r.colnames && len(want) > 0 {
			start = 1
		}
		slices.Sort(want[start:])
	}
	got = append(got, rows...)
	if !slices.Equal(got, want) {
		return fmt.Sprintf("results differ\n--- want\n%s\n--- got\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	return ""
}

func (e *errExpect) check(err error) string {
	if err == nil {
		return "expected an error, got success"
	}
	if e.code != "" && sqlerr.Code(err) != e.code {
		return fmt.Sprintf("expected SQLSTATE %s, got %s: %v", e.code, sqlerr.Code(err), err)
	}
	if e.pos != 0 {
		se := sqlerr.As(err)
		if se == nil || se.Position != e.pos {
			got := 0
			if se != nil {
				got = se.Position
			}
			return fmt.Sprintf("expected error position %d, got %d: %v", e.pos, got, err)
		}
	}
	msg := err.Error()
	if se := sqlerr.As(err); se != nil {
		msg = se.Message
	}
	if e.re != nil && !e.re.MatchString(msg) {
		return fmt.Sprintf("error %q does not match %q", msg, e.re)
	}
	return ""
}

// format renders a value under a column type letter.
func format(typ byte, v any) (string, error) {
	if v == nil {
		return "NULL", nil
	}
	switch typ {
	case 'I':
		switch x := v.(type) {
		case int32:
			return strconv.FormatInt(int64(x), 10), nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case int:
			return strconv.Itoa(x), nil
		case json.Number:
			if _, err := x.Int64(); err == nil {
				return string(x), nil
			}
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return strconv.FormatInt(int64(x), 10), nil
			}
		case string: // numeric values arrive as their text
			if _, err := strconv.ParseInt(x, 10, 64); err == nil || isDecimalText(x) && !strings.Contains(x, ".") {
				return x, nil
			}
		}
	case 'R':
		switch x := v.(type) {
		case float64:
			return formatFloat(x), nil
		case json.Number:
			if f, err := x.Float64(); err == nil {
				return formatFloat(f), nil
			}
		case string: // JSON carries NaN and infinities as strings
			switch x {
			case "NaN", "Infinity", "-Infinity":
				return x, nil
			}
			if isDecimalText(x) { // numeric values arrive as their text
				return x, nil
			}
		case int32, int64, int:
			return fmt.Sprint(x), nil
		}
	case 'T':
		if s, ok := v.(string); ok {
			if s == "" {
				return "(empty)", nil
			}
			return s, nil
		}
	case 'B':
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
	default:
		return "", fmt.Errorf("unknown column type letter %q", typ)
	}
	return "", fmt.Errorf("value %v of Go type %T does not fit column type %c", v, v, typ)
}

func formatFloat(f float64) string { return types.FormatText(f) }

// isDecimalText reports whether s is a plain decimal number (numeric's
// text form).
func isDecimalText(s string) bool {
	s = strings.TrimPrefix(s, "-")
	digits := 0
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && i > 0 && !strings.Contains(s[:i], "."):
		default:
			return false
		}
	}
	return digits > 0
}
