package pgwire

import (
	"context"

	"github.com/phantom-db/phantom/compute/sql"
)

// Session is one client session of the SQL engine: the statements of one
// connection, in order, with whatever transaction state they build up.
// The server calls it from one goroutine at a time.
type Session interface {
	// Execute runs the statements of query with parameters $1..$n. On an
	// error it returns the results of the statements that succeeded before
	// it. ctx is cancelled by a CancelRequest (the error then has SQLSTATE
	// 57014).
	Execute(ctx context.Context, query string, params []any) ([]*sql.Result, error)
	// TxStatus is the transaction status ReadyForQuery reports: 'I' idle,
	// 'T' in a transaction block, 'E' in a failed transaction block.
	TxStatus() byte
	// Close ends the session (rolling back an open transaction).
	Close()
}

// Describer is implemented by sessions that can describe a statement
// without running it (the extended protocol's Describe). A session that
// does not is described as having untyped (text) parameters and no result
// rows until it runs.
type Describer interface {
	// Describe reports the parameter types and result columns of the one
	// statement in query; known holds client-declared parameter type names
	// ("" for undeclared).
	Describe(ctx context.Context, query string, known []string) (*sql.Description, error)
}

// SessionFactory returns a new Session for each client connection.
type SessionFactory func() Session

// DescribedBy returns a factory of sessions from f that describe
// statements with d unless they implement Describer themselves; an
// *sql.Engine is a Describer (it describes at a fresh snapshot, so a table
// created in the session's open transaction is not yet visible to it).
func DescribedBy(f SessionFactory, d Describer) SessionFactory {
	return func() Session {
		s := f()
		if _, ok := s.(Describer); ok {
			return s
		}
		return describedSession{s, d}
	}
}

type describedSession struct {
	Session
	d Describer
}

func (s describedSession) Describe(ctx context.Context, query string, known []string) (*sql.Description, error) {
	return s.d.Describe(ctx, query, known)
}

// EngineSessions returns a SessionFactory over an engine that has no
// sessions of its own: every Execute is its own transaction and TxStatus is
// always 'I'.
func EngineSessions(e *sql.Engine) SessionFactory {
	return func() Session { return engineSession{e} }
}

var _ Describer = (*sql.Engine)(nil)

// engineSession adapts *sql.Engine to Session and Describer.
type engineSession struct{ e *sql.Engine }

func (s engineSession) Execute(ctx context.Context, query string, params []any) ([]*sql.Result, error) {
	return s.e.Execute(ctx, query, params)
}

func (s engineSession) Describe(ctx context.Context, query string, known []string) (*sql.Description, error) {
	return s.e.Describe(ctx, query, known)
}

func (engineSession) TxStatus() byte { return 'I' }

func (engineSession) Close() {}
