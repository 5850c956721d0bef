package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// authState is what the control plane replicates about credentials. It
// holds no secret in the clear: API keys as SHA-256 digests, roles as
// SCRAM-SHA-256 verifiers. Before Raft it was its own file, auth.json,
// beside state.json; loadLegacyAuth reads that file for the one-time
// import.
type authState struct {
	APIKeys []storedKey  `json:"api_keys"`
	Roles   []storedRole `json:"roles"`
}

// loadLegacyAuth reads the auth.json of a control plane from before Raft
// (found=false when there is none).
func loadLegacyAuth(path string) (a *authState, found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("controlplane: read legacy auth state: %w", err)
	}
	var st authState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, false, fmt.Errorf("controlplane: decode legacy auth state %s: %w", path, err)
	}
	return &st, true, nil
}
