package pgwire

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/sql/parse"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// COPY over the wire protocol: COPY ... FROM STDIN and COPY ... TO STDOUT in
// the text and CSV formats (psql's \copy uses these). Rows coming in are
// loaded through the normal INSERT path in batches of copyBatchRows, in
// one transaction (the session's open block, or one opened for the COPY),
// so a failed COPY loads nothing.

// copyBatchRows bounds the rows of one INSERT a COPY FROM sends to the
// engine (and so the rows it holds decoded at once).
const copyBatchRows = 1000

// SQLSTATEs used by COPY.
const (
	codeFeatureNotSupported = "0A000"
	codeBadCopyFileFormat   = "22P04"
	codeSyntaxError         = "42601"
)

// copyOptions are the options of one COPY statement.
type copyOptions struct {
	csv       bool
	header    bool
	delimiter byte
	null      string
	quote     byte
	escape    byte
}

// parseTreeVersion is the parse tree version of the linked pg_query, which
// Deparse checks.
var parseTreeVersion = sync.OnceValue(func() int32 {
	tree, _ := pg_query.Parse("SELECT 1")
	return tree.GetVersion()
})

// isCopy reports whether query may be a COPY statement (its first word),
// so that other queries are not parsed twice.
func isCopy(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return len(q) >= 4 && strings.EqualFold(q[:4], "copy")
}

// copyStatement returns the COPY statement of query, nil when query is not
// one COPY statement.
func copyStatement(query string) (*pg_query.CopyStmt, error) {
	stmts, err := parse.Parse(query)
	if err != nil {
		return nil, err
	}
	var cs *pg_query.CopyStmt
	for _, st := range stmts {
		if n, ok := st.AST.Node.(*pg_query.Node_CopyStmt); ok {
			cs = n.CopyStmt
		}
	}
	if cs != nil && len(stmts) > 1 {
		return nil, sqlerr.New(codeFeatureNotSupported, "COPY must be the only statement of its query")
	}
	return cs, nil
}

// parseCopyOptions reads the WITH (...) options of a COPY statement.
func parseCopyOptions(cs *pg_query.CopyStmt) (copyOptions, error) {
	o := copyOptions{delimiter: '\t', null: `\N`, quote: '"'}
	var delim, null, quote, escape *string
	for _, n := range cs.Options {
		d := n.GetDefElem()
		if d == nil {
			continue
		}
		val := defElemString(d)
		switch d.Defname {
		case "format":
			switch strings.ToLower(val) {
			case "text":
			case "csv":
				o.csv = true
			case "binary":
				return o, sqlerr.New(codeFeatureNotSupported, "COPY format binary is not supported; use text or csv")
			default:
				return o, sqlerr.New(codeInvalidParameterValue, "COPY format %q not recognized", val)
			}
		case "header":
			switch strings.ToLower(val) {
			case "", "true", "on", "1":
				o.header = true
			case "false", "off", "0":
			case "match":
				return o, sqlerr.New(codeFeatureNotSupported, "COPY HEADER MATCH is not supported")
			default:
				return o, sqlerr.New(codeSyntaxError, "header requires a Boolean value")
			}
		case "delimiter":
			delim = &val
		case "null":
			null = &val
		case "quote":
			quote = &val
		case "escape":
			escape = &val
		case "freeze":
			// A hint that the rows need no visibility checks later
			// (pgbench -i sends it); every committed row here is visible
			// by its commit timestamp, so there is nothing to skip.
		default:
			return o, sqlerr.New(codeFeatureNotSupported, "COPY option %q is not supported", d.Defname)
		}
	}
	if o.csv {
		o.delimiter, o.null = ',', ""
	}
	single := func(name string, v *string, dst *byte) error {
		if v == nil {
			return nil
		}
		if len(*v) != 1 {
			return sqlerr.New(codeFeatureNotSupported, "COPY %s must be a single one-byte character", name)
		}
		*dst = (*v)[0]
		return nil
	}
	if err := single("delimiter", delim, &o.delimiter); err != nil {
		return o, err
	}
	if null != nil {
		o.null = *null
	}
	if (quote != nil || escape != nil) && !o.csv {
		return o, sqlerr.New(codeFeatureNotSupported, "COPY quote and escape are available only in CSV mode")
	}
	if err := single("quote", quote, &o.quote); err != nil {
		return o, err
	}
	o.escape = o.quote
	if err := single("escape", escape, &o.escape); err != nil {
		return o, err
	}
	if o.delimiter == '\n' || o.delimiter == '\r' || (!o.csv && o.delimiter == '\\') || (o.csv && o.delimiter == o.quote) {
		return o, sqlerr.New(codeInvalidParameterValue, "COPY delimiter %q is not allowed", o.delimiter)
	}
	return o, nil
}

