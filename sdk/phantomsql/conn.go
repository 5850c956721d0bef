package phantomsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/phantom-db/phantom/sdk/phantom"
)

// ErrTxRolledBack is returned by Commit when the server rolled the
// transaction back instead (an earlier statement of it failed).
var ErrTxRolledBack = errors.New("phantomsql: transaction was rolled back")

// closeTimeout bounds the DELETE of a session when a connection closes.
const closeTimeout = 5 * time.Second

// conn is one driver connection: one server session. database/sql uses a
// conn from one goroutine at a time.
type conn struct {
	client *phantom.Client
	sess   *phantom.Session
	inTx   bool
	// stray is set while a transaction opened by a plain "BEGIN" statement
	// (not BeginTx) is open; ResetSession rolls it back before reuse.
	stray bool
	// bad is set once the session's state is unknown or gone; database/sql
	// then discards the connection.
	bad atomic.Bool
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
)

// run sends one query in the session, translating failures: a session the
// server no longer has (08003) outside a transaction is driver.ErrBadConn,
// so database/sql retries on a fresh connection (nothing ran). Any failure
// that leaves the session's state unknown (a transport error, a cancelled
// request, 08007) marks the connection bad.
func (c *conn) run(ctx context.Context, query string, named []driver.NamedValue) (*phantom.Result, error) {
	if c.bad.Load() {
		return nil, driver.ErrBadConn
	}
	args := make([]any, len(named))
	for i, nv := range named {
		if nv.Name != "" {
			return nil, fmt.Errorf("phantomsql: named argument %q: use $%d placeholders", nv.Name, nv.Ordinal)
		}
		args[i] = nv.Value
	}
	res, err := c.sess.Query(ctx, query, args...)
	if err == nil {
		switch res.Command {
		case "BEGIN", "START TRANSACTION":
			c.stray = !c.inTx
		case "COMMIT", "ROLLBACK":
			c.stray = false
		}
		return res, nil
	}
	var perr *phantom.Error
	switch {
	case errors.Is(err, phantom.ErrInvalidArg):
		return nil, err
	case !errors.As(err, &perr):
		c.bad.Store(true) // the request may or may not have run
		return nil, err
	case perr.Code == "08003":
		c.bad.Store(true)
		if !c.inTx {
			return nil, driver.ErrBadConn
		}
		return nil, err
	case perr.Code == "08007":
		c.bad.Store(true)
	}
	return nil, err
}

// Prepare keeps the SQL text; see PrepareContext.
func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext returns a client-side prepared statement: nothing is sent
// until it runs, and NumInput is -1 (the server checks the arguments).
func (c *conn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	if c.bad.Load() {
		return nil, driver.ErrBadConn
	}
	return &stmt{c: c, query: query}, nil
}

// Close closes the server session, rolling back an open transaction.
func (c *conn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := c.sess.Close(ctx); err != nil {
		return fmt.Errorf("phantomsql: close session: %w", err)
	}
	return nil
}

// Begin starts a transaction with the default isolation.
func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx sends BEGIN [ISOLATION LEVEL ...] [READ ONLY].
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.inTx {
		return nil, errors.New("phantomsql: a transaction is already open on this connection")
	}
	q := "BEGIN"
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadUncommitted:
		q += " ISOLATION LEVEL READ UNCOMMITTED"
	case sql.LevelReadCommitted:
		q += " ISOLATION LEVEL READ COMMITTED"
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		q += " ISOLATION LEVEL REPEATABLE READ"
	case sql.LevelSerializable:
		q += " ISOLATION LEVEL SERIALIZABLE"
	default:
		return nil, fmt.Errorf("phantomsql: isolation level %v is not supported", sql.IsolationLevel(opts.Isolation))
	}
	if opts.ReadOnly {
		q += " READ ONLY"
	}
	if _, err := c.run(ctx, q, nil); err != nil {
		return nil, err
	}
	c.inTx = true
	return &tx{c: c}, nil
}

