package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Endpoint access modes.
const (
	// ModeReadWrite endpoints run reads and writes; at most one per branch.
	ModeReadWrite = "read-write"
	// ModeReadOnly endpoints are read replicas of a branch.
	ModeReadOnly = "read-only"
)

// Endpoint defaults applied on create when a field is omitted.
const (
	// DefaultBranch is the branch an endpoint serves when none is named.
	DefaultBranch = "main"
	// DefaultMaxComputes bounds an endpoint's computes when unset.
	DefaultMaxComputes = 1
	// DefaultIdleTimeoutMS is the scale-to-zero idle timeout when unset.
	DefaultIdleTimeoutMS = 5 * 60 * 1000
	// DefaultTargetInFlight is the average number of in-flight queries per
	// compute the autoscaler aims for when unset.
	DefaultTargetInFlight = 4.0
	// DefaultCooldownMS is the scale-up and scale-down cooldown when unset.
	DefaultCooldownMS = 30 * 1000
	// MaxComputesLimit caps MaxComputes.
	MaxComputesLimit = 64
)

// ScalingPolicy tunes how the autoscaler sizes an endpoint between its
// MinComputes and MaxComputes.
type ScalingPolicy struct {
	// TargetInFlight is the average number of executing queries per compute
	// the autoscaler aims for: computes = ceil(total / TargetInFlight).
	TargetInFlight float64 `json:"target_in_flight"`
	// ScaleUpCooldownMS is the least time between two scale-ups.
	ScaleUpCooldownMS int64 `json:"scale_up_cooldown_ms"`
	// ScaleDownCooldownMS is the least time after any scaling before a
	// scale-down.
	ScaleDownCooldownMS int64 `json:"scale_down_cooldown_ms"`
}

