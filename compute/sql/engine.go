// Package sql is the SQL engine of a compute node: Execute takes a query
// string, runs each of its statements through parse -> bind -> exec (the
// subpackages, in that order) on top of storage.KV, and returns results as
// Arrow record batches.
//
// Transactions: every statement is its own transaction (autocommit). A
// statement takes a fresh snapshot with Begin, reads the catalog and data at
// that snapshot, buffers its writes and commits them at the end; a write
// conflict answers SQLSTATE 40001.
package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/bind"
	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/exec"
	"github.com/phantom-db/phantom/compute/sql/parse"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
)

// ErrNoKV is returned by New when Config.KV is nil.
var ErrNoKV = errors.New("sql: Config.KV is required")

// DefaultMaxResultRows is the default of Config.MaxResultRows.
const DefaultMaxResultRows = 1_000_000

// Config configures an Engine.
type Config struct {
	// KV is the transactional store the engine runs on. Required.
	KV storage.KV
	// DatabaseID is the database all statements run in. Default 0.
	DatabaseID uint64
	// Allocator allocates every Arrow buffer of the engine.
	// Default memory.DefaultAllocator.
	Allocator memory.Allocator
	// Logger receives statement-level debug logs. Default: discard.
	Logger *slog.Logger
	// MaxResultRows caps the rows one statement may return; exceeding it
	// answers 54000. Default 1,000,000.
	MaxResultRows int
	// BatchRows is the target rows per Arrow batch inside the executor.
	// Default 1024.
	BatchRows int
}

// EnsureDefaults fills in zero fields.
func (c *Config) EnsureDefaults() {
	if c.Allocator == nil {
		c.Allocator = memory.DefaultAllocator
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.MaxResultRows == 0 {
		c.MaxResultRows = DefaultMaxResultRows
	}
	if c.BatchRows == 0 {
		c.BatchRows = 1024
	}
}

// Validate reports invalid settings.
func (c *Config) Validate() error {
	switch {
	case c.KV == nil:
		return ErrNoKV
	case c.MaxResultRows < 0:
		return fmt.Errorf("sql: MaxResultRows %d must be positive", c.MaxResultRows)
	case c.BatchRows < 0:
		return fmt.Errorf("sql: BatchRows %d must be positive", c.BatchRows)
	}
	return nil
}

// Engine executes SQL against one database. It is safe for concurrent use;
// it keeps no state between calls.
type Engine struct {
	cfg Config
}

// New returns an Engine.
func New(cfg Config) (*Engine, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg}, nil
}

// Column describes a result column.
type Column struct {
	// Name is the column's output name.
	Name string
	// Type is the PostgreSQL type name: bool, int4, int8, float8 or text.
	Type string
}

// Result is the outcome of one statement.
type Result struct {
	// Columns of the result rows; nil for statements without rows.
	Columns []Column
	// Batches hold the result rows (nil for DDL and DML without RETURNING).
	// The Result owns them; Release frees them.
	Batches []arrow.RecordBatch
	// Command is the PostgreSQL command tag, e.g. "SELECT 2", "INSERT 0 3".
	Command string
	// RowCount is the number of rows returned or affected.
	RowCount int64
}

// Release releases the result's batches.
func (r *Result) Release() {
	for _, b := range r.Batches {
		b.Release()
	}
	r.Batches = nil
}

// Execute runs the statements of query in order, each in its own
// transaction. params hold $1..$n (decoded JSON values: string, float64,
// bool, nil, json.Number). On an error it returns the results of the
// statements that succeeded and the error (an *sqlerr.Error, see
// sqlerr.Code); nothing of the failed statement was committed.
func (e *Engine) Execute(ctx context.Context, query string, params []any) ([]*Result, error) {
	stmts, err := parse.Parse(query)
	if err != nil {
		return nil, err
	}
	var results []*Result
	for _, st := range stmts {
		res, err := e.runStatement(ctx, query, st, params)
		if err != nil {
			e.cfg.Logger.Debug("statement failed", "stmt", st.Text, "code", sqlerr.Code(err), "err", err)
			return results, sqlerr.Normalize(err)
		}
		results = append(results, res)
	}
	return results, nil
}

func (e *Engine) runStatement(ctx context.Context, query string, st parse.Statement, params []any) (res *Result, err error) {
	defer func() {
		// The engine must answer malformed input with an error, never crash
		// the server; a panic here is a bug reported as XX000.
		if r := recover(); r != nil {
			e.cfg.Logger.Error("panic executing statement", "stmt", st.Text, "panic", r)
			res, err = nil, sqlerr.New(sqlerr.CodeInternalError, "internal error: %v", r)
		}
	}()
	snap, err := e.cfg.KV.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("sql: begin: %w", err)
	}
	env := &exec.Env{KV: e.cfg.KV, Snap: snap, DB: e.cfg.DatabaseID, Mem: e.cfg.Allocator, BatchRows: e.cfg.BatchRows}
	cat := &catalog.Reader{KV: e.cfg.KV, Snap: snap, DB: e.cfg.DatabaseID}
	bound, err := bind.New(ctx, cat, query, params).Bind(st.AST)
	if err != nil {
		return nil, err
	}
	switch p := bound.(type) {
	case *plan.Query:
		return e.query(ctx, env, p)
	case *plan.Insert:
		muts, n, err := exec.Insert(ctx, env, p)
		if err != nil {
			return nil, err
		}
		if err := e.commit(ctx, snap, muts); err != nil {
			return nil, err
		}
		return &Result{Command: "INSERT 0 " + strconv.FormatInt(n, 10), RowCount: n}, nil
	case *plan.CreateTable:
		muts, err := exec.CreateTable(ctx, env, p)
		if err != nil {
			return nil, err
		}
		if err := e.commit(ctx, snap, muts); err != nil {
			return nil, err
		}
		return &Result{Command: "CREATE TABLE"}, nil
	case *plan.DropTable:
		if err := e.commit(ctx, snap, exec.DropTable(env, p)); err != nil {
			return nil, err
		}
		return &Result{Command: "DROP TABLE"}, nil
	}
	return nil, fmt.Errorf("sql: unexpected plan %T", bound)
}

func (e *Engine) commit(ctx context.Context, snap storage.Snapshot, muts []storage.Mutation) error {
	if len(muts) == 0 {
		return nil
	}
	if _, err := e.cfg.KV.Commit(ctx, snap, muts); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return &sqlerr.Error{Code: sqlerr.CodeSerializationFailure,
				Message: "could not serialize access due to concurrent update",
				Hint:    "retry the statement"}
		}
		return fmt.Errorf("sql: commit: %w", err)
	}
	return nil
}

func (e *Engine) query(ctx context.Context, env *exec.Env, q *plan.Query) (*Result, error) {
	op, err := exec.Build(env, q.Root)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, c := range q.Root.Columns() {
		res.Columns = append(res.Columns, Column{Name: c.Name, Type: c.T.String()})
	}
	err = exec.Drain(ctx, op, func(b arrow.RecordBatch) error {
		res.RowCount += b.NumRows()
		if res.RowCount > int64(e.cfg.MaxResultRows) {
			return sqlerr.New(sqlerr.CodeProgramLimitExceeded, "result exceeds the limit of %d rows", e.cfg.MaxResultRows).
				WithHint("add a LIMIT or a more selective WHERE clause")
		}
		b.Retain()
		res.Batches = append(res.Batches, b)
		return nil
	})
	if err != nil {
		res.Release()
		return nil, err
	}
	res.Command = "SELECT " + strconv.FormatInt(res.RowCount, 10)
	return res, nil
}