// ExecContext runs query for its effect.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.run(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return result{rows: res.RowCount}, nil
}

// QueryContext runs query and returns its rows.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	res, err := c.run(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return &rows{res: res}, nil
}

// Ping runs SELECT 1 in the session; a dropped session is ErrBadConn.
func (c *conn) Ping(ctx context.Context) error {
	_, err := c.run(ctx, "SELECT 1", nil)
	return err
}

// ResetSession refuses a connection whose session is gone or unknown, and
// rolls back a transaction a plain BEGIN statement left open.
func (c *conn) ResetSession(ctx context.Context) error {
	if c.bad.Load() {
		return driver.ErrBadConn
	}
	if c.stray {
		if _, err := c.run(ctx, "ROLLBACK", nil); err != nil {
			c.bad.Store(true)
			return driver.ErrBadConn
		}
	}
	return nil
}

// IsValid reports whether the connection may go back to the pool.
func (c *conn) IsValid() bool { return !c.bad.Load() }

// tx is an open transaction of a conn.
type tx struct{ c *conn }

// Commit sends COMMIT; ErrTxRolledBack when the server rolled back instead.
func (t *tx) Commit() error {
	res, err := t.c.run(context.Background(), "COMMIT", nil)
	t.c.inTx = false
	if err != nil {
		return err
	}
	if res.Command != "COMMIT" {
		return ErrTxRolledBack
	}
	return nil
}

// Rollback sends ROLLBACK.
func (t *tx) Rollback() error {
	_, err := t.c.run(context.Background(), "ROLLBACK", nil)
	t.c.inTx = false
	return err
}

// stmt is a client-side prepared statement.
type stmt struct {
	c     *conn
	query string
}

var (
	_ driver.StmtExecContext  = (*stmt)(nil)
	_ driver.StmtQueryContext = (*stmt)(nil)
)

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return -1 }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

// ExecContext runs the statement for its effect.
func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}

// QueryContext runs the statement and returns its rows.
func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

func named(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return nv
}

// result is an Exec's outcome.
type result struct{ rows int64 }

// LastInsertId is not supported: use INSERT ... RETURNING.
func (r result) LastInsertId() (int64, error) {
	return 0, errors.New("phantomsql: LastInsertId is not supported; use RETURNING")
}

// RowsAffected answers the statement's row count.
func (r result) RowsAffected() (int64, error) { return r.rows, nil }

// rows iterates a buffered result.
type rows struct {
	res *phantom.Result
	i   int
}

var (
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
)

func (r *rows) Columns() []string {
	names := make([]string, len(r.res.Columns))
	for i, c := range r.res.Columns {
		names[i] = c.Name
	}
	return names
}

func (r *rows) Close() error { return nil }

func (r *rows) Next(dest []driver.Value) error {
	if r.i >= len(r.res.Rows) {
		return io.EOF
	}
	for j, v := range r.res.Rows[r.i] {
		dest[j] = v
	}
	r.i++
	return nil
}

// ColumnTypeDatabaseTypeName answers the PostgreSQL type name in upper
// case: BOOL, INT4, INT8, FLOAT8, TEXT.
func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	return strings.ToUpper(r.res.Columns[i].Type)
}

var (
	typeInt64   = reflect.TypeFor[int64]()
	typeFloat64 = reflect.TypeFor[float64]()
	typeBool    = reflect.TypeFor[bool]()
	typeString  = reflect.TypeFor[string]()
	typeAny     = reflect.TypeFor[any]()
)

// ColumnTypeScanType answers the Go type values of column i scan into.
func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	switch r.res.Columns[i].Type {
	case "int2", "int4", "int8":
		return typeInt64
	case "float4", "float8":
		return typeFloat64
	case "bool":
		return typeBool
	case "text", "varchar":
		return typeString
	}
	return typeAny
}
