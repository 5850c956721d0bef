package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phantom-db/phantom/internal/raftnode"
)

// Config configures the control plane service.
type Config struct {
	// DataDir holds the replica's Raft log, stable store and snapshots
	// (raft/, snapshots/). Required.
	DataDir string
	// Raft configures replication; the zero value is a single voter.
	Raft RaftConfig
	// DefaultTenant is created at startup when missing. Default "default".
	DefaultTenant string
	// DefaultDatabase is created in DefaultTenant at startup when missing.
	// Default "phantom".
	DefaultDatabase string
	// Members reports cluster membership for GET /v1/nodes; nil answers an
	// empty list.
	Members Membership
	// MaxBodyBytes bounds request bodies, in bytes. Default 1 MiB.
	MaxBodyBytes int64
	// Log is the log service that branch records are committed through;
	// nil answers 503 to branch creation and deletion.
	Log LogService
	// LogTimeout bounds one branch operation's calls to Log. Default 10 s.
	LogTimeout time.Duration
	// Retention is how far back a branch may fork: it must equal the page
	// servers' retention window. 0 or negative: no limit.
	Retention time.Duration
	// AdminToken is the bearer token every API call but /healthz must
	// carry. Required: the API is closed by default.
	AdminToken string
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Membership is the view of live nodes the control plane serves.
type Membership interface {
	// Nodes returns the known nodes; the value is encoded as JSON.
	Nodes() any
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.DefaultTenant == "" {
		c.DefaultTenant = "default"
	}
	if c.DefaultDatabase == "" {
		c.DefaultDatabase = "phantom"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.LogTimeout == 0 {
		c.LogTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Raft.ensureDefaults()
}

// Validate reports a configuration error.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("%w: DataDir is required", ErrInvalid)
	}
	if len(c.AdminToken) < 16 {
		return fmt.Errorf("%w: AdminToken of at least 16 characters is required", ErrInvalid)
	}
	if err := validName("tenant", c.DefaultTenant); err != nil {
		return err
	}
	return validName("database", c.DefaultDatabase)
}

// Service is the control plane: metadata state replicated through Raft,
// plus its REST API.
type Service struct {
	cfg Config

	fsm  *fsm           // the replicated state (raftfsm.go)
	node *raftnode.Node // Raft and its stores (raft.go)
	// ready is true while this replica leads and has established its term.
	ready     atomic.Bool
	closing   chan struct{}
	loopDone  chan struct{}
	closeOnce sync.Once
	closeErr  error
	// httpc forwards requests from a follower to the leader.
	httpc *http.Client

	// branchMu serializes branch creation and deletion (which call the
	// log service between two Raft commands).
	branchMu sync.Mutex

	scaler scalerSlot // endpoints.go
}

// New opens (or creates) the replica under cfg.DataDir and starts Raft. A
// single-voter group (no Peers) is waited for: New returns once it leads,
// with the default tenant and database created. A replica of a larger
// group returns at once; followers forward the API to the leader when
// there is one.
func New(cfg Config) (*Service, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("controlplane: create data dir: %w", err)
	}
	s := &Service{cfg: cfg, fsm: newFSM(), closing: make(chan struct{}), loopDone: make(chan struct{}),
		httpc: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second,
		}}}
	if err := s.openRaft(); err != nil {
		return nil, err
	}
	if len(cfg.Raft.Peers) <= 1 && !cfg.Raft.NoBootstrap {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Raft.ReadyTimeout)
		defer cancel()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for !s.IsLeader() {
			select {
			case <-ctx.Done():
				_ = s.Close()
				return nil, fmt.Errorf("controlplane: single-voter raft group not ready within %s", cfg.Raft.ReadyTimeout)
			case <-t.C:
			}
		}
	}
	return s, nil
}

// CreateTenant registers a tenant.
func (s *Service) CreateTenant(name string) (Tenant, error) {
	if err := validName("tenant", name); err != nil {
		return Tenant{}, err
	}
	v, err := s.propose(&command{Op: opCreateTenant, Name: name, At: s.cfg.Now().UTC()})
	if err != nil {
		return Tenant{}, err
	}
	s.cfg.Logger.Info("tenant created", "tenant", name)
	return v.(Tenant), nil
}

// CreateDatabase registers a database in tenant and assigns it a new id.
func (s *Service) CreateDatabase(tenant, name string) (Database, error) {
	if err := validName("database", name); err != nil {
		return Database{}, err
	}
	v, err := s.propose(&command{Op: opCreateDatabase, Tenant: tenant, Name: name, At: s.cfg.Now().UTC()})
	if err != nil {
		return Database{}, err
	}
	d := v.(Database)
	s.cfg.Logger.Info("database created", "tenant", tenant, "database", name, "id", d.ID)
	return d, nil
}