func defElemString(d *pg_query.DefElem) string {
	if d.Arg == nil {
		return ""
	}
	switch a := d.Arg.Node.(type) {
	case *pg_query.Node_String_:
		return a.String_.Sval
	case *pg_query.Node_Integer:
		return strconv.Itoa(int(a.Integer.Ival))
	case *pg_query.Node_Boolean:
		return strconv.FormatBool(a.Boolean.Boolval)
	case *pg_query.Node_AConst:
		if s := a.AConst.GetSval(); s != nil {
			return s.Sval
		}
		if i := a.AConst.GetIval(); i != nil {
			return strconv.Itoa(int(i.Ival))
		}
		if b := a.AConst.GetBoolval(); b != nil {
			return strconv.FormatBool(b.Boolval)
		}
	}
	return ""
}

// quoteIdent quotes a SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// copyTarget returns the quoted table name and column list of COPY table
// [(cols)].
func copyTarget(cs *pg_query.CopyStmt) (table string, cols []string) {
	rv := cs.Relation
	if rv.Schemaname != "" {
		table = quoteIdent(rv.Schemaname) + "."
	}
	table += quoteIdent(rv.Relname)
	for _, n := range cs.Attlist {
		if s := n.GetString_(); s != nil {
			cols = append(cols, s.Sval)
		}
	}
	return table, cols
}

// simpleCopy runs a COPY statement of a simple Query message, including the
// final ReadyForQuery.
func (c *conn) simpleCopy(cs *pg_query.CopyStmt) error {
	var err error
	switch {
	case cs.Filename != "" || cs.IsProgram:
		err = &sqlerr.Error{Code: codeFeatureNotSupported, Message: "COPY to or from a file or program on the server is not supported",
			Hint: "use COPY ... FROM STDIN / TO STDOUT (psql: \\copy)"}
	case cs.WhereClause != nil:
		err = sqlerr.New(codeFeatureNotSupported, "COPY FROM ... WHERE is not supported")
	case cs.IsFrom:
		err = c.copyIn(cs)
	default:
		err = c.copyOut(cs)
	}
	if err != nil {
		if errors.Is(err, ErrProtocol) || isDisconnect(err) {
			return err
		}
		c.be.Send(errorResponse(severityError, err))
	}
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.sess.TxStatus()})
	return c.be.Flush()
}

// copyOut answers COPY ... TO STDOUT: CopyOutResponse, a CopyData per row,
// CopyDone, CommandComplete.
func (c *conn) copyOut(cs *pg_query.CopyStmt) error {
	o, err := parseCopyOptions(cs)
	if err != nil {
		return err
	}
	var query string
	if cs.Query != nil {
		query, err = pg_query.Deparse(&pg_query.ParseResult{Version: parseTreeVersion(), Stmts: []*pg_query.RawStmt{{Stmt: cs.Query}}})
		if err != nil {
			return sqlerr.New(codeSyntaxError, "COPY query: %v", err)
		}
	} else {
		table, cols := copyTarget(cs)
		list := "*"
		if len(cols) > 0 {
			q := make([]string, len(cols))
			for i, col := range cols {
				q[i] = quoteIdent(col)
			}
			list = strings.Join(q, ", ")
		}
		query = "SELECT " + list + " FROM " + table
	}
	results, err := c.run(query, nil)
	defer releaseAll(results)
	if err != nil {
		return err
	}
	if len(results) != 1 || !hasRows(results[0]) {
		return sqlerr.New(codeFeatureNotSupported, "COPY query must return rows")
	}
	r := results[0]
	c.be.Send(&pgproto3.CopyOutResponse{OverallFormat: 0, ColumnFormatCodes: make([]uint16, len(r.Columns))})
	var line []byte
	if o.header {
		for i, col := range r.Columns {
			if i > 0 {
				line = append(line, o.delimiter)
			}
			line = o.appendField(line, []byte(col.Name), false)
		}
		line = append(line, '\n')
		c.be.Send(&pgproto3.CopyData{Data: line})
	}
	var n int64
	var val []byte
	for _, b := range r.Batches {
		for row := 0; row < int(b.NumRows()); row++ {
			line = line[:0]
			for col := 0; col < int(b.NumCols()); col++ {
				if col > 0 {
					line = append(line, o.delimiter)
				}
				var null bool
				val, null = appendValue(val[:0], b.Column(col), row, formatText)
				if null {
					line = append(line, o.null...)
					continue
				}
				line = o.appendField(line, val, true)
			}
			line = append(line, '\n')
			// CopyData copies nothing: Send encodes it into the write
			// buffer before line is reused.
			c.be.Send(&pgproto3.CopyData{Data: line})
			n++
			if n%flushEveryRows == 0 {
				if err := c.be.Flush(); err != nil {
					return err
				}
			}
		}
	}
	c.be.Send(&pgproto3.CopyDone{})
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("COPY " + strconv.FormatInt(n, 10))})
	return nil
}

