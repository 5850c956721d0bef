package controlplane

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The control plane's state machine. Every change of the state (tenants,
// databases, branches, endpoints, API keys, roles, the id counters, the
// REST addresses of the replicas) is a command in the Raft log; the FSM
// applies it to the in-memory state on every replica in log order. A
// command carries everything that is not a function of the state (times,
// random key ids and digests, SCRAM verifiers), so applying it is
// deterministic; what depends on the state (existence checks, the next id)
// is decided in Apply, never by the proposer, so two concurrent proposals
// cannot both take a name or an id.

// Command ops. Their JSON encoding never changes; new ops get new names.
const (
	opCreateTenant   = "create_tenant"
	opCreateDatabase = "create_database"
	opReserveID      = "reserve_id"
	opAddBranch      = "add_branch"
	opDeleteBranch   = "delete_branch"
	opCreateEndpoint = "create_endpoint"
	opUpdateEndpoint = "update_endpoint"
	opDeleteEndpoint = "delete_endpoint"
	opCreateAPIKey   = "create_api_key"
	opRevokeAPIKey   = "revoke_api_key"
	opCreateRole     = "create_role"
	opDropRole       = "drop_role"
	opMemberAddr     = "member_addr"
	opImport         = "import"
)

// command is one entry of the control plane's Raft log (JSON).
type command struct {
	Op       string         `json:"op"`
	At       time.Time      `json:"at,omitzero"`
	Tenant   string         `json:"tenant,omitempty"`
	Database string         `json:"database,omitempty"`
	Name     string         `json:"name,omitempty"`
	ID       string         `json:"id,omitempty"`
	Addr     string         `json:"addr,omitempty"`
	Branch   *Branch        `json:"branch,omitempty"`
	Endpoint *Endpoint      `json:"endpoint,omitempty"`
	Patch    *EndpointPatch `json:"patch,omitempty"`
	Key      *storedKey     `json:"key,omitempty"`
	Role     *storedRole    `json:"role,omitempty"`
	Import   *fsmData       `json:"import,omitempty"`
}

// applyResult is what Apply returns for a command: its value or its
// (deterministic) refusal.
type applyResult struct {
	val any
	err error
}

// fsmData is the whole replicated state: the snapshot format (JSON,
// "version" 1) and the payload of an import.
type fsmData struct {
	Version int       `json:"version"`
	State   state     `json:"state"`
	Auth    authState `json:"auth"`
	// Members maps Raft server ids to the REST address (host:port) that
	// replica serves, so followers can forward to the leader.
	Members map[string]string `json:"members,omitempty"`
	// Imported is set once state.json/auth.json of a pre-Raft control
	// plane were imported (or the state was found non-empty).
	Imported bool `json:"imported,omitempty"`
}

const fsmVersion = 1

// fsm is the control plane's raft.FSM.
type fsm struct {
	mu sync.RWMutex
	d  fsmData
	// applied is the index of the newest applied entry.
	applied uint64
}

var _ raft.FSM = (*fsm)(nil)

func newFSM() *fsm {
	return &fsm{d: fsmData{Version: fsmVersion, State: state{NextDBID: 1}, Members: map[string]string{}}}
}

// read runs fn on the state under the read lock; fn must not keep
// references into it.
func (f *fsm) read(fn func(st *state, a *authState)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(&f.d.State, &f.d.Auth)
}

func (f *fsm) member(id string) string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.d.Members[id]
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		// Cannot happen for entries this code wrote; refusing (not
		// panicking) keeps replicas alive and in agreement.
		return applyResult{err: fmt.Errorf("controlplane: decode command at index %d: %w", l.Index, err)}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = l.Index
	v, err := f.d.apply(&c)
	return applyResult{val: v, err: err}
}

