package sql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/bind"
	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/exec"
	"github.com/phantom-db/phantom/compute/sql/parse"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
)

// Transaction status bytes, as in PostgreSQL's ReadyForQuery message.
const (
	// TxIdle: no transaction block is open.
	TxIdle byte = 'I'
	// TxInBlock: a transaction block is open.
	TxInBlock byte = 'T'
	// TxFailed: the open transaction block failed; only ROLLBACK (or
	// COMMIT, which rolls back) is accepted.
	TxFailed byte = 'E'
)

// Session is one client's connection state: settings and the open
// transaction block. Statements outside a block run in their own implicit
// transaction. A Session is not safe for concurrent use.
type Session struct {
	e        *Engine
	settings map[string]string // SET values; defaults come from settingDefaults
	tx       *txn              // the open transaction block, nil when idle
	// readsOnly makes every transaction read-only whatever SET or BEGIN
	// ask for (a read-only API key); see RestrictToReads.
	readsOnly bool
	// lastCommitTS is the commit timestamp of the session's last committed
	// read-write transaction; 0 before the first (phantom.last_commit_ts).
	lastCommitTS uint64
	// seqVals holds the last nextval of each sequence (currval).
	seqVals map[string]int64
}

// txn is a transaction: the explicit block of a session, or the implicit
// transaction of one statement.
type txn struct {
	iso      Isolation
	readOnly bool
	failed   bool
	// started is set once a statement took a snapshot; isolation can no
	// longer change.
	started bool
	// snap is the transaction's snapshot (REPEATABLE READ, SERIALIZABLE) or
	// that of the latest statement (READ COMMITTED).
	snap storage.Snapshot
	// writeSnap is the snapshot of the first statement that wrote; a READ
	// COMMITTED commit validates its writes against it.
	writeSnap storage.Snapshot
	wrote     bool
	buf       writeBuffer
	reads     []storage.KeyRange // SERIALIZABLE only
	// db is the database (or branch timeline) id the transaction writes.
	db uint64
	// pins are key ranges sent as read ranges at every isolation: schema
	// of written tables, rows a backfill or foreign-key check relied on.
	pins []storage.KeyRange
}

// NewSession returns a session with default settings and no open
// transaction.
func (e *Engine) NewSession() *Session { return &Session{e: e} }

// RestrictToReads makes the session read-only for good: every later write
// or DDL answers 25006, and no SET or BEGIN READ WRITE lifts it. Compute
// calls it for sessions of read-only credentials.
func (s *Session) RestrictToReads() { s.readsOnly = true }

// Close ends the session, rolling back an open transaction block.
func (s *Session) Close() { s.tx = nil }

// TxStatus returns TxIdle, TxInBlock or TxFailed.
func (s *Session) TxStatus() byte {
	switch {
	case s.tx == nil:
		return TxIdle
	case s.tx.failed:
		return TxFailed
	}
	return TxInBlock
}

// Execute runs the statements of query in order, with the contract of
// Engine.Execute; statements outside a transaction block each run in their
// own transaction, those inside one share it. After an error the remaining
// statements are skipped; inside a block the block is then failed.
func (s *Session) Execute(ctx context.Context, query string, params []any) ([]*Result, error) {
	stmts, err := parse.Parse(query)
	if err != nil {
		if s.tx != nil {
			s.tx.failed = true
		}
		return nil, err
	}
	var results []*Result
	for _, st := range stmts {
		res, err := s.runStatement(ctx, query, st, params)
		if err != nil {
			s.e.cfg.Logger.Debug("statement failed", "stmt", st.Text, "code", sqlerr.Code(err), "err", err)
			return results, sqlerr.Normalize(mapSnapshotTooOld(err))
		}
		results = append(results, res)
	}
	return results, nil
}

