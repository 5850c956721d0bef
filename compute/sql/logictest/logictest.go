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
// The standard sqllogictest directives work too: query sort modes nosort,
// rowsort and valuesort (valuesort compares the multiset of single values,
// written one per line), a label after the sort mode (every query with the
// same label must return the same values), "hash-threshold N" (results with
// more than N values are compared as "<n> values hashing to <md5>", the md5
// of every value followed by a newline), "skipif <engine>" and "onlyif
// <engine>" lines before a record, and "halt". This engine is named phantom
// (Options.Engine); files recorded from PostgreSQL (see Record) name it
// postgresql. Skipped records are counted and logged, never passed.
//
// Results of an ExecFunc that sets Result.Text are PostgreSQL text output
// (what a client reads with the text format) and are compared verbatim,
// whatever the type letter; only their count must match the letters.
package logictest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
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
	// float64, json.Number or string; with Text, nil or string.
	Rows [][]any
	// Text says the row values are PostgreSQL text output (or nil for
	// NULL), compared verbatim.
	Text bool
}

// ExecFunc executes a query string with parameters. Errors should carry
// their SQLSTATE as an *sqlerr.Error (in its chain) so expectations can
// match code and position; other errors count as XX000.
type ExecFunc func(ctx context.Context, query string, params []any) (Result, error)

// Options tune a run.
type Options struct {
	// Engine is this engine's name for skipif/onlyif; default "phantom".
	Engine string
}

func (o Options) engine() string {
	if o.Engine == "" {
		return "phantom"
	}
	return o.Engine
}

// RunGlob runs every file matching pattern as a subtest, each against a
// fresh database from newExec.
func RunGlob(t *testing.T, pattern string, newExec func(t *testing.T) ExecFunc) {
	t.Helper()
	RunGlobOptions(t, pattern, Options{}, newExec)
}

// RunGlobOptions is RunGlob with options.
func RunGlobOptions(t *testing.T, pattern string, opts Options, newExec func(t *testing.T) ExecFunc) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("logictest: no files match %s", pattern)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { RunOptions(t, f, opts, newExec(t)) })
	}
}

// Run runs one logic-test file against exec. Failures are reported with
// the file and line of the record; the run continues with the next record.
func Run(t *testing.T, path string, exec ExecFunc) {
	t.Helper()
	RunOptions(t, path, Options{}, exec)
}

// RunOptions is Run with options.
func RunOptions(t *testing.T, path string, opts Options, exec ExecFunc) {
	t.Helper()
	f, err := parsePath(path)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]labelled{}
	skipped, ran := 0, 0
	for _, r := range f.recs {
		if !r.appliesTo(opts.engine()) {
			skipped++
			continue
		}
		ran++
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if msg := r.run(ctx, exec, labels); msg != "" {
			t.Errorf("%s:%d: %s\n%s", path, r.line, msg, r.sql)
		}
		cancel()
	}
	if skipped > 0 {
		t.Logf("%s: ran %d records, skipped %d (skipif/onlyif %s)", path, ran, skipped, opts.engine())
	}
}

// labelled is the first result seen for a query label.
type labelled struct {
	line int
	vals []string
}

// file is a parsed logic-test file.
type file struct {
	lines []string
	recs  []*record
}

// record is one statement or query of a file.
type record struct {
	line      int    // 1-based line of the directive
	endLine   int    // 1-based line after the record's last line
	sepLine   int    // 1-based line of "----", 0 if none
	kind      string // "statement" or "query"
	ok        bool   // statement ok / query with results
	expect    *errExpect
	types     string
	sortMode  string // "", "nosort", "rowsort" or "valuesort"
	label     string
	colnames  bool
	hashAt    int // hash-threshold in force; 0 = never hash
	skipif    []string
	onlyif    []string
	params    []any
	paramsRaw string // params as written
	sql       string
	want      []string
}

