package pgwire

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// prepared is a parsed statement of the extended protocol.
type prepared struct {
	query string
	// paramOIDs are reported in ParameterDescription: the client's
	// declaration where it made one, else the described type.
	paramOIDs []uint32
	// paramTypes are the engine types Bind reads parameters as.
	paramTypes []string
	// cols are the result columns; nil when the statement returns no rows
	// (or cannot be described).
	cols []sql.Column
}

// portal is a bound statement, run on its first Execute and then read in
// chunks of Execute's row limit.
type portal struct {
	stmt    *prepared
	params  []any
	formats []int16 // result format codes as Bind sent them
	ran     bool
	res     *sql.Result // nil before the run and for statements without result
	cur     *cursor
	done    bool
}

// cursor walks the rows of a result.
type cursor struct {
	res   *sql.Result
	batch int // index into res.Batches
	row   int // next row within the batch
	sent  int64
}

// more reports whether rows remain.
func (cur *cursor) more() bool {
	for cur.batch < len(cur.res.Batches) {
		if int64(cur.row) < cur.res.Batches[cur.batch].NumRows() {
			return true
		}
		cur.batch, cur.row = cur.batch+1, 0
	}
	return false
}

// sendRows sends up to limit rows (0: all) of cur as DataRows and reports
// whether rows remain.
func (c *conn) sendRows(cur *cursor, formats []int16, limit int64) (bool, error) {
	buf := make([]byte, 0, 256) // never nil: a nil value is NULL, an empty one ""
	var n int64
	for cur.more() {
		if limit > 0 && n == limit {
			return true, nil
		}
		b := cur.res.Batches[cur.batch]
		cols := b.Columns()
		buf = buf[:0]
		ends := make([]int, len(cols))
		nulls := make([]bool, len(cols))
		for j, col := range cols {
			buf, nulls[j] = appendValue(buf, col, cur.row, formatAt(formats, j))
			ends[j] = len(buf)
		}
		row := &pgproto3.DataRow{Values: make([][]byte, len(cols))}
		start := 0
		for j := range cols {
			if !nulls[j] {
				row.Values[j] = buf[start:ends[j]:ends[j]]
			}
			start = ends[j]
		}
		c.be.Send(row)
		cur.row++
		cur.sent++
		n++
		if n%flushEveryRows == 0 {
			if err := c.be.Flush(); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}

// parse handles Parse: the statement is described (typed) now, so errors
// in it are reported here, as PostgreSQL does.
func (c *conn) parse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, ok := c.stmts[m.Name]; ok {
			return sqlerr.New(codeDuplicatePreparedStmt, "prepared statement %q already exists", m.Name)
		}
	}
	known := make([]string, len(m.ParameterOIDs))
	for i, oid := range m.ParameterOIDs {
		name, ok := typeNameOfOID(oid)
		if !ok {
			return sqlerr.NotSupported("parameter type with OID " + strconv.FormatUint(uint64(oid), 10)).
				WithHint("supported types: boolean, smallint, integer, bigint, real, double precision, text, varchar")
		}
		known[i] = name
	}
	p := &prepared{query: m.Query}
	desc, err := c.describeQuery(m.Query, known)
	if err != nil {
		return err
	}
	n := max(len(desc.Params), len(known))
	p.paramOIDs = make([]uint32, n)
	p.paramTypes = make([]string, n)
	for i := range n {
		if i < len(known) && known[i] != "" {
			p.paramOIDs[i], p.paramTypes[i] = m.ParameterOIDs[i], known[i]
			continue
		}
		typ := "text"
		if i < len(desc.Params) {
			typ = desc.Params[i]
		}
		p.paramOIDs[i], p.paramTypes[i] = oidOf(typ), typ
	}
	p.cols = desc.Columns
	c.stmts[m.Name] = p
	c.be.Send(&pgproto3.ParseComplete{})
	return nil
}

// describeQuery asks the session to describe query; a session that cannot
// gets text parameters and no result description.
func (c *conn) describeQuery(query string, known []string) (*sql.Description, error) {
	d, ok := c.sess.(Describer)
	if !ok {
		return &sql.Description{}, nil
	}
	ctx, cancel := context.WithCancel(c.srv.ctx)
	defer cancel()
	return d.Describe(ctx, query, known)
}

