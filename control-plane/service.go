package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Config configures the control plane service.
type Config struct {
	// DataDir holds the control plane's state file (state.json). Required.
	DataDir string
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

// Service is the control plane: metadata state plus its REST API.
type Service struct {
	cfg  Config
	path string

	mu sync.Mutex
	st *state
	// branchMu serializes branch creation and deletion (which call the
	// log service without holding mu).
	branchMu sync.Mutex

	scaler scalerSlot // endpoints.go

	auth *authStore // API keys and roles (apikeys.go, roles.go)
}

// New loads (or creates) the state under cfg.DataDir and registers the
// default tenant and database.
func New(cfg Config) (*Service, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("controlplane: create data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "state.json")
	st, err := loadState(path)
	if err != nil {
		return nil, err
	}
	auth, err := loadAuthStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, path: path, st: st, auth: auth}
	if _, err := s.CreateTenant(cfg.DefaultTenant); err != nil && !errors.Is(err, ErrExists) {
		return nil, err
	}
	if _, err := s.CreateDatabase(cfg.DefaultTenant, cfg.DefaultDatabase); err != nil && !errors.Is(err, ErrExists) {
		return nil, err
	}
	return s, nil
}

// CreateTenant registers a tenant.
func (s *Service) CreateTenant(name string) (Tenant, error) {
	if err := validName("tenant", name); err != nil {
		return Tenant{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.tenant(name); ok {
		return Tenant{}, fmt.Errorf("%w: tenant %q", ErrExists, name)
	}
	t := Tenant{Name: name, CreatedAt: s.cfg.Now().UTC()}
	next := *s.st
	next.Tenants = append(append([]Tenant(nil), s.st.Tenants...), t)
	if err := s.commit(&next); err != nil {
		return Tenant{}, err
	}
	s.cfg.Logger.Info("tenant created", "tenant", name)
	return t, nil
}

// CreateDatabase registers a database in tenant and assigns it a new id.
func (s *Service) CreateDatabase(tenant, name string) (Database, error) {
	if err := validName("database", name); err != nil {
		return Database{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.tenant(tenant); !ok {
		return Database{}, fmt.Errorf("%w: tenant %q", ErrNotFound, tenant)
	}
	if _, ok := s.st.database(tenant, name); ok {
		return Database{}, fmt.Errorf("%w: database %q", ErrExists, name)
	}
	d := Database{ID: s.st.NextDBID, Name: name, Tenant: tenant, CreatedAt: s.cfg.Now().UTC()}
	next := *s.st
	next.Databases = append(append([]Database(nil), s.st.Databases...), d)
	next.NextDBID++
	if err := s.commit(&next); err != nil {
		return Database{}, err
	}
	s.cfg.Logger.Info("database created", "tenant", tenant, "database", name, "id", d.ID)
	return d, nil
}

// Database looks a database up by tenant and name.
func (s *Service) Database(tenant, name string) (Database, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.st.database(tenant, name)
	if !ok {
		return Database{}, fmt.Errorf("%w: database %q in tenant %q", ErrNotFound, name, tenant)
	}
	return d, nil
}

// commit persists next and makes it current; on error nothing changes.
// Callers hold s.mu.
func (s *Service) commit(next *state) error {
	next.sortAll()
	if err := next.save(s.path); err != nil {
		return err
	}
	s.st = next
	return nil
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
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /v1/tenants", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ts := append([]Tenant{}, s.st.Tenants...)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"tenants": ts})
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
		tenant := r.PathValue("tenant")
		s.mu.Lock()
		_, ok := s.st.tenant(tenant)
		dbs := []Database{}
		for _, d := range s.st.Databases {
			if d.Tenant == tenant {
				dbs = append(dbs, d)
			}
		}
		s.mu.Unlock()
		if !ok {
			writeError(w, fmt.Errorf("%w: tenant %q", ErrNotFound, tenant))
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
	s.registerClusterRoutes(mux) // cluster.go
	return s.requireAdmin(mux)
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