// appendField appends one non-NULL value in the COPY format: backslash
// escapes in text, quoting where needed in CSV (always when the value
// could be read back as NULL).
func (o copyOptions) appendField(dst, v []byte, data bool) []byte {
	if o.csv {
		needs := len(v) == 0 && data || string(v) == o.null || bytes.IndexByte(v, o.delimiter) >= 0 ||
			bytes.IndexByte(v, o.quote) >= 0 || bytes.IndexAny(v, "\r\n") >= 0
		if !needs {
			return append(dst, v...)
		}
		dst = append(dst, o.quote)
		for _, ch := range v {
			if ch == o.quote || ch == o.escape {
				dst = append(dst, o.escape)
			}
			dst = append(dst, ch)
		}
		return append(dst, o.quote)
	}
	for _, ch := range v {
		switch ch {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if ch == o.delimiter {
				dst = append(dst, '\\')
			}
			dst = append(dst, ch)
		}
	}
	return dst
}

// copyIn runs COPY ... FROM STDIN.
func (c *conn) copyIn(cs *pg_query.CopyStmt) error {
	o, err := parseCopyOptions(cs)
	if err != nil {
		return err
	}
	table, cols := copyTarget(cs)
	// The target's columns and types, as the session sees them (a table
	// created earlier in the same transaction included).
	probe := "SELECT * FROM " + table + " LIMIT 0"
	if len(cols) > 0 {
		q := make([]string, len(cols))
		for i, col := range cols {
			q[i] = quoteIdent(col)
		}
		probe = "SELECT " + strings.Join(q, ", ") + " FROM " + table + " LIMIT 0"
	}
	shape, err := c.run(probe, nil)
	if err != nil {
		releaseAll(shape)
		return err
	}
	columns := shape[0].Columns
	releaseAll(shape)

	ld := &copyLoader{c: c, o: o, table: table, cols: columns, implicit: c.sess.TxStatus() == 'I'}
	if ld.implicit {
		if res, err := c.run("BEGIN", nil); err != nil {
			releaseAll(res)
			return err
		} else {
			releaseAll(res)
		}
	}
	c.be.Send(&pgproto3.CopyInResponse{OverallFormat: 0, ColumnFormatCodes: make([]uint16, len(columns))})
	if err := c.be.Flush(); err != nil {
		return err
	}
	err = ld.receive()
	if err == nil {
		err = ld.flush()
	}
	if err != nil {
		if errors.Is(err, ErrProtocol) || isDisconnect(err) {
			return err
		}
		if ld.implicit {
			res, _ := c.run("ROLLBACK", nil)
			releaseAll(res)
		}
		return err
	}
	if ld.implicit {
		res, err := c.run("COMMIT", nil)
		defer releaseAll(res)
		if err != nil {
			return err
		}
		if len(res) == 1 && res[0].Command != "COMMIT" {
			return sqlerr.New("40001", "COPY transaction was rolled back")
		}
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("COPY " + strconv.FormatInt(ld.rows, 10))})
	return nil
}

// copyLoader splits COPY data into records, decodes them and inserts them
// in batches.
type copyLoader struct {
	c        *conn
	o        copyOptions
	table    string
	cols     []sql.Column
	implicit bool // the COPY opened its own transaction

	buf     []byte // data not yet split into records
	line    int64  // records seen, for error context
	rows    int64  // rows inserted
	pending [][]any
	done    bool // the end-of-data marker \. was read
}