// bind handles Bind: it decodes the parameters and creates the portal.
func (c *conn) bind(m *pgproto3.Bind) error {
	p, ok := c.stmts[m.PreparedStatement]
	if !ok {
		return sqlerr.New(codeInvalidSQLStatementNam, "prepared statement %q does not exist", m.PreparedStatement)
	}
	if m.DestinationPortal != "" {
		if _, ok := c.portals[m.DestinationPortal]; ok {
			return sqlerr.New(codeDuplicateCursor, "cursor %q already exists", m.DestinationPortal)
		}
	}
	if len(m.Parameters) != len(p.paramTypes) {
		return protocolError("bind message supplies %d parameters, but prepared statement %q requires %d",
			len(m.Parameters), m.PreparedStatement, len(p.paramTypes))
	}
	if n := len(m.ParameterFormatCodes); n > 1 && n != len(m.Parameters) {
		return protocolError("bind message has %d parameter formats but %d parameters", n, len(m.Parameters))
	}
	for _, f := range m.ResultFormatCodes {
		if f != formatText && f != formatBinary {
			return sqlerr.New(codeInvalidParameterValue, "unsupported format code: %d", f)
		}
	}
	if n := len(m.ResultFormatCodes); n > 1 && n != len(p.cols) {
		return protocolError("bind message has %d result formats but query has %d columns", n, len(p.cols))
	}
	params := make([]any, len(m.Parameters))
	for i, raw := range m.Parameters {
		v, err := decodeParam(raw, p.paramTypes[i], formatAt(m.ParameterFormatCodes, i), i+1)
		if err != nil {
			return err
		}
		params[i] = v
	}
	if old := c.portals[m.DestinationPortal]; old != nil {
		old.release()
	}
	c.portals[m.DestinationPortal] = &portal{stmt: p, params: params, formats: append([]int16(nil), m.ResultFormatCodes...)}
	c.be.Send(&pgproto3.BindComplete{})
	return nil
}

// describe handles Describe of a statement or a portal.
func (c *conn) describe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		p, ok := c.stmts[m.Name]
		if !ok {
			return sqlerr.New(codeInvalidSQLStatementNam, "prepared statement %q does not exist", m.Name)
		}
		c.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: p.paramOIDs})
		c.sendRowShape(p.cols, nil)
	case 'P':
		pt, ok := c.portals[m.Name]
		if !ok {
			return sqlerr.New(codeInvalidCursorName, "portal %q does not exist", m.Name)
		}
		c.sendRowShape(pt.stmt.cols, pt.formats)
	default:
		return protocolError("invalid DESCRIBE message subtype %d", m.ObjectType)
	}
	return nil
}

func (c *conn) sendRowShape(cols []sql.Column, formats []int16) {
	if cols == nil {
		c.be.Send(&pgproto3.NoData{})
		return
	}
	c.be.Send(rowDescription(cols, formats))
}

// execute handles Execute: the portal runs on its first Execute; rows are
// sent up to MaxRows, with PortalSuspended when more remain.
func (c *conn) execute(m *pgproto3.Execute) error {
	pt, ok := c.portals[m.Portal]
	if !ok {
		return sqlerr.New(codeInvalidCursorName, "portal %q does not exist", m.Portal)
	}
	if !pt.ran {
		pt.ran = true
		results, err := c.run(pt.stmt.query, pt.params)
		if err != nil {
			releaseAll(results)
			return err
		}
		switch len(results) {
		case 0:
			c.be.Send(&pgproto3.EmptyQueryResponse{})
			pt.done = true
			return nil
		case 1:
		default:
			releaseAll(results[1:])
		}
		pt.res = results[0]
		pt.cur = &cursor{res: pt.res}
	}
	if pt.res == nil {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	if !hasRows(pt.res) {
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(pt.res.Command)})
		return nil
	}
	if pt.done {
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 0")})
		return nil
	}
	before := pt.cur.sent
	more, err := c.sendRows(pt.cur, pt.formats, int64(m.MaxRows))
	if err != nil {
		return err
	}
	if more {
		c.be.Send(&pgproto3.PortalSuspended{})
		return nil
	}
	pt.done = true
	tag := pt.res.Command
	if strings.HasPrefix(tag, "SELECT") {
		tag = "SELECT " + strconv.FormatInt(pt.cur.sent-before, 10)
	}
	pt.res.Release()
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

// closeObject handles Close of a statement or portal; closing one that
// does not exist is not an error.
func (c *conn) closeObject(m *pgproto3.Close) error {
	switch m.ObjectType {
	case 'S':
		delete(c.stmts, m.Name)
	case 'P':
		if pt := c.portals[m.Name]; pt != nil {
			pt.release()
			delete(c.portals, m.Name)
		}
	default:
		return protocolError("invalid CLOSE message subtype %d", m.ObjectType)
	}
	c.be.Send(&pgproto3.CloseComplete{})
	return nil
}

// closePortals releases every portal.
func (c *conn) closePortals() {
	for name, pt := range c.portals {
		pt.release()
		delete(c.portals, name)
	}
}

func (pt *portal) release() {
	if pt.res != nil {
		pt.res.Release()
	}
}
