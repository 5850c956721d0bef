package catalog

import (
	"encoding/json"
	"fmt"

	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
)

// ReplaceMutations returns the write that replaces the descriptor of an
// existing relation (CREATE OR REPLACE VIEW): same name and id, no new id.
func ReplaceMutations(db uint64, t *Table) ([]storage.Mutation, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("catalog: encode descriptor: %w", err)
	}
	return []storage.Mutation{{Key: keys.TableDescriptorKey(db, t.Name), Value: raw}}, nil
}