func (s *Session) runStatement(ctx context.Context, query string, st parse.Statement, params []any) (res *Result, err error) {
	defer func() {
		// The engine must answer malformed input with an error, never crash
		// the server; a panic here is a bug reported as XX000.
		if r := recover(); r != nil {
			s.e.cfg.Logger.Error("panic executing statement", "stmt", st.Text, "panic", r)
			res, err = nil, sqlerr.New(sqlerr.CodeInternalError, "internal error: %v", r)
		}
		if err != nil && s.tx != nil {
			s.tx.failed = true
		}
	}()
	if ts, ok := st.AST.Node.(*pg_query.Node_TransactionStmt); ok {
		return s.transaction(ctx, ts.TransactionStmt)
	}
	if s.tx != nil && s.tx.failed {
		return nil, sqlerr.New(sqlerr.CodeInFailedTransaction,
			"current transaction is aborted, commands ignored until end of transaction block")
	}
	switch n := st.AST.Node.(type) {
	case *pg_query.Node_VariableSetStmt:
		return s.set(n.VariableSetStmt)
	case *pg_query.Node_VariableShowStmt:
		return s.show(n.VariableShowStmt)
	}
	if v, ok := st.AST.Node.(*pg_query.Node_VacuumStmt); ok && v.VacuumStmt.IsVacuumcmd && s.tx != nil {
		return nil, sqlerr.New(sqlerr.CodeActiveSQLTransaction, "VACUUM cannot run inside a transaction block")
	}
	tx := s.tx
	if tx == nil {
		tx = s.newTxn()
	}
	res, err = s.execIn(ctx, tx, query, st, params)
	if err != nil || tx == s.tx {
		return res, err
	}
	if err := s.commit(ctx, tx); err != nil {
		res.Release()
		return nil, err
	}
	return res, nil
}

// newTxn starts a transaction with the session's defaults.
func (s *Session) newTxn() *txn {
	iso, _ := ParseIsolation(s.setting("default_transaction_isolation"))
	return &txn{iso: iso, readOnly: s.setting("default_transaction_read_only") == "on"}
}

// transaction runs BEGIN, COMMIT, ROLLBACK and their synonyms.
func (s *Session) transaction(ctx context.Context, ts *pg_query.TransactionStmt) (*Result, error) {
	switch ts.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN, pg_query.TransactionStmtKind_TRANS_STMT_START:
		if s.tx != nil {
			if s.tx.failed {
				return nil, sqlerr.New(sqlerr.CodeInFailedTransaction,
					"current transaction is aborted, commands ignored until end of transaction block")
			}
			// PostgreSQL warns "there is already a transaction in progress"
			// and carries on.
			return &Result{Command: "BEGIN"}, nil
		}
		tx := s.newTxn()
		if err := applyTxnOptions(tx, ts.Options); err != nil {
			return nil, err
		}
		s.tx = tx
		return &Result{Command: "BEGIN"}, nil
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		tx := s.tx
		s.tx = nil
		switch {
		case tx == nil: // PostgreSQL warns "there is no transaction in progress"
			return &Result{Command: "COMMIT"}, nil
		case tx.failed:
			return &Result{Command: "ROLLBACK"}, nil
		}
		if err := s.commit(ctx, tx); err != nil {
			return nil, err
		}
		return &Result{Command: "COMMIT"}, nil
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		s.tx = nil
		return &Result{Command: "ROLLBACK"}, nil
	}
	if s.tx != nil && s.tx.failed {
		return nil, sqlerr.New(sqlerr.CodeInFailedTransaction,
			"current transaction is aborted, commands ignored until end of transaction block")
	}
	return nil, sqlerr.NotSupported("transaction statement " + trimKind(ts.Kind.String()))
}