// apply changes d by c, or refuses c and leaves d as it was.
func (d *fsmData) apply(c *command) (any, error) {
	st, a := &d.State, &d.Auth
	switch c.Op {
	case opCreateTenant:
		if err := validName("tenant", c.Name); err != nil {
			return nil, err
		}
		if _, ok := st.tenant(c.Name); ok {
			return nil, fmt.Errorf("%w: tenant %q", ErrExists, c.Name)
		}
		t := Tenant{Name: c.Name, CreatedAt: c.At}
		st.Tenants = append(st.Tenants, t)
		st.sortAll()
		return t, nil
	case opCreateDatabase:
		if err := validName("database", c.Name); err != nil {
			return nil, err
		}
		if _, ok := st.tenant(c.Tenant); !ok {
			return nil, fmt.Errorf("%w: tenant %q", ErrNotFound, c.Tenant)
		}
		if _, ok := st.database(c.Tenant, c.Name); ok {
			return nil, fmt.Errorf("%w: database %q", ErrExists, c.Name)
		}
		db := Database{ID: st.NextDBID, Name: c.Name, Tenant: c.Tenant, CreatedAt: c.At}
		st.NextDBID++
		st.Databases = append(st.Databases, db)
		st.sortAll()
		return db, nil
	case opReserveID:
		id := st.NextDBID
		st.NextDBID++
		return id, nil
	case opAddBranch:
		b := c.Branch
		if b == nil {
			return nil, fmt.Errorf("%w: add_branch without a branch", ErrInvalid)
		}
		if _, ok := st.database(b.Tenant, b.Database); !ok {
			return nil, fmt.Errorf("%w: database %q in tenant %q", ErrNotFound, b.Database, b.Tenant)
		}
		if _, ok := st.branch(b.Tenant, b.Database, b.Name); ok {
			return nil, fmt.Errorf("%w: branch %q of database %q", ErrExists, b.Name, b.Database)
		}
		if b.ID >= st.NextDBID {
			return nil, fmt.Errorf("%w: branch id %d was never reserved", ErrInvalid, b.ID)
		}
		st.Branches = append(st.Branches, *b)
		return *b, nil
	case opDeleteBranch:
		id, err := strconv.ParseUint(c.ID, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: branch id %q", ErrInvalid, c.ID)
		}
		kept := st.Branches[:0:0]
		for _, b := range st.Branches {
			if b.ID != id {
				kept = append(kept, b)
			}
		}
		if len(kept) == len(st.Branches) {
			return nil, fmt.Errorf("%w: branch %q of database %q", ErrNotFound, c.Name, c.Database)
		}
		st.Branches = kept
		return nil, nil
	case opCreateEndpoint:
		if c.Endpoint == nil {
			return nil, fmt.Errorf("%w: create_endpoint without an endpoint", ErrInvalid)
		}
		e := *c.Endpoint
		if _, ok := st.database(e.Tenant, e.Database); !ok {
			return nil, fmt.Errorf("%w: database %q in tenant %q", ErrNotFound, e.Database, e.Tenant)
		}
		for _, o := range st.Endpoints {
			if o.Tenant != e.Tenant || o.Database != e.Database {
				continue
			}
			if o.Name == e.Name {
				return nil, fmt.Errorf("%w: endpoint %q", ErrExists, e.Name)
			}
			if e.Mode == ModeReadWrite && o.Mode == ModeReadWrite && o.Branch == e.Branch {
				return nil, fmt.Errorf("%w: branch %q already has a read-write endpoint (%q)", ErrExists, e.Branch, o.Name)
			}
		}
		if st.NextEndpointID == 0 {
			st.NextEndpointID = 1
		}
		e.ID = "ep-" + strconv.FormatUint(st.NextEndpointID, 10)
		st.NextEndpointID++
		e.CreatedAt, e.UpdatedAt = c.At, c.At
		st.Endpoints = append(st.Endpoints, e)
		st.sortAll()
		return e, nil
	case opUpdateEndpoint:
		i := st.endpoint(c.Tenant, c.Database, c.Name)
		if i < 0 {
			return nil, fmt.Errorf("%w: endpoint %q of database %q in tenant %q", ErrNotFound, c.Name, c.Database, c.Tenant)
		}
		if c.Patch == nil {
			return nil, fmt.Errorf("%w: update_endpoint without a patch", ErrInvalid)
		}
		e := st.Endpoints[i].patched(*c.Patch)
		if err := e.validate(); err != nil {
			return nil, err
		}
		e.UpdatedAt = c.At
		st.Endpoints[i] = e
		return e, nil
	case opDeleteEndpoint:
		i := st.endpoint(c.Tenant, c.Database, c.Name)
		if i < 0 {
			return nil, fmt.Errorf("%w: endpoint %q of database %q in tenant %q", ErrNotFound, c.Name, c.Database, c.Tenant)
		}
		id := st.Endpoints[i].ID
		st.Endpoints = append(st.Endpoints[:i:i], st.Endpoints[i+1:]...)
		return id, nil
	case opCreateAPIKey:
		k := c.Key
		if k == nil {
			return nil, fmt.Errorf("%w: create_api_key without a key", ErrInvalid)
		}
		if k.Database != "" {
			if _, ok := st.database(k.Tenant, k.Database); !ok {
				return nil, fmt.Errorf("%w: database %q in tenant %q", ErrNotFound, k.Database, k.Tenant)
			}
		} else if _, ok := st.tenant(k.Tenant); !ok {
			return nil, fmt.Errorf("%w: tenant %q", ErrNotFound, k.Tenant)
		}
		for _, o := range a.APIKeys {
			if o.ID == k.ID {
				return nil, fmt.Errorf("%w: api key id %q", ErrExists, k.ID)
			}
		}
		a.APIKeys = append(a.APIKeys, *k)
		a.sortAll()
		return k.APIKey, nil
	case opRevokeAPIKey:
		kept := a.APIKeys[:0:0]
		for _, k := range a.APIKeys {
			if !(k.ID == c.ID && k.Tenant == c.Tenant) {
				kept = append(kept, k)
			}
		}
		if len(kept) == len(a.APIKeys) {
			return nil, fmt.Errorf("%w: api key %q in tenant %q", ErrNotFound, c.ID, c.Tenant)
		}
		a.APIKeys = kept
		return nil, nil
	case opCreateRole:
		r := c.Role
		if r == nil {
			return nil, fmt.Errorf("%w: create_role without a role", ErrInvalid)
		}
		if _, ok := st.tenant(r.Tenant); !ok {
			return nil, fmt.Errorf("%w: tenant %q", ErrNotFound, r.Tenant)
		}
		for _, o := range a.Roles {
			if o.Tenant == r.Tenant && o.Name == r.Name {
				return nil, fmt.Errorf("%w: role %q", ErrExists, r.Name)
			}
		}
		a.Roles = append(a.Roles, *r)
		a.sortAll()
		return r.Role, nil
	case opDropRole:
		kept := a.Roles[:0:0]
		for _, r := range a.Roles {
			if !(r.Tenant == c.Tenant && r.Name == c.Name) {
				kept = append(kept, r)
			}
		}
		if len(kept) == len(a.Roles) {
			return nil, fmt.Errorf("%w: role %q in tenant %q", ErrNotFound, c.Name, c.Tenant)
		}
		a.Roles = kept
		return nil, nil
	case opMemberAddr:
		if c.ID == "" {
			return nil, fmt.Errorf("%w: member_addr without an id", ErrInvalid)
		}
		if d.Members == nil {
			d.Members = map[string]string{}
		}
		d.Members[c.ID] = c.Addr
		return nil, nil
	case opImport:
		// Only into a state nothing was written to yet, once.
		if d.Imported || !d.State.empty() || len(d.Auth.APIKeys) > 0 || len(d.Auth.Roles) > 0 {
			d.Imported = true
			return false, nil
		}
		d.Imported = true
		if c.Import == nil {
			return false, nil
		}
		d.State, d.Auth = c.Import.State, c.Import.Auth
		if d.State.NextDBID == 0 {
			d.State.NextDBID = 1
		}
		d.State.sortAll()
		d.Auth.sortAll()
		return true, nil
	default:
		return nil, fmt.Errorf("%w: unknown command %q", ErrInvalid, c.Op)
	}
}