// Database looks a database up by tenant and name.
func (s *Service) Database(tenant, name string) (Database, error) {
	var d Database
	var ok bool
	s.fsm.read(func(st *state, _ *authState) { d, ok = st.database(tenant, name) })
	if !ok {
		return Database{}, fmt.Errorf("%w: database %q in tenant %q", ErrNotFound, name, tenant)
	}
	return d, nil
}

// Tenants lists the tenants.
func (s *Service) Tenants() []Tenant {
	var ts []Tenant
	s.fsm.read(func(st *state, _ *authState) { ts = append([]Tenant{}, st.Tenants...) })
	return ts
}

// Databases lists the databases of tenant.
func (s *Service) Databases(tenant string) ([]Database, error) {
	var ok bool
	dbs := []Database{}
	s.fsm.read(func(st *state, _ *authState) {
		_, ok = st.tenant(tenant)
		for _, d := range st.Databases {
			if d.Tenant == tenant {
				dbs = append(dbs, d)
			}
		}
	})
	if !ok {
		return nil, fmt.Errorf("%w: tenant %q", ErrNotFound, tenant)
	}
	return dbs, nil
}

// Handler returns the REST API; every endpoint but /healthz requires the
// admin token (see requireAdmin), and the credential endpoints are listed
// at registerAuthRoutes:
//
//	GET  /healthz
//	GET  /v1/tenants
//	POST /v1/tenants                         {"name"}
//	GET  /v1/tenants/{tenant}/databases
//	POST /v1/tenants/{tenant}/databases      {"name"}
//	GET  /v1/tenants/{tenant}/databases/{name}
//	GET  /v1/nodes
//	...  /v1/tenants/{tenant}/databases/{name}/endpoints[/{endpoint}[/computes|/wake]] (endpoints.go)
//
// and the branch endpoints (branches.go).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	s.branchRoutes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "raft": s.RaftStatus()})
	})
	mux.HandleFunc("GET /v1/tenants", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"tenants": s.Tenants()})
	})
	mux.HandleFunc("POST /v1/tenants", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name string `json:"name"`
		}
		if !s.decode(w, r, &req) {
			return
		}
		t, err := s.CreateTenant(req.Name)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, t)
	})
	mux.HandleFunc("GET /v1/tenants/{tenant}/databases", func(w http.ResponseWriter, r *http.Request) {
		dbs, err := s.Databases(r.PathValue("tenant"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"databases": dbs})
	})
	mux.HandleFunc("POST /v1/tenants/{tenant}/databases", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name string `json:"name"`
		}
		if !s.decode(w, r, &req) {
			return
		}
		d, err := s.CreateDatabase(r.PathValue("tenant"), req.Name)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, d)
	})
	mux.HandleFunc("GET /v1/tenants/{tenant}/databases/{name}", func(w http.ResponseWriter, r *http.Request) {
		d, err := s.Database(r.PathValue("tenant"), r.PathValue("name"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
	})
	s.registerEndpointRoutes(mux)
	mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		var nodes any = []any{}
		if s.cfg.Members != nil {
			nodes = s.cfg.Members.Nodes()
		}
		writeJSON(w, http.StatusOK, map[string]any{"nodes": nodes})
	})
	s.registerAuthRoutes(mux)
	s.registerRaftRoutes(mux)
	return s.requireAdmin(s.route(mux))
}

func (s *Service) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("request_too_large", err.Error()))
			return false
		}
		writeJSON(w, http.StatusBadRequest, errorBody("bad_request", "invalid JSON body: "+err.Error()))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeJSON(w, http.StatusBadRequest, errorBody("bad_request", "invalid JSON body: trailing data"))
		return false
	}
	return true
}

func errorBody(code, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": msg}}
}

func writeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, errorBody("not_found", err.Error()))
	case errors.Is(err, ErrExists):
		writeJSON(w, http.StatusConflict, errorBody("already_exists", err.Error()))
	case errors.Is(err, ErrInvalid):
		writeJSON(w, http.StatusBadRequest, errorBody("invalid", err.Error()))
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrUnavailable):
		if errors.Is(err, ErrNotLeader) {
			// Not applied: a forwarding follower may retry it.
			w.Header().Set(notLeaderHeader, "1")
		}
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, errorBody("unavailable", err.Error()))
	case errors.Is(err, ErrUnauthenticated):
		writeJSON(w, http.StatusUnauthorized, errorBody("unauthenticated", err.Error()))
	default:
		writeJSON(w, http.StatusInternalServerError, errorBody("internal", err.Error()))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
