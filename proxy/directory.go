package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	controlplane "github.com/phantom-db/phantom/control-plane"
)

// ErrUnknown is wrapped when no endpoint serves the requested database,
// branch or endpoint name.
var ErrUnknown = errors.New("proxy: no such endpoint")

// Directory tells the proxy which endpoint serves a target and which
// computes it has.
type Directory interface {
	// Resolve answers the endpoint serving t (ErrUnknown if none).
	Resolve(ctx context.Context, t Target) (controlplane.Endpoint, error)
	// Computes lists the endpoint's computes.
	Computes(ctx context.Context, ep controlplane.Endpoint) ([]controlplane.Compute, error)
	// Wake asks for a compute of ep and returns once one is ready, or
	// when ctx ends.
	Wake(ctx context.Context, ep controlplane.Endpoint) error
}

// ControlPlane is a Directory over the control plane's REST API. Endpoint
// lists are cached for EndpointTTL and compute lists for ComputeTTL;
// Invalidate drops an endpoint's compute list at once (the proxy calls it
// on every phantom.scale.<endpoint> event).
type ControlPlane struct {
	// BaseURL is the control plane's URL, e.g. http://127.0.0.1:8433.
	BaseURL string
	// Token is the control plane's admin token, sent as a bearer token.
	Token string
	// Client is the HTTP client. Default: one with a 70 s timeout.
	Client *http.Client
	// EndpointTTL and ComputeTTL bound the caches. Defaults 2 s and 1 s.
	EndpointTTL time.Duration
	ComputeTTL  time.Duration

	mu       sync.Mutex
	eps      map[string]cachedEndpoints // tenant/database
	computes map[string]cachedComputes  // endpoint id
}

type cachedEndpoints struct {
	at  time.Time
	eps []controlplane.Endpoint
}

type cachedComputes struct {
	at time.Time
	cs []controlplane.Compute
}

func (d *ControlPlane) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	return &http.Client{Timeout: 70 * time.Second}
}

func (d *ControlPlane) base(tenant, database string) string {
	return fmt.Sprintf("%s/v1/tenants/%s/databases/%s/endpoints", d.BaseURL, url.PathEscape(tenant), url.PathEscape(database))
}

func (d *ControlPlane) get(ctx context.Context, method, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return fmt.Errorf("proxy: control plane request: %w", err)
	}
	if d.Token != "" {
		req.Header.Set("Authorization", "Bearer "+d.Token)
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return fmt.Errorf("proxy: control plane %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %s", ErrUnknown, u)
	}
	if resp.StatusCode != http.StatusOK {
		var body struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return fmt.Errorf("proxy: control plane %s %s: %s: %s", method, u, resp.Status, body.Error.Message)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("proxy: control plane %s %s: decode: %w", method, u, err)
	}
	return nil
}

// Resolve picks the endpoint named t.Endpoint, else the endpoint of
// t.Branch (the read-write one first).
func (d *ControlPlane) Resolve(ctx context.Context, t Target) (controlplane.Endpoint, error) {
	key := t.Tenant + "/" + t.Database
	ttl := d.EndpointTTL
	if ttl == 0 {
		ttl = 2 * time.Second
	}
	d.mu.Lock()
	c, ok := d.eps[key]
	d.mu.Unlock()
	if !ok || time.Since(c.at) > ttl {
		var body struct {
			Endpoints []controlplane.Endpoint `json:"endpoints"`
		}
		if err := d.get(ctx, http.MethodGet, d.base(t.Tenant, t.Database), &body); err != nil {
			return controlplane.Endpoint{}, err
		}
		c = cachedEndpoints{at: time.Now(), eps: body.Endpoints}
		d.mu.Lock()
		if d.eps == nil {
			d.eps = map[string]cachedEndpoints{}
		}
		d.eps[key] = c
		d.mu.Unlock()
	}
	return choose(c.eps, t)
}

// choose picks the endpoint of t among eps. A branch without an endpoint
// of its own is served by the database's (the default branch's): a compute
// runs any branch of its database, and the proxy names the branch in the
// request (HTTP "branch", PostgreSQL SET phantom.branch); the compute
// answers 3D000 for a branch that does not exist.
func choose(eps []controlplane.Endpoint, t Target) (controlplane.Endpoint, error) {
	ep, err := chooseExact(eps, t)
	if errors.Is(err, ErrUnknown) && t.Endpoint == "" && t.Branch != controlplane.DefaultBranch {
		main := t
		main.Branch = controlplane.DefaultBranch
		if ep, merr := chooseExact(eps, main); merr == nil {
			return ep, nil
		}
	}
	return ep, err
}

// chooseExact picks the endpoint named t.Endpoint, else one of t.Branch.
func chooseExact(eps []controlplane.Endpoint, t Target) (controlplane.Endpoint, error) {
	var found *controlplane.Endpoint
	for i := range eps {
		e := &eps[i]
		switch {
		case t.Endpoint != "":
			if e.Name == t.Endpoint {
				return *e, nil
			}
		case e.Branch == t.Branch:
			if found == nil || (e.Mode == controlplane.ModeReadWrite && found.Mode != controlplane.ModeReadWrite) {
				found = e
			}
		}
	}
	if found == nil {
		what := "branch " + strconv.Quote(t.Branch)
		if t.Endpoint != "" {
			what = "endpoint " + strconv.Quote(t.Endpoint)
		}
		return controlplane.Endpoint{}, fmt.Errorf("%w: database %q of tenant %q has no %s", ErrUnknown, t.Database, t.Tenant, what)
	}
	return *found, nil
}

// Computes answers the endpoint's computes, cached for ComputeTTL.
func (d *ControlPlane) Computes(ctx context.Context, ep controlplane.Endpoint) ([]controlplane.Compute, error) {
	ttl := d.ComputeTTL
	if ttl == 0 {
		ttl = time.Second
	}
	d.mu.Lock()
	c, ok := d.computes[ep.ID]
	d.mu.Unlock()
	if ok && time.Since(c.at) <= ttl {
		return c.cs, nil
	}
	var body struct {
		Computes []controlplane.Compute `json:"computes"`
	}
	if err := d.get(ctx, http.MethodGet, d.base(ep.Tenant, ep.Database)+"/"+url.PathEscape(ep.Name)+"/computes", &body); err != nil {
		return nil, err
	}
	d.store(ep.ID, body.Computes)
	return body.Computes, nil
}

func (d *ControlPlane) store(id string, cs []controlplane.Compute) {
	d.mu.Lock()
	if d.computes == nil {
		d.computes = map[string]cachedComputes{}
	}
	d.computes[id] = cachedComputes{at: time.Now(), cs: cs}
	d.mu.Unlock()
}

// Wake asks the control plane to wake ep and waits for the answer.
func (d *ControlPlane) Wake(ctx context.Context, ep controlplane.Endpoint) error {
	timeout := 60 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	u := fmt.Sprintf("%s/%s/wake?timeout_ms=%d", d.base(ep.Tenant, ep.Database), url.PathEscape(ep.Name), max(timeout.Milliseconds(), 1))
	var body struct {
		Computes []controlplane.Compute `json:"computes"`
	}
	if err := d.get(ctx, http.MethodPost, u, &body); err != nil {
		return err
	}
	d.store(ep.ID, body.Computes)
	return nil
}

// Invalidate drops the cached computes of endpoint id.
func (d *ControlPlane) Invalidate(id string) {
	d.mu.Lock()
	delete(d.computes, id)
	d.mu.Unlock()
}
