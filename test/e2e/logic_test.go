package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/phantom-db/phantom/compute/sql/logictest"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/test/cluster"
)

// TestLogicOverHTTP runs the SQL engine's logic test files against a real
// `phantom dev` through the HTTP API: the same expectations that hold in
// memory must hold through the log service and page server. Each file gets a
// fresh server so table names do not collide.
func TestLogicOverHTTP(t *testing.T) {
	logictest.RunGlob(t, "../../compute/sql/logictest/testdata/*.test", func(t *testing.T) logictest.ExecFunc {
		p, url := startDev(t, t.TempDir(), cluster.FreePortBase(t, 11))
		t.Cleanup(func() { p.Stop(30 * time.Second) })
		return func(ctx context.Context, query string, params []any) (logictest.Result, error) {
			r, err := cluster.SQL(ctx, url, query, params...)
			if err != nil {
				return logictest.Result{}, err
			}
			if r.Error != nil {
				return logictest.Result{}, &sqlerr.Error{Code: r.Error.Code, Message: r.Error.Message,
					Position: r.Error.Position, Hint: r.Error.Hint}
			}
			if r.Status != 200 {
				return logictest.Result{}, fmt.Errorf("status %d without an error body", r.Status)
			}
			res := logictest.Result{Rows: r.Rows}
			for _, c := range r.Columns {
				res.Columns = append(res.Columns, c.Name)
			}
			return res, nil
		}
	})
}
