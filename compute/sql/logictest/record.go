package logictest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// Record runs every record of the file at path that applies to engine
// (normally "postgresql", a real PostgreSQL behind exec) and returns the
// file rewritten with that engine's answers: query results replace the
// lines after "----" (which is added when missing), and error records get
// the engine's SQLSTATE (and its position where the record asks for one).
// A statement the engine rejects, or an error record it accepts, is an
// error: the file is then wrong, not the recording. Records for other
// engines (onlyif/skipif) are left as written.
func Record(ctx context.Context, path, engine string, exec ExecFunc) ([]byte, error) {
	f, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	type edit struct {
		from, to int // 0-based line range [from, to) replaced by lines
		lines    []string
	}
	var edits []edit
	var errs []error
	for _, r := range f.recs {
		if !r.appliesTo(engine) {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		res, err := exec(rctx, r.sql, r.params)
		cancel()
		where := fmt.Sprintf("%s:%d", path, r.line)
		switch {
		case r.expect != nil && err == nil:
			errs = append(errs, fmt.Errorf("%s: %s accepts a record that expects an error:\n%s", where, engine, r.sql))
		case r.expect != nil:
			head, herr := recordErrorHeader(r, err)
			if herr != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, herr))
				continue
			}
			edits = append(edits, edit{from: r.line - 1, to: r.line, lines: []string{head}})
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %s rejects the record (SQLSTATE %s): %v\n%s", where, engine, sqlerr.Code(err), err, r.sql))
		case r.kind == "query":
			lines, _, msg := r.render(res)
			if msg != "" {
				errs = append(errs, fmt.Errorf("%s: %s", where, msg))
				continue
			}
			if r.sepLine == 0 {
				edits = append(edits, edit{from: r.endLine - 1, to: r.endLine - 1, lines: append([]string{"----"}, lines...)})
			} else {
				edits = append(edits, edit{from: r.sepLine, to: r.endLine - 1, lines: lines})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := slices.Clone(f.lines)
	for i := len(edits) - 1; i >= 0; i-- {
		e := edits[i]
		out = slices.Replace(out, e.from, e.to, e.lines...)
	}
	return []byte(strings.Join(out, "\n") + "\n"), nil
}

// recordErrorHeader is r's directive line with the SQLSTATE err carries,
// the position when r asks for one, and r's message pattern if it still
// matches.
func recordErrorHeader(r *record, err error) (string, error) {
	code := sqlerr.Code(err)
	msg := err.Error()
	pos := 0
	if se := sqlerr.As(err); se != nil {
		msg, pos = se.Message, se.Position
	}
	head := r.kind + " error " + code
	if r.expect.pos != 0 {
		if pos == 0 {
			return "", fmt.Errorf("the record expects an error position, the error has none: %v", err)
		}
		head += fmt.Sprintf(" @%d", pos)
	}
	if r.expect.re != nil {
		if !r.expect.re.MatchString(msg) {
			return "", fmt.Errorf("error %q does not match the record's pattern %q", msg, r.expect.re)
		}
		head += " " + r.expect.re.String()
	}
	if len(r.params) > 0 {
		head += " params=" + r.paramsRaw
	}
	return head, nil
}

// RecordFile records path in place (see Record).
func RecordFile(ctx context.Context, path, engine string, exec ExecFunc) error {
	data, err := Record(ctx, path, engine, exec)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
