package sql

import (
	"context"

	"github.com/phantom-db/phantom/compute/sql/catalog"
)

// Tables lists every table and view for the system relations (bind.Lister)
// while Describe binds; not memoized (Describe reads it at most once per
// probe bind).
func (c *memoCatalog) Tables(ctx context.Context) ([]*catalog.Table, error) { return c.r.Tables(ctx) }

// Sequences lists every sequence for the system relations (bind.Lister).
func (c *memoCatalog) Sequences(ctx context.Context) ([]*catalog.Sequence, error) {
	return c.r.Sequences(ctx)
}