// applyTxnOptions applies BEGIN / SET TRANSACTION options to tx.
func applyTxnOptions(tx *txn, opts []*pg_query.Node) error {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil {
			continue
		}
		switch d.Defname {
		case "transaction_isolation":
			iso, err := ParseIsolation(constText(d.Arg))
			if err != nil {
				return err
			}
			tx.iso = iso
		case "transaction_read_only":
			tx.readOnly = constText(d.Arg) == "1" || constText(d.Arg) == "on" || constText(d.Arg) == "true"
		case "transaction_deferrable":
			// Only meaningful for SERIALIZABLE READ ONLY, which never waits here.
		default:
			return sqlerr.NotSupported("transaction option " + d.Defname)
		}
	}
	return nil
}

// execIn binds and runs one statement inside tx, buffering its writes.
func (s *Session) execIn(ctx context.Context, tx *txn, query string, st parse.Statement, params []any) (*Result, error) {
	e := s.e
	if !tx.started || tx.iso == ReadCommitted {
		snap, err := s.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		tx.snap, tx.started = snap, true
	}
	budget := exec.NewMemoryBudget(e.cfg.Allocator, max(e.cfg.MaxQueryMemory, 0))
	view := &txnView{kv: e.cfg.KV, buf: &tx.buf, mem: budget}
	if tx.iso == Serializable {
		view.reads = &tx.reads
	}
	db, err := s.databaseID(ctx, tx.snap)
	if err != nil {
		return nil, err
	}
	tx.db = db
	env := &exec.Env{KV: view, Snap: tx.snap, DB: db, Mem: budget, Budget: budget, BatchRows: e.cfg.BatchRows,
		ExactReads: tx.iso == Serializable, Cache: e.cache, Parallelism: e.cfg.QueryParallelism}
	var pins []storage.KeyRange
	env.Pin = func(r storage.KeyRange) { pins = append(pins, r) }
	cat := &catalog.Reader{KV: view, Snap: tx.snap, DB: db}
	bound, err := bind.New(ctx, cat, query, params).WithSequences(seqRuntime{ctx: ctx, s: s, db: db}).WithSettings(s.settingList).Bind(st.AST)
	if err != nil {
		return nil, err
	}
	if q, ok := bound.(*plan.Query); ok {
		return e.query(ctx, env, q)
	}
	if ex, ok := bound.(*plan.Explain); ok && (!ex.Analyze || isQuery(ex.Stmt)) {
		return e.explain(ctx, env, ex)
	}
	if s.readsOnly {
		return nil, &sqlerr.Error{Code: sqlerr.CodeReadOnlyTransaction,
			Message: fmt.Sprintf("cannot execute %s in a read-only transaction", commandName(bound)),
			Detail:  "the session's credential is read-only"}
	}
	if tx.readOnly {
		return nil, sqlerr.New(sqlerr.CodeReadOnlyTransaction, "cannot execute %s in a read-only transaction", commandName(bound))
	}
	if _, ok := s.asOf(); ok {
		return nil, errTimeTravelWrite(commandName(bound))
	}
	res := &Result{}
	muts, err := e.write(ctx, env, bound, res)
	if err != nil {
		res.Release()
		return nil, err
	}
	if len(muts) > 0 {
		if !tx.wrote {
			tx.writeSnap, tx.wrote = tx.snap, true
		}
		tx.buf.add(muts)
		tx.pins = append(tx.pins, pins...)
	}
	return res, nil
}

