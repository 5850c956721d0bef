// Package controlplane owns Phantom-DB's metadata: tenants and the databases
// they hold, and the branches of those databases (branches.go). Compute
// nodes ask it which database id a name maps to. Later issues add
// endpoints, API keys, the shard map and autoscaling.
//
// Invariants: database and branch ids share one counter and are never
// reused; every change of the state is a command committed through Raft
// (raftfsm.go, raft.go) before it is acknowledged, so an acknowledged change
// survives restarts and, with 3 replicas, the loss of one.
package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"time"
)

// Sentinel errors of the control plane.
var (
	// ErrNotFound is wrapped when a tenant or database does not exist.
	ErrNotFound = errors.New("controlplane: not found")
	// ErrExists is wrapped when creating something whose name is taken.
	ErrExists = errors.New("controlplane: already exists")
	// ErrInvalid is wrapped when a request is malformed.
	ErrInvalid = errors.New("controlplane: invalid request")
)

// Tenant is an isolated owner of databases.
type Tenant struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Database is a named SQL database of a tenant. ID is the number that
// prefixes every key of the database (/db/<id>/...).
type Database struct {
	ID        uint64    `json:"id"`
	Name      string    `json:"name"`
	Tenant    string    `json:"tenant"`
	CreatedAt time.Time `json:"created_at"`
}

// state is the metadata the control plane replicates (with authState).
type state struct {
	Tenants   []Tenant   `json:"tenants"`
	Databases []Database `json:"databases"`
	// Branches of every database (branches.go); their ids come from
	// NextDBID too.
	Branches []Branch `json:"branches,omitempty"`
	NextDBID uint64   `json:"next_db_id"`
	// Endpoints are the compute endpoints (endpoints.go).
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// NextEndpointID numbers endpoint ids ("ep-<n>"); never reused.
	NextEndpointID uint64 `json:"next_endpoint_id,omitempty"`
}

var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,62}$`)

func validName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: %s name %q must match %s", ErrInvalid, kind, name, nameRE)
	}
	return nil
}

// loadLegacyState reads the state.json of a control plane from before Raft
// (found=false when there is none).
func loadLegacyState(path string) (st *state, found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("controlplane: read legacy state: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, false, fmt.Errorf("controlplane: decode legacy state %s: %w", path, err)
	}
	if s.NextDBID == 0 {
		s.NextDBID = 1
	}
	return &s, true, nil
}

func (s *state) tenant(name string) (Tenant, bool) {
	for _, t := range s.Tenants {
		if t.Name == name {
			return t, true
		}
	}
	return Tenant{}, false
}

func (s *state) database(tenant, name string) (Database, bool) {
	for _, d := range s.Databases {
		if d.Tenant == tenant && d.Name == name {
			return d, true
		}
	}
	return Database{}, false
}

func (s *state) sortAll() {
	sort.Slice(s.Tenants, func(i, j int) bool { return s.Tenants[i].Name < s.Tenants[j].Name })
	sort.Slice(s.Databases, func(i, j int) bool { return s.Databases[i].ID < s.Databases[j].ID })
	sort.Slice(s.Endpoints, func(i, j int) bool { return s.Endpoints[i].ID < s.Endpoints[j].ID })
}
