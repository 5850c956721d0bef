package logictest

import (
	"context"

	"github.com/phantom-db/phantom/compute/sql"
)

// EngineExec adapts an in-process engine to an ExecFunc: it returns the
// columns and rows of the last statement and releases every result. Every
// call runs in a fresh session, as over the HTTP API.
func EngineExec(e *sql.Engine) ExecFunc {
	return execFunc(e.Execute)
}

// SessionExec adapts one session to an ExecFunc: every call runs in it, so
// transaction blocks and settings span records.
func SessionExec(s *sql.Session) ExecFunc {
	return execFunc(s.Execute)
}

func execFunc(run func(ctx context.Context, query string, params []any) ([]*sql.Result, error)) ExecFunc {
	return func(ctx context.Context, query string, params []any) (Result, error) {
		results, err := run(ctx, query, params)
		defer func() {
			for _, r := range results {
				r.Release()
			}
		}()
		if err != nil {
			return Result{}, err
		}
		var out Result
		if len(results) > 0 {
			last := results[len(results)-1]
			for _, c := range last.Columns {
				out.Columns = append(out.Columns, c.Name)
			}
			out.Rows = last.Rows()
		}
		return out, nil
	}
}