// write runs a writing statement, filling res (tag, RETURNING rows) and
// returning its mutations.
func (e *Engine) write(ctx context.Context, env *exec.Env, bound plan.Statement, res *Result) ([]storage.Mutation, error) {
	var emit exec.Emit
	setCols := func(r *plan.Returning) {
		if r == nil {
			return
		}
		for _, c := range r.Cols {
			res.Columns = append(res.Columns, Column{Name: c.Name, Type: c.T.String()})
		}
		returned := int64(0)
		emit = func(b arrow.RecordBatch) error {
			returned += b.NumRows()
			if returned > int64(e.cfg.MaxResultRows) {
				return errTooManyRows(e.cfg.MaxResultRows)
			}
			b.Retain()
			res.Batches = append(res.Batches, b)
			return nil
		}
	}
	var (
		muts []storage.Mutation
		n    int64
		err  error
	)
	if more, ok, err := e.writeMore(ctx, env, bound, res, setCols, &emit); ok {
		return more, err
	}
	switch p := bound.(type) {
	case *plan.Insert:
		setCols(p.Returning)
		muts, n, err = exec.Insert(ctx, env, p, emit)
		res.Command = "INSERT 0 " + strconv.FormatInt(n, 10)
	case *plan.Update:
		setCols(p.Returning)
		muts, n, err = exec.Update(ctx, env, p, emit)
		res.Command = "UPDATE " + strconv.FormatInt(n, 10)
	case *plan.Delete:
		setCols(p.Returning)
		muts, n, err = exec.Delete(ctx, env, p, emit)
		res.Command = "DELETE " + strconv.FormatInt(n, 10)
	case *plan.CreateTable:
		muts, err = exec.CreateTable(ctx, env, p)
		res.Command = "CREATE TABLE"
	case *plan.DropTable:
		muts = exec.DropTable(env, p)
		res.Command = "DROP TABLE"
	case *plan.CreateView:
		muts, err = exec.CreateView(ctx, env, p)
		res.Command = "CREATE VIEW"
	case *plan.DropView:
		muts = exec.DropView(env, p)
		res.Command = "DROP VIEW"
	default:
		return nil, fmt.Errorf("sql: unexpected plan %T", bound)
	}
	res.RowCount = n
	return muts, err
}

// commit commits tx. A transaction that wrote nothing has nothing to
// validate and skips the log: whatever its isolation, it read one
// consistent snapshot (or, READ COMMITTED, consistent snapshots), and every
// read-write transaction is validated at its own commit, so a read-only one
// serializes at its snapshot.
func (s *Session) commit(ctx context.Context, tx *txn) error {
	if tx.buf.len() == 0 {
		return nil
	}
	snap, reads := tx.snap, []storage.KeyRange(nil)
	switch tx.iso {
	case ReadCommitted:
		snap = tx.writeSnap
	case Serializable:
		reads = coalesce(tx.reads)
	}
	if len(tx.pins) > 0 {
		reads = coalesce(append(reads, tx.pins...))
	}
	muts, spilled, err := s.spillPrivate(ctx, tx, snap)
	if err != nil {
		return err
	}
	if len(spilled) > 0 {
		reads = slices.DeleteFunc(reads, func(r storage.KeyRange) bool {
			for _, sp := range spilled {
				if inRange(r.Start, sp) && string(r.End) <= string(sp.End) {
					return true
				}
			}
			return false
		})
		deps := slices.Clone(reads)
		for _, m := range muts {
			deps = append(deps, storage.KeyRange{Start: m.Key, End: keys.Next(m.Key)})
		}
		if snap, err = s.revalidate(ctx, snap, deps); err != nil {
			return err
		}
	}
	commitTS, err := s.e.cfg.KV.Commit(ctx, snap, muts, reads)
	if err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return errSerialization()
		}
		return fmt.Errorf("sql: commit: %w", err)
	}
	s.lastCommitTS = commitTS
	return nil
}

// commandName names a writing statement for error messages.
func commandName(st plan.Statement) string {
	switch st.(type) {
	case *plan.Insert:
		return "INSERT"
	case *plan.Update:
		return "UPDATE"
	case *plan.Delete:
		return "DELETE"
	case *plan.CreateTable:
		return "CREATE TABLE"
	case *plan.DropTable:
		return "DROP TABLE"
	case *plan.CreateView:
		return "CREATE VIEW"
	case *plan.DropView:
		return "DROP VIEW"
	}
	return "this statement"
}

func errTooManyRows(limit int) error {
	return sqlerr.New(sqlerr.CodeProgramLimitExceeded, "result exceeds the limit of %d rows", limit).
		WithHint("add a LIMIT or a more selective WHERE clause")
}
