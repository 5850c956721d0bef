package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// authState is what the control plane persists about credentials, in its
// own file (auth.json) beside state.json so that credentials and the
// metadata of tenants and databases change independently. Like state.json it
// is replaced atomically and durably; it holds no secret in the clear: API
// keys as SHA-256 digests, roles as SCRAM-SHA-256 verifiers.
type authState struct {
	APIKeys []storedKey  `json:"api_keys"`
	Roles   []storedRole `json:"roles"`
}

// authStore guards the credential state and its file.
type authStore struct {
	path string

	mu sync.Mutex
	st *authState
}

func loadAuthStore(dataDir string) (*authStore, error) {
	path := filepath.Join(dataDir, "auth.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &authStore{path: path, st: &authState{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("controlplane: read auth state: %w", err)
	}
	var st authState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("controlplane: decode auth state %s: %w", path, err)
	}
	return &authStore{path: path, st: &st}, nil
}

// commit persists next and makes it current; on error nothing changes.
// Callers hold a.mu.
func (a *authStore) commit(next *authState) error {
	sort.Slice(next.APIKeys, func(i, j int) bool { return next.APIKeys[i].ID < next.APIKeys[j].ID })
	sort.Slice(next.Roles, func(i, j int) bool {
		if next.Roles[i].Tenant != next.Roles[j].Tenant {
			return next.Roles[i].Tenant < next.Roles[j].Tenant
		}
		return next.Roles[i].Name < next.Roles[j].Name
	})
	b, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return fmt.Errorf("controlplane: encode auth state: %w", err)
	}
	if err := writeFileAtomic(a.path, b, 0o600); err != nil {
		return fmt.Errorf("controlplane: save auth state: %w", err)
	}
	a.st = next
	return nil
}

// writeFileAtomic replaces path with b: write a temporary file, fsync it,
// rename it over path, fsync the directory. A crash leaves the old or the
// new content, never a torn file.
func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
