package exec

import (
	"context"
	"time"

	"github.com/phantom-db/phantom/compute/sql/catalog"
)

// defaultTableRows is a table's estimated size without statistics.
const defaultTableRows = 1000

// statsReadTimeout bounds the read of one table's statistics while an
// operator tree is built (Build has no context of its own).
const statsReadTimeout = 10 * time.Second

// tableRows answers the row count ANALYZE last recorded for a table of
// the statement's database, read at the statement's snapshot once per
// statement; defaultTableRows when there are none or they cannot be read
// (an estimate only chooses a build side, never a result).
func (e *Env) tableRows(id uint64) float64 {
	if n, ok := e.rowCounts[id]; ok {
		return n
	}
	n := float64(defaultTableRows)
	if e.KV != nil {
		ctx, cancel := context.WithTimeout(context.Background(), statsReadTimeout)
		st, err := (&catalog.Reader{KV: e.KV, Snap: e.Snap, DB: e.DB}).Stats(ctx, id)
		cancel()
		if err == nil && st != nil {
			n = float64(st.RowCount)
		}
	}
	if e.rowCounts == nil {
		e.rowCounts = map[uint64]float64{}
	}
	e.rowCounts[id] = n
	return n
}