// appliesTo reports whether the record runs on engine.
func (r *record) appliesTo(engine string) bool {
	if slices.Contains(r.skipif, engine) {
		return false
	}
	return len(r.onlyif) == 0 || slices.Contains(r.onlyif, engine)
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

func parsePath(path string) (*file, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseFile(path, data)
}

func parseFile(path string, data []byte) (*file, error) {
	f := &file{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f.lines = append(f.lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	lineNo := 0
	next := func() (string, bool) {
		if lineNo >= len(f.lines) {
			return "", false
		}
		lineNo++
		return f.lines[lineNo-1], true
	}
	hashAt := 0
	var skipif, onlyif []string
	for {
		line, ok := next()
		if !ok {
			break
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if trimmed == "halt" {
			break
		}
		fields := strings.Fields(trimmed)
		switch fields[0] {
		case "hash-threshold":
			if len(fields) != 2 {
				return nil, fmt.Errorf("%s:%d: hash-threshold needs one number", path, lineNo)
			}
			n, err := strconv.Atoi(fields[1])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%s:%d: bad hash-threshold %q", path, lineNo, fields[1])
			}
			hashAt = n
			continue
		case "skipif", "onlyif":
			if len(fields) < 2 {
				return nil, fmt.Errorf("%s:%d: %s needs an engine name", path, lineNo, fields[0])
			}
			if fields[0] == "skipif" {
				skipif = append(skipif, fields[1])
			} else {
				onlyif = append(onlyif, fields[1])
			}
			continue
		}
		r := &record{line: lineNo, hashAt: hashAt, skipif: skipif, onlyif: onlyif}
		skipif, onlyif = nil, nil
		head := trimmed
		if i := strings.Index(head, "params="); i >= 0 {
			r.paramsRaw = strings.TrimSpace(head[i+len("params="):])
			dec := json.NewDecoder(strings.NewReader(r.paramsRaw))
			dec.UseNumber()
			if err := dec.Decode(&r.params); err != nil {
				return nil, fmt.Errorf("%s:%d: bad params: %w", path, lineNo, err)
			}
			head = strings.TrimSpace(head[:i])
		}
		fields = strings.Fields(head)
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
				switch {
				case opt == "rowsort" || opt == "nosort" || opt == "valuesort":
					if r.sortMode != "" {
						return nil, fmt.Errorf("%s:%d: two sort modes", path, lineNo)
					}
					r.sortMode = opt
				case opt == "colnames":
					r.colnames = true
				case r.label == "" && !strings.ContainsAny(opt, "=()"):
					r.label = opt
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
			if !ok {
				break
			}
			if strings.TrimSpace(l) == "" {
				lineNo--
				break
			}
			if r.kind == "query" && r.expect == nil && strings.TrimSpace(l) == "----" {
				inResults = true
				r.sepLine = lineNo
				continue
			}
			if inResults {
				// Leading and trailing blanks are part of a value (to_char,
				// char(n)); only a carriage return is not.
				r.want = append(r.want, strings.TrimRight(l, "\r"))
			} else {
				sqlLines = append(sqlLines, l)
			}
		}
		r.endLine = lineNo + 1
		r.sql = strings.Join(sqlLines, "\n")
		f.recs = append(f.recs, r)
	}
	return f, nil
}

func (r *record) run(ctx context.Context, exec ExecFunc, labels map[string]labelled) string {
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
	got, vals, msg := r.render(res)
	if msg != "" {
		return msg
	}
	if r.label != "" {
		if prev, ok := labels[r.label]; ok && !slices.Equal(prev.vals, vals) {
			return fmt.Sprintf("label %s: values differ from the query at line %d", r.label, prev.line)
		} else if !ok {
			labels[r.label] = labelled{line: r.line, vals: vals}
		}
	}
	want := slices.Clone(r.want)
	if r.sortMode == "rowsort" || r.sortMode == "valuesort" {
		start := 0
		if r.colnames && len(want) > 0 {
			start = 1
		}
		if !isHashLine(want[start:]) {
			slices.Sort(want[start:])
		}
	}
	if !slices.Equal(got, want) {
		return fmt.Sprintf("results differ\n--- want\n%s\n--- got\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	return ""
}

var hashLineRE = regexp.MustCompile(`^\d+ values hashing to [0-9a-f]{32}$`)

func isHashLine(lines []string) bool { return len(lines) == 1 && hashLineRE.MatchString(lines[0]) }

// render formats a result as the expected-results lines of r: the column
// names line (colnames), then rows (or single values for valuesort) in the
// record's sort order, or one hash line past the hash threshold. vals are
// the rendered values in result order, for label comparison.
func (r *record) render(res Result) (lines, vals []string, msg string) {
	var rows [][]string
	for _, row := range res.Rows {
		if len(row) != len(r.types) {
			return nil, nil, fmt.Sprintf("row has %d columns, query declares %d (%s)", len(row), len(r.types), r.types)
		}
		out := make([]string, len(row))
		for i, v := range row {
			s, err := format(r.types[i], v, res.Text)
			if err != nil {
				return nil, nil, fmt.Sprintf("column %d: %v", i+1, err)
			}
			out[i] = s
			vals = append(vals, s)
		}
		rows = append(rows, out)
	}
	if r.colnames {
		lines = append(lines, strings.Join(res.Columns, " "))
	}
	var body []string
	switch r.sortMode {
	case "valuesort":
		body = slices.Clone(vals)
		slices.Sort(body)
	default:
		for _, row := range rows {
			body = append(body, strings.Join(row, " "))
		}
		if r.sortMode == "rowsort" {
			slices.Sort(body)
		}
	}
	if r.hashAt > 0 && len(vals) > r.hashAt {
		hashed := vals
		switch r.sortMode {
		case "valuesort":
			hashed = body
		case "rowsort":
			hashed = nil
			sorted := slices.Clone(rows)
			slices.SortFunc(sorted, func(a, b []string) int { return strings.Compare(strings.Join(a, " "), strings.Join(b, " ")) })
			for _, row := range sorted {
				hashed = append(hashed, row...)
			}
		}
		h := md5.New()
		for _, v := range hashed {
			h.Write([]byte(v))
			h.Write([]byte{'\n'})
		}
		body = []string{fmt.Sprintf("%d values hashing to %x", len(hashed), h.Sum(nil))}
	}
	return append(lines, body...), vals, ""
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

// format renders a value under a column type letter; text values
// (PostgreSQL text output) are kept as they are.
func format(typ byte, v any, text bool) (string, error) {
	if v == nil {
		return "NULL", nil
	}
	if text {
		s, ok := v.(string)
		switch {
		case !ok:
			return "", fmt.Errorf("text result holds %T", v)
		case !strings.ContainsRune("IRTB", rune(typ)):
			return "", fmt.Errorf("unknown column type letter %q", typ)
		case s == "":
			return "(empty)", nil
		}
		return s, nil
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
