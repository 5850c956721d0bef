// Package sql is the SQL engine of a compute node: Execute takes a query
// string, runs each of its statements through parse -> bind -> exec (the
// subpackages, in that order) on top of storage.KV, and returns results as
// Arrow record batches.
//
// Transactions: a Session runs statements either in their own implicit
// transaction or inside a BEGIN ... COMMIT block, at READ COMMITTED,
// REPEATABLE READ (snapshot isolation) or SERIALIZABLE (snapshot isolation
// plus read-range validation at commit). Writes are buffered in the
// transaction, visible to its later statements, and sent in one KV.Commit;
// a conflict answers SQLSTATE 40001. See DESIGN.md.
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
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phantom-db/phantom/compute/sql/exec"
	"github.com/phantom-db/phantom/compute/sql/plan"
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
	// SpillBytes is the buffered write size above which COMMIT commits the
	// rows of tables the transaction created or truncated ahead of its own
	// commit, in chunks of SpillBytes/4 (spill.go). Default 32 MiB.
	SpillBytes int
	// MaxQueryMemory bounds the Arrow buffers one statement holds at once
	// (exec.MemoryBudget); more answer 53200. Default 1 GiB; negative:
	// unlimited.
	MaxQueryMemory int64
	// ScanCacheBytes bounds the engine's scan cache (exec.ScanCache): the
	// decoded columns of tables scanned whole, shared by every session and
	// reused while the table is unchanged (needs a KV implementing
	// storage.TableVersioner). Default 1 GiB; negative: no cache.
	ScanCacheBytes int64
	// Registerer, when set, receives the engine's Prometheus metrics (the
	// scan cache's).
	Registerer prometheus.Registerer
	// QueryParallelism is the number of workers an aggregate over a large
	// input runs on (exec.Env.Parallelism). Default 0: GOMAXPROCS; 1 runs
	// every statement on its own goroutine.
	QueryParallelism int
}

// DefaultMaxQueryMemory is Config.MaxQueryMemory's default.
const DefaultMaxQueryMemory = 1 << 30

// DefaultScanCacheBytes is Config.ScanCacheBytes's default.
const DefaultScanCacheBytes = 1 << 30

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
	if c.SpillBytes == 0 {
		c.SpillBytes = 32 << 20
	}
	if c.MaxQueryMemory == 0 {
		c.MaxQueryMemory = DefaultMaxQueryMemory
	}
	if c.ScanCacheBytes == 0 {
		c.ScanCacheBytes = DefaultScanCacheBytes
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
	case c.QueryParallelism < 0:
		return fmt.Errorf("sql: QueryParallelism %d must not be negative", c.QueryParallelism)
	}
	return nil
}

// Engine executes SQL against one database. It is safe for concurrent use;
// between calls it keeps only caches: sequence ranges and decoded table
// columns (each validated before use).
type Engine struct {
	cfg   Config
	seqs  seqCache        // sequence ranges reserved by this engine (sequence.go)
	cache *exec.ScanCache // nil: disabled
}

// New returns an Engine.
func New(cfg Config) (*Engine, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cache, err := exec.NewScanCache(exec.ScanCacheConfig{MaxBytes: cfg.ScanCacheBytes,
		Logger: cfg.Logger, Registerer: cfg.Registerer})
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, cache: cache}, nil
}

// ScanCache returns the engine's scan cache (nil when disabled).
func (e *Engine) ScanCache() *exec.ScanCache { return e.cache }

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

// Execute runs the statements of query in a fresh session: each in its own
// transaction unless the query opens a block (BEGIN ... COMMIT), which is
// rolled back if the query leaves it open. params hold $1..$n (decoded JSON
// values: string, float64, bool, nil, json.Number). On an error it returns
// the results of the statements that succeeded and the error (an
// *sqlerr.Error, see sqlerr.Code); nothing of the failed statement was
// committed.
func (e *Engine) Execute(ctx context.Context, query string, params []any) ([]*Result, error) {
	s := e.NewSession()
	defer s.Close()
	return s.Execute(ctx, query, params)
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
			return errTooManyRows(e.cfg.MaxResultRows)
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