// empty reports whether nothing was ever created in st.
func (st *state) empty() bool {
	return len(st.Tenants) == 0 && len(st.Databases) == 0 && len(st.Branches) == 0 &&
		len(st.Endpoints) == 0 && st.NextDBID <= 1 && st.NextEndpointID <= 1
}

func (a *authState) sortAll() {
	sort.Slice(a.APIKeys, func(i, j int) bool { return a.APIKeys[i].ID < a.APIKeys[j].ID })
	sort.Slice(a.Roles, func(i, j int) bool {
		if a.Roles[i].Tenant != a.Roles[j].Tenant {
			return a.Roles[i].Tenant < a.Roles[j].Tenant
		}
		return a.Roles[i].Name < a.Roles[j].Name
	})
}

// Snapshot implements raft.FSM: the state is encoded under the read lock
// (it is small: metadata, not data), and written out by Persist.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := json.Marshal(&f.d)
	if err != nil {
		return nil, fmt.Errorf("controlplane: encode snapshot: %w", err)
	}
	return fsmSnapshot(b), nil
}

// Restore implements raft.FSM: the state is replaced by the snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var d fsmData
	dec := json.NewDecoder(rc)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return fmt.Errorf("controlplane: decode snapshot: %w", err)
	}
	if d.Version != fsmVersion {
		return fmt.Errorf("controlplane: snapshot version %d, this build reads %d", d.Version, fsmVersion)
	}
	if d.Members == nil {
		d.Members = map[string]string{}
	}
	if d.State.NextDBID == 0 {
		d.State.NextDBID = 1
	}
	f.mu.Lock()
	f.d = d
	f.mu.Unlock()
	return nil
}

// fsmSnapshot is an encoded state.
type fsmSnapshot []byte

// Persist implements raft.FSMSnapshot.
func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("controlplane: write snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s fsmSnapshot) Release() {}