// receive reads CopyData until CopyDone; after an error it keeps reading
// (and discarding) until the client ends the copy, as the protocol wants.
func (ld *copyLoader) receive() error {
	var failure error
	for {
		msg, err := ld.c.be.Receive()
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if failure == nil && !ld.done {
				ld.buf = append(ld.buf, m.Data...)
				failure = ld.records(false)
			}
		case *pgproto3.CopyDone:
			if failure == nil && !ld.done {
				failure = ld.records(true)
			}
			return failure
		case *pgproto3.CopyFail:
			return sqlerr.New(sqlerr.CodeQueryCanceled, "COPY from stdin failed: %s", m.Message)
		case *pgproto3.Flush, *pgproto3.Sync:
			// Ignored during copy-in, per the protocol.
		default:
			return protocolError("unexpected message %T during COPY from stdin", msg)
		}
	}
}

// records consumes the complete records of ld.buf (and, at the end, the
// last one without a newline).
func (ld *copyLoader) records(final bool) error {
	for !ld.done {
		end := ld.recordEnd()
		if end < 0 {
			if !final || len(ld.buf) == 0 {
				return nil
			}
			end = len(ld.buf)
		}
		rec := ld.buf[:end]
		next := min(end+1, len(ld.buf))
		rec = bytes.TrimSuffix(rec, []byte{'\r'})
		ld.line++
		if string(rec) == `\.` {
			ld.done = true
		} else if !(ld.line == 1 && ld.o.header) {
			row, err := ld.decode(rec)
			if err != nil {
				return ld.context(err)
			}
			ld.pending = append(ld.pending, row)
			if len(ld.pending) >= copyBatchRows {
				if err := ld.flush(); err != nil {
					return err
				}
			}
		}
		ld.buf = ld.buf[next:]
	}
	return nil
}

// recordEnd returns the index of the newline ending the first record of
// ld.buf, -1 when it is incomplete. In CSV a newline inside quotes is data;
// in text a newline in data is always escaped (\n), so the first raw one
// ends the record.
func (ld *copyLoader) recordEnd() int {
	if !ld.o.csv {
		return bytes.IndexByte(ld.buf, '\n')
	}
	inQuote := false
	for i := 0; i < len(ld.buf); i++ {
		ch := ld.buf[i]
		switch {
		case inQuote && ch == ld.o.escape && ld.o.escape != ld.o.quote && i+1 < len(ld.buf) &&
			(ld.buf[i+1] == ld.o.quote || ld.buf[i+1] == ld.o.escape):
			i++
		case ch == ld.o.quote:
			inQuote = !inQuote
		case ch == '\n' && !inQuote:
			return i
		}
	}
	return -1
}

// context adds the line number to a COPY error, as PostgreSQL's CONTEXT.
func (ld *copyLoader) context(err error) error {
	e := *sqlerr.Normalize(err)
	where := fmt.Sprintf("COPY %s, line %d", strings.Trim(ld.table, `"`), ld.line)
	if e.Detail == "" {
		e.Detail = where
	} else {
		e.Detail += " (" + where + ")"
	}
	return &e
}

// decode splits a record into fields and converts them to the column types.
func (ld *copyLoader) decode(rec []byte) ([]any, error) {
	var fields []*string
	var err error
	if ld.o.csv {
		fields, err = ld.o.splitCSV(rec)
	} else {
		fields, err = ld.o.splitText(rec)
	}
	if err != nil {
		return nil, err
	}
	if len(fields) != len(ld.cols) {
		if len(fields) < len(ld.cols) {
			return nil, sqlerr.New(codeBadCopyFileFormat, "missing data for column %q", ld.cols[len(fields)].Name)
		}
		return nil, sqlerr.New(codeBadCopyFileFormat, "extra data after last expected column")
	}
	row := make([]any, len(fields))
	for i, f := range fields {
		if f == nil {
			continue
		}
		v, err := decodeParam([]byte(*f), ld.cols[i].Type, formatText, i+1)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", ld.cols[i].Name, err)
		}
		row[i] = v
	}
	return row, nil
}

