package sql

import (
	"context"

	"github.com/phantom-db/phantom/compute/sql/catalog"
)

// Sequence implements the binder's extended catalog for Describe.
func (c *memoCatalog) Sequence(ctx context.Context, name string) (*catalog.Sequence, error) {
	return c.r.Sequence(ctx, name)
}

// IndexTable implements the binder's extended catalog for Describe.
func (c *memoCatalog) IndexTable(ctx context.Context, name string) (string, error) {
	return c.r.IndexTable(ctx, name)
}

// Stats implements the binder's extended catalog for Describe.
func (c *memoCatalog) Stats(ctx context.Context, table uint64) (*catalog.TableStats, error) {
	return c.r.Stats(ctx, table)
}
