package exec

import (
	"context"
	"strconv"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// MemoryBudget accounts the Arrow memory of one statement: it is the
// allocator of every buffer the statement's operators build, counts the
// bytes of the live ones, and fails the statement with 53200 once they
// exceed the limit. Go-side state (hash tables of joins and aggregates,
// sort keys) is bounded separately by row and group limits (MaxJoinRows,
// MaxGroups), so the two together bound a query's memory.
//
// The check runs between batches: every operator Build makes is wrapped
// so that a Next returning while the budget is exceeded fails instead,
// which also stops a materializing operator (join build, sort, window)
// that is pulling its input. A single batch may overshoot the limit.
type MemoryBudget struct {
	parent memory.Allocator
	limit  int64
	used   atomic.Int64
}

// NewMemoryBudget returns a budget of limit bytes (0: unlimited, only
// counted) allocating from parent (nil: memory.DefaultAllocator).
func NewMemoryBudget(parent memory.Allocator, limit int64) *MemoryBudget {
	return &MemoryBudget{parent: memOr(parent), limit: limit}
}

func (m *MemoryBudget) add(n int) { m.used.Add(int64(n)) }

// Allocate implements memory.Allocator.
func (m *MemoryBudget) Allocate(size int) []byte {
	b := m.parent.Allocate(size)
	m.add(len(b))
	return b
}

// Reallocate implements memory.Allocator.
func (m *MemoryBudget) Reallocate(size int, b []byte) []byte {
	old := len(b)
	nb := m.parent.Reallocate(size, b)
	m.add(len(nb) - old)
	return nb
}

// Free implements memory.Allocator.
func (m *MemoryBudget) Free(b []byte) {
	m.add(-len(b))
	m.parent.Free(b)
}

// Check answers 53200 when the live buffers exceed the limit.
func (m *MemoryBudget) Check() error {
	if m.limit > 0 && m.used.Load() > m.limit {
		return sqlerr.New(CodeOutOfMemory, "out of memory: the query holds more than %s of buffers", byteSize(m.limit)).
			WithHint("raise the compute node's --max-query-memory, or make the query read less (a narrower WHERE, LIMIT)")
	}
	return nil
}

// budgetOp fails the statement as soon as its budget is exceeded.
type budgetOp struct {
	in Operator
	b  *MemoryBudget
}

func (o *budgetOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	rec, err := o.in.Next(ctx)
	if err != nil {
		return nil, err
	}
	if err := o.b.Check(); err != nil {
		if rec != nil {
			rec.Release()
		}
		return nil, err
	}
	return rec, nil
}

func (o *budgetOp) Close() { o.in.Close() }

// byteSize renders n bytes in the largest binary unit that keeps it whole
// enough to read (kB, MB, GB as PostgreSQL's settings print them).
func byteSize(n int64) string {
	switch {
	case n >= 10<<30:
		return strconv.FormatInt(n>>30, 10) + " GB"
	case n >= 10<<20:
		return strconv.FormatInt(n>>20, 10) + " MB"
	case n >= 10<<10:
		return strconv.FormatInt(n>>10, 10) + " kB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
