package logictest

import (
	"context"

	"github.com/phantom-db/phantom/compute/sql"
)

// EngineExec adapts an in-process engine to an ExecFunc: it returns the
// columns and rows of the last statement and releases every result.
func EngineExec(e *sql.Engine) ExecFunc {
	return func(ctx context.Context, query string, params []any) (Result, error) {
		results, err := e.Execute(ctx, query, params)
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