// splitText splits a text-format record; nil fields are NULL.
func (o copyOptions) splitText(rec []byte) ([]*string, error) {
	var fields []*string
	var cur []byte
	raw := []byte{} // the field as written, to compare with the NULL marker
	end := func() {
		if string(raw) == o.null {
			fields = append(fields, nil)
		} else {
			s := string(cur)
			fields = append(fields, &s)
		}
		cur, raw = cur[:0], raw[:0]
	}
	for i := 0; i < len(rec); i++ {
		ch := rec[i]
		if ch == o.delimiter {
			end()
			continue
		}
		raw = append(raw, ch)
		if ch != '\\' || i+1 >= len(rec) {
			cur = append(cur, ch)
			continue
		}
		i++
		e := rec[i]
		raw = append(raw, e)
		switch e {
		case 'n':
			cur = append(cur, '\n')
		case 'r':
			cur = append(cur, '\r')
		case 't':
			cur = append(cur, '\t')
		case 'b':
			cur = append(cur, '\b')
		case 'f':
			cur = append(cur, '\f')
		case 'v':
			cur = append(cur, '\v')
		case 'x':
			n, v := 0, 0
			for n < 2 && i+1 < len(rec) && isHex(rec[i+1]) {
				i++
				raw = append(raw, rec[i])
				v = v*16 + hexVal(rec[i])
				n++
			}
			if n == 0 {
				cur = append(cur, 'x')
			} else {
				cur = append(cur, byte(v))
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(e - '0')
			for n := 1; n < 3 && i+1 < len(rec) && rec[i+1] >= '0' && rec[i+1] <= '7'; n++ {
				i++
				raw = append(raw, rec[i])
				v = v*8 + int(rec[i]-'0')
			}
			cur = append(cur, byte(v))
		default:
			cur = append(cur, e)
		}
	}
	end()
	return fields, nil
}

// splitCSV splits a CSV record; an unquoted field equal to the NULL string
// is NULL, a quoted one never is.
func (o copyOptions) splitCSV(rec []byte) ([]*string, error) {
	var fields []*string
	var cur []byte
	quoted, inQuote := false, false
	end := func() {
		if !quoted && string(cur) == o.null {
			fields = append(fields, nil)
		} else {
			s := string(cur)
			fields = append(fields, &s)
		}
		cur, quoted = cur[:0], false
	}
	for i := 0; i < len(rec); i++ {
		ch := rec[i]
		switch {
		case inQuote && ch == o.escape && i+1 < len(rec) && (rec[i+1] == o.quote || rec[i+1] == o.escape) &&
			(o.escape != o.quote || rec[i+1] == o.quote):
			i++
			cur = append(cur, rec[i])
		case inQuote && ch == o.quote:
			inQuote = false
		case inQuote:
			cur = append(cur, ch)
		case ch == o.quote:
			inQuote, quoted = true, true
		case ch == o.delimiter:
			end()
		default:
			cur = append(cur, ch)
		}
	}
	if inQuote {
		return nil, sqlerr.New(codeBadCopyFileFormat, "unterminated CSV quoted field")
	}
	end()
	return fields, nil
}

func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

func hexVal(b byte) int {
	switch {
	case b >= '0' && b <= '9':
		return int(b - '0')
	case b >= 'a' && b <= 'f':
		return int(b-'a') + 10
	}
	return int(b-'A') + 10
}

// flush inserts the pending rows with one INSERT through the session.
func (ld *copyLoader) flush() error {
	if len(ld.pending) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO ")
	sb.WriteString(ld.table)
	sb.WriteString(" (")
	for i, col := range ld.cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(quoteIdent(col.Name))
	}
	sb.WriteString(") VALUES ")
	params := make([]any, 0, len(ld.pending)*len(ld.cols))
	for r, row := range ld.pending {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for i, v := range row {
			if i > 0 {
				sb.WriteString(", ")
			}
			params = append(params, v)
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(len(params)))
		}
		sb.WriteByte(')')
	}
	res, err := ld.c.run(sb.String(), params)
	releaseAll(res)
	if err != nil {
		e := *sqlerr.Normalize(err)
		e.Position = 0 // a position in the generated INSERT means nothing to the client
		where := fmt.Sprintf("COPY %s, lines %d-%d", strings.Trim(ld.table, `"`), ld.line-int64(len(ld.pending))+1, ld.line)
		if e.Detail == "" {
			e.Detail = where
		} else {
			e.Detail += " (" + where + ")"
		}
		return &e
	}
	ld.rows += int64(len(ld.pending))
	ld.pending = ld.pending[:0]
	return nil
}
