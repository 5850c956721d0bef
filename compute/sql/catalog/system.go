package catalog

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/internal/keys"
)

// Object identifiers (OIDs) of the catalog, for the pg_catalog relations.
// PostgreSQL numbers user objects from FirstNormalObjectId (16384); here an
// OID is derived from descriptor ids so it is stable for an object's life
// and the same on every compute node, with no counter of its own:
//
//	table, view or sequence with id N   16384 + N<<8
//	its primary-key index               16384 + N<<8 + 1
//	its secondary index with id K       16384 + N<<8 + 1 + K   (K <= 254)
//	its constraints (pg_constraint)     16384 + N<<8 + 128 + i (own space)
//
// Table and sequence ids come from one counter, so relation OIDs never
// collide; a table with more than 254 secondary indexes reuses index OIDs
// (PostgreSQL has no such limit). Built-in objects (namespaces, types,
// the system relations themselves) use fixed OIDs below 16384.
const (
	// FirstUserOID is PostgreSQL's FirstNormalObjectId.
	FirstUserOID = 16384
	// OIDPublicNamespace, OIDCatalogNamespace and OIDInfoSchemaNamespace
	// are the namespaces' OIDs (public and pg_catalog as in PostgreSQL).
	OIDPublicNamespace     = 2200
	OIDCatalogNamespace    = 11
	OIDInfoSchemaNamespace = 13000
	// OIDBootstrapRole is the owner of every object (PostgreSQL's
	// BOOTSTRAP_SUPERUSERID).
	OIDBootstrapRole = 10
)

// RelationOID is the OID of the table, view or sequence with id id.
func RelationOID(id uint64) int64 { return FirstUserOID + int64(id)<<8 }

// PrimaryIndexOID is the OID of table id's primary-key index.
func PrimaryIndexOID(id uint64) int64 { return RelationOID(id) + 1 }

// IndexOID is the OID of secondary index ix of table id.
func IndexOID(id, ix uint64) int64 { return RelationOID(id) + 1 + int64(ix&0xFF)%255 }

// ConstraintOID is the OID of constraint i (in the order pg_constraint
// lists them) of table id.
func ConstraintOID(id uint64, i int) int64 { return RelationOID(id) + 128 + int64(i) }

// Tables returns every table and view descriptor of the database, in name
// order.
func (r *Reader) Tables(ctx context.Context) ([]*Table, error) {
	var out []*Table
	err := r.scanJSON(ctx, keys.CatalogTablesPrefix(r.DB), func(raw []byte) error {
		var t Table
		if err := json.Unmarshal(raw, &t); err != nil {
			return fmt.Errorf("catalog: decode descriptor: %w", err)
		}
		out = append(out, &t)
		return nil
	})
	return out, err
}

// Sequences returns every sequence descriptor of the database, in name
// order.
func (r *Reader) Sequences(ctx context.Context) ([]*Sequence, error) {
	var out []*Sequence
	err := r.scanJSON(ctx, keys.CatalogSequencesPrefix(r.DB), func(raw []byte) error {
		var s Sequence
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("catalog: decode sequence: %w", err)
		}
		out = append(out, &s)
		return nil
	})
	return out, err
}

// scanJSON calls fn with the value of every key under prefix.
func (r *Reader) scanJSON(ctx context.Context, prefix []byte, fn func([]byte) error) error {
	err := r.KV.Scan(ctx, r.Snap, prefix, keys.PrefixEnd(prefix), 0, func(b arrow.RecordBatch) error {
		vals := b.Column(1).(*array.Binary)
		for i := range int(b.NumRows()) {
			if err := fn(vals.Value(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("catalog: list %x: %w", prefix, err)
	}
	return nil
}
