package exec

import (
	"context"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/phantom-db/phantom/compute/sql/plan"
)

// OpStats are the actual figures of one operator under EXPLAIN ANALYZE.
type OpStats struct {
	Rows    int64
	Batches int64
	// Time is the wall time spent in Next, inputs included.
	Time time.Duration
}

// Profile collects OpStats per plan node.
type Profile struct {
	mu    sync.Mutex
	stats map[plan.Node]*OpStats
}

// NewProfile returns an empty profile.
func NewProfile() *Profile { return &Profile{stats: map[plan.Node]*OpStats{}} }

// Stats returns the figures of n, nil when it never ran.
func (p *Profile) Stats(n plan.Node) *OpStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats[n]
}

func (p *Profile) wrap(n plan.Node, op Operator) Operator {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats[n]
	if st == nil {
		st = &OpStats{}
		p.stats[n] = st
	}
	return &profiledOp{in: op, st: st}
}

type profiledOp struct {
	in Operator
	st *OpStats
}

func (o *profiledOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	start := time.Now()
	b, err := o.in.Next(ctx)
	o.st.Time += time.Since(start)
	if b != nil {
		o.st.Rows += b.NumRows()
		o.st.Batches++
	}
	return b, err
}

func (o *profiledOp) Close() { o.in.Close() }
