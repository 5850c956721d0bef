package exec

import (
	"context"
	"time"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
)

// statsReadTimeout bounds the read of one table's statistics while an
// operator tree is built (Build has no context of its own).
const statsReadTimeout = 10 * time.Second

// Estimator returns the statement's cardinality estimator, reading the
// statistics ANALYZE last recorded for the statement's database at the
// statement's snapshot, once per table.
func (e *Env) Estimator() *plan.Estimator {
	if e.est == nil {
		e.est = plan.NewEstimator(e.tableStats)
	}
	return e.est
}

// tableStats reads a table's statistics; nil when there are none or they
// cannot be read (an estimate only chooses a plan, never a result).
func (e *Env) tableStats(id uint64) *catalog.TableStats {
	if e.KV == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), statsReadTimeout)
	defer cancel()
	st, err := (&catalog.Reader{KV: e.KV, Snap: e.Snap, DB: e.DB}).Stats(ctx, id)
	if err != nil {
		return nil
	}
	return st
}