// Endpoint is a pool of compute nodes serving one branch of a database: the
// unit the proxy routes to and the autoscaler sizes.
type Endpoint struct {
	// ID is unique in the cluster and never reused ("ep-<n>"); it names the
	// endpoint in NATS subjects and compute node ids.
	ID string `json:"id"`
	// Name is unique among the endpoints of a database.
	Name     string `json:"name"`
	Tenant   string `json:"tenant"`
	Database string `json:"database"`
	Branch   string `json:"branch"`
	// MinComputes is the least number of computes kept running; 0 lets the
	// endpoint scale to zero after IdleTimeoutMS without activity.
	MinComputes int `json:"min_computes"`
	// MaxComputes is the most computes the autoscaler starts.
	MaxComputes int `json:"max_computes"`
	// IdleTimeoutMS is how long an endpoint with MinComputes 0 may go
	// without sessions or queries before it is scaled to zero; 0 never.
	IdleTimeoutMS int64 `json:"idle_timeout_ms"`
	// Mode is ModeReadWrite or ModeReadOnly.
	Mode      string        `json:"mode"`
	Policy    ScalingPolicy `json:"policy"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// IdleTimeout is IdleTimeoutMS as a duration.
func (e Endpoint) IdleTimeout() time.Duration {
	return time.Duration(e.IdleTimeoutMS) * time.Millisecond
}

// EndpointSpec is the body of POST .../endpoints; omitted fields take the
// defaults above.
type EndpointSpec struct {
	Name          string         `json:"name"`
	Branch        string         `json:"branch,omitempty"`
	MinComputes   *int           `json:"min_computes,omitempty"`
	MaxComputes   *int           `json:"max_computes,omitempty"`
	IdleTimeoutMS *int64         `json:"idle_timeout_ms,omitempty"`
	Mode          string         `json:"mode,omitempty"`
	Policy        *ScalingPolicy `json:"policy,omitempty"`
}

// EndpointPatch is the body of PATCH .../endpoints/{endpoint}: the fields
// present are changed. Branch, name and mode are fixed at creation.
type EndpointPatch struct {
	MinComputes   *int           `json:"min_computes,omitempty"`
	MaxComputes   *int           `json:"max_computes,omitempty"`
	IdleTimeoutMS *int64         `json:"idle_timeout_ms,omitempty"`
	Policy        *ScalingPolicy `json:"policy,omitempty"`
}

// Compute is one compute node of an endpoint as the Scaler reports it.
type Compute struct {
	// ID is the compute's node id.
	ID string `json:"id"`
	// Endpoint is the endpoint's id.
	Endpoint string `json:"endpoint"`
	// HTTPAddr and PGAddr are the compute's API addresses.
	HTTPAddr string `json:"http_addr"`
	PGAddr   string `json:"pg_addr"`
	// State is "starting", "ready" or "draining"; the proxy routes new work
	// only to ready computes.
	State     string    `json:"state"`
	StartedAt time.Time `json:"started_at"`
	// ReadyAt is when the compute first answered /healthz (zero while
	// starting).
	ReadyAt time.Time `json:"ready_at,omitzero"`
}

// Scaler runs an endpoint's computes (the autoscaler over a provisioner).
type Scaler interface {
	// Computes lists the endpoint's computes.
	Computes(endpointID string) []Compute
	// Wake asks for at least one compute of a scaled-to-zero endpoint and
	// waits until one is ready or ctx is done.
	Wake(ctx context.Context, endpointID string) error
}

// ErrNoScaler is wrapped when an endpoint's computes are asked for but the
// control plane runs without a provisioner.
var ErrNoScaler = errors.New("controlplane: no provisioner configured")

type scalerSlot struct {
	mu sync.Mutex
	s  Scaler
}

// SetScaler installs the Scaler that runs endpoints' computes (nil: none).
func (s *Service) SetScaler(sc Scaler) {
	s.scaler.mu.Lock()
	s.scaler.s = sc
	s.scaler.mu.Unlock()
}

func (s *Service) getScaler() Scaler {
	s.scaler.mu.Lock()
	defer s.scaler.mu.Unlock()
	return s.scaler.s
}

func validMode(m string) error {
	if m != ModeReadWrite && m != ModeReadOnly {
		return fmt.Errorf("%w: mode %q must be %q or %q", ErrInvalid, m, ModeReadWrite, ModeReadOnly)
	}
	return nil
}

// validate checks the sizes and policy of e.
func (e *Endpoint) validate() error {
	if e.MinComputes < 0 || e.MaxComputes < 1 || e.MaxComputes > MaxComputesLimit || e.MinComputes > e.MaxComputes {
		return fmt.Errorf("%w: need 0 <= min_computes (%d) <= max_computes (%d), 1 <= max_computes <= %d",
			ErrInvalid, e.MinComputes, e.MaxComputes, MaxComputesLimit)
	}
	if e.IdleTimeoutMS < 0 {
		return fmt.Errorf("%w: idle_timeout_ms %d < 0", ErrInvalid, e.IdleTimeoutMS)
	}
	p := e.Policy
	if !(p.TargetInFlight > 0) || p.TargetInFlight > 1e6 {
		return fmt.Errorf("%w: policy.target_in_flight %v must be in (0, 1e6]", ErrInvalid, p.TargetInFlight)
	}
	if p.ScaleUpCooldownMS < 0 || p.ScaleDownCooldownMS < 0 {
		return fmt.Errorf("%w: policy cooldowns must be >= 0", ErrInvalid)
	}
	return nil
}

// CreateEndpoint registers an endpoint of tenant/database. A branch has at
// most one read-write endpoint.
func (s *Service) CreateEndpoint(tenant, database string, spec EndpointSpec) (Endpoint, error) {
	if err := validName("endpoint", spec.Name); err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{Name: spec.Name, Tenant: tenant, Database: database, Branch: spec.Branch, Mode: spec.Mode,
		MaxComputes: DefaultMaxComputes, IdleTimeoutMS: DefaultIdleTimeoutMS,
		Policy: ScalingPolicy{TargetInFlight: DefaultTargetInFlight, ScaleUpCooldownMS: DefaultCooldownMS, ScaleDownCooldownMS: DefaultCooldownMS}}
	if e.Branch == "" {
		e.Branch = DefaultBranch
	}
	if err := validName("branch", e.Branch); err != nil {
		return Endpoint{}, err
	}
	if e.Mode == "" {
		e.Mode = ModeReadWrite
	}
	if err := validMode(e.Mode); err != nil {
		return Endpoint{}, err
	}
	if spec.MinComputes != nil {
		e.MinComputes = *spec.MinComputes
	}
	if spec.MaxComputes != nil {
		e.MaxComputes = *spec.MaxComputes
	} else if e.MinComputes > e.MaxComputes {
		e.MaxComputes = e.MinComputes
	}
	if spec.IdleTimeoutMS != nil {
		e.IdleTimeoutMS = *spec.IdleTimeoutMS
	}
	if spec.Policy != nil {
		e.Policy = *spec.Policy
	}
	if err := e.validate(); err != nil {
		return Endpoint{}, err
	}
	v, err := s.propose(&command{Op: opCreateEndpoint, Endpoint: &e, At: s.cfg.Now().UTC()})
	if err != nil {
		return Endpoint{}, err
	}
	e = v.(Endpoint)
	s.cfg.Logger.Info("endpoint created", "tenant", tenant, "database", database, "endpoint", e.Name, "id", e.ID,
		"branch", e.Branch, "min", e.MinComputes, "max", e.MaxComputes)
	return e, nil
}

// Endpoint looks an endpoint up by tenant, database and name.
func (s *Service) Endpoint(tenant, database, name string) (Endpoint, error) {
	var e Endpoint
	i := -1
	s.fsm.read(func(st *state, _ *authState) {
		if i = st.endpoint(tenant, database, name); i >= 0 {
			e = st.Endpoints[i]
		}
	})
	if i < 0 {
		return Endpoint{}, fmt.Errorf("%w: endpoint %q of database %q in tenant %q", ErrNotFound, name, database, tenant)
	}
	return e, nil
}

// Endpoints lists the endpoints of tenant/database; empty strings list
// every endpoint of the cluster.
func (s *Service) Endpoints(tenant, database string) ([]Endpoint, error) {
	ok := true
	out := []Endpoint{}
	s.fsm.read(func(st *state, _ *authState) {
		if tenant != "" || database != "" {
			_, ok = st.database(tenant, database)
		}
		for _, e := range st.Endpoints {
			if (tenant == "" && database == "") || (e.Tenant == tenant && e.Database == database) {
				out = append(out, e)
			}
		}
	})
	if !ok {
		return nil, fmt.Errorf("%w: database %q in tenant %q", ErrNotFound, database, tenant)
	}
	return out, nil
}

// UpdateEndpoint applies patch to an endpoint.
func (s *Service) UpdateEndpoint(tenant, database, name string, patch EndpointPatch) (Endpoint, error) {
	// Refuse a bad patch before proposing it (the FSM checks again).
	if cur, err := s.Endpoint(tenant, database, name); err == nil {
		e := cur.patched(patch)
		if err := e.validate(); err != nil {
			return Endpoint{}, err
		}
	}
	v, err := s.propose(&command{Op: opUpdateEndpoint, Tenant: tenant, Database: database, Name: name,
		Patch: &patch, At: s.cfg.Now().UTC()})
	if err != nil {
		return Endpoint{}, err
	}
	e := v.(Endpoint)
	s.cfg.Logger.Info("endpoint updated", "endpoint", e.ID, "min", e.MinComputes, "max", e.MaxComputes)
	return e, nil
}

// patched is e with the fields present in patch changed.
func (e Endpoint) patched(patch EndpointPatch) Endpoint {
	if patch.MinComputes != nil {
		e.MinComputes = *patch.MinComputes
	}
	if patch.MaxComputes != nil {
		e.MaxComputes = *patch.MaxComputes
	}
	if patch.IdleTimeoutMS != nil {
		e.IdleTimeoutMS = *patch.IdleTimeoutMS
	}
	if patch.Policy != nil {
		e.Policy = *patch.Policy
	}
	return e
}

// DeleteEndpoint removes an endpoint; the autoscaler then stops its
// computes.
func (s *Service) DeleteEndpoint(tenant, database, name string) error {
	v, err := s.propose(&command{Op: opDeleteEndpoint, Tenant: tenant, Database: database, Name: name})
	if err != nil {
		return err
	}
	s.cfg.Logger.Info("endpoint deleted", "endpoint", v)
	return nil
}

func (st *state) endpoint(tenant, database, name string) int {
	for i, e := range st.Endpoints {
		if e.Tenant == tenant && e.Database == database && e.Name == name {
			return i
		}
	}
	return -1
}

// registerEndpointRoutes adds:
//
//	GET    /v1/tenants/{tenant}/databases/{database}/endpoints
//	POST   /v1/tenants/{tenant}/databases/{database}/endpoints             EndpointSpec
//	GET    /v1/tenants/{tenant}/databases/{database}/endpoints/{endpoint}
//	PATCH  /v1/tenants/{tenant}/databases/{database}/endpoints/{endpoint}  EndpointPatch
//	DELETE /v1/tenants/{tenant}/databases/{database}/endpoints/{endpoint}
//	GET    /v1/tenants/{tenant}/databases/{database}/endpoints/{endpoint}/computes
//	POST   /v1/tenants/{tenant}/databases/{database}/endpoints/{endpoint}/wake   ?timeout_ms=
func (s *Service) registerEndpointRoutes(mux *http.ServeMux) {
	const base = "/v1/tenants/{tenant}/databases/{database}/endpoints"
	mux.HandleFunc("GET "+base, func(w http.ResponseWriter, r *http.Request) {
		eps, err := s.Endpoints(r.PathValue("tenant"), r.PathValue("database"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"endpoints": eps})
	})
	mux.HandleFunc("POST "+base, func(w http.ResponseWriter, r *http.Request) {
		var spec EndpointSpec
		if !s.decode(w, r, &spec) {
			return
		}
		e, err := s.CreateEndpoint(r.PathValue("tenant"), r.PathValue("database"), spec)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, e)
	})
	mux.HandleFunc("GET "+base+"/{endpoint}", func(w http.ResponseWriter, r *http.Request) {
		e, err := s.Endpoint(r.PathValue("tenant"), r.PathValue("database"), r.PathValue("endpoint"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, e)
	})
	mux.HandleFunc("PATCH "+base+"/{endpoint}", func(w http.ResponseWriter, r *http.Request) {
		var patch EndpointPatch
		if !s.decode(w, r, &patch) {
			return
		}
		e, err := s.UpdateEndpoint(r.PathValue("tenant"), r.PathValue("database"), r.PathValue("endpoint"), patch)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, e)
	})
	mux.HandleFunc("DELETE "+base+"/{endpoint}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteEndpoint(r.PathValue("tenant"), r.PathValue("database"), r.PathValue("endpoint")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET "+base+"/{endpoint}/computes", func(w http.ResponseWriter, r *http.Request) {
		e, err := s.Endpoint(r.PathValue("tenant"), r.PathValue("database"), r.PathValue("endpoint"))
		if err != nil {
			writeError(w, err)
			return
		}
		computes := []Compute{}
		if sc := s.getScaler(); sc != nil {
			computes = append(computes, sc.Computes(e.ID)...)
		}
		writeJSON(w, http.StatusOK, map[string]any{"endpoint": e, "computes": computes})
	})
	mux.HandleFunc("POST "+base+"/{endpoint}/wake", func(w http.ResponseWriter, r *http.Request) {
		e, err := s.Endpoint(r.PathValue("tenant"), r.PathValue("database"), r.PathValue("endpoint"))
		if err != nil {
			writeError(w, err)
			return
		}
		sc := s.getScaler()
		if sc == nil {
			writeJSON(w, http.StatusServiceUnavailable, errorBody("no_provisioner", ErrNoScaler.Error()))
			return
		}
		timeout := 60 * time.Second
		if v := r.URL.Query().Get("timeout_ms"); v != "" {
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms <= 0 || ms > 600_000 {
				writeJSON(w, http.StatusBadRequest, errorBody("invalid", "timeout_ms must be an integer in (0, 600000]"))
				return
			}
			timeout = time.Duration(ms) * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		if err := sc.Wake(ctx, e.ID); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, errorBody("not_ready", fmt.Sprintf("endpoint %s: %v", e.ID, err)))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"endpoint": e, "computes": sc.Computes(e.ID)})
	})
}
