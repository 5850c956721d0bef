// Package auth verifies the credentials clients present to a compute node
// against the control plane: API keys for the HTTP SQL API and SCRAM-SHA-256
// verifiers of SQL roles for the PostgreSQL protocol.
//
// Verified API keys are cached for Config.TTL and rejected ones for
// Config.NegativeTTL, so a key revoked in the control plane stops working
// on a compute node within TTL (30 s by default), and a key created after a
// failed attempt works within NegativeTTL (5 s). The cache is keyed by the
// SHA-256 of the key, so it holds no secret in the clear. Role verifiers are
// fetched on every PostgreSQL login (logins are rare next to requests) and
// not cached, so a dropped role cannot log in again at once.
package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/xdg-go/scram"
)

// Sentinel errors.
var (
	// ErrUnauthenticated is wrapped when a key or role is unknown, revoked
	// or malformed.
	ErrUnauthenticated = errors.New("auth: unauthenticated")
	// ErrUnavailable is wrapped when the control plane cannot answer.
	ErrUnavailable = errors.New("auth: control plane unavailable")
)

// Principal is who a verified API key speaks for.
type Principal struct {
	// KeyID names the key; "" when authentication is off.
	KeyID  string `json:"id"`
	Tenant string `json:"tenant"`
	// Database is the one database the key may use; "" for every database
	// of Tenant.
	Database string `json:"database"`
	// ReadOnly principals may not write (SQLSTATE 25006).
	ReadOnly bool `json:"read_only"`
}

// Allows reports whether p may use database db of tenant.
func (p Principal) Allows(tenant, db string) bool {
	return p.Tenant == tenant && (p.Database == "" || p.Database == db)
}

// Config configures a ControlPlane client.
type Config struct {
	// URL is the control plane's base URL, e.g. http://127.0.0.1:8433.
	// Required.
	URL string
	// Token is the control plane's admin token. Required.
	Token string
	// HTTPClient makes the calls. Default: a client with a 5 s timeout.
	HTTPClient *http.Client
	// TTL is how long a verified key is trusted without asking again; it
	// bounds how late a revocation takes effect. Default 30 s.
	TTL time.Duration
	// NegativeTTL is how long a rejected key is rejected without asking
	// again. Default 5 s.
	NegativeTTL time.Duration
	// MaxEntries bounds the key cache. Default 10,000.
	MaxEntries int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if c.TTL == 0 {
		c.TTL = 30 * time.Second
	}
	if c.NegativeTTL == 0 {
		c.NegativeTTL = 5 * time.Second
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 10_000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a configuration error.
func (c *Config) Validate() error {
	switch {
	case c.URL == "":
		return errors.New("auth: URL is required")
	case c.Token == "":
		return errors.New("auth: Token (the control plane admin token) is required")
	case c.TTL < 0, c.NegativeTTL < 0, c.MaxEntries < 0:
		return errors.New("auth: TTLs and MaxEntries must not be negative")
	}
	return nil
}

// ControlPlane verifies credentials against the control plane's API.
type ControlPlane struct {
	cfg Config

	mu    sync.Mutex
	cache map[[32]byte]cacheEntry
}

type cacheEntry struct {
	p       Principal
	ok      bool
	expires time.Time
}

// New returns a client of the control plane at cfg.URL.
func New(cfg Config) (*ControlPlane, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &ControlPlane{cfg: cfg, cache: map[[32]byte]cacheEntry{}}, nil
}

// Authenticate returns the principal of API key key, from the cache when
// it was verified (or rejected) recently.
func (c *ControlPlane) Authenticate(ctx context.Context, key string) (Principal, error) {
	h := sha256.Sum256([]byte(key))
	now := c.cfg.Now()
	c.mu.Lock()
	e, hit := c.cache[h]
	c.mu.Unlock()
	if hit && now.Before(e.expires) {
		if !e.ok {
			return Principal{}, fmt.Errorf("%w: unknown or revoked api key", ErrUnauthenticated)
		}
		return e.p, nil
	}
	var p Principal
	err := c.call(ctx, http.MethodPost, "/v1/auth/verify", map[string]string{"key": key}, &p)
	switch {
	case err == nil:
		c.remember(h, cacheEntry{p: p, ok: true, expires: now.Add(c.cfg.TTL)})
		return p, nil
	case errors.Is(err, ErrUnauthenticated):
		c.remember(h, cacheEntry{expires: now.Add(c.cfg.NegativeTTL)})
		return Principal{}, err
	default:
		// The control plane is down: no answer is cached.
		return Principal{}, err
	}
}

func (c *ControlPlane) remember(h [32]byte, e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cache) >= c.cfg.MaxEntries {
		now := c.cfg.Now()
		for k, old := range c.cache {
			if !now.Before(old.expires) {
				delete(c.cache, k)
			}
		}
		if len(c.cache) >= c.cfg.MaxEntries {
			// Still full of live entries (a flood of distinct keys): start
			// over rather than grow without bound.
			clear(c.cache)
		}
	}
	c.cache[h] = e
}

// SCRAMCredentials returns the SCRAM-SHA-256 verifier of role name in
// tenant; an unknown role wraps ErrUnauthenticated.
func (c *ControlPlane) SCRAMCredentials(ctx context.Context, tenant, name string) (scram.StoredCredentials, error) {
	var v struct {
		Salt       string `json:"salt"`
		Iterations int    `json:"iterations"`
		StoredKey  string `json:"stored_key"`
		ServerKey  string `json:"server_key"`
	}
	path := fmt.Sprintf("/v1/tenants/%s/roles/%s/scram", url.PathEscape(tenant), url.PathEscape(name))
	if err := c.call(ctx, http.MethodGet, path, nil, &v); err != nil {
		return scram.StoredCredentials{}, err
	}
	salt, err1 := base64.StdEncoding.DecodeString(v.Salt)
	stored, err2 := base64.StdEncoding.DecodeString(v.StoredKey)
	server, err3 := base64.StdEncoding.DecodeString(v.ServerKey)
	if err := errors.Join(err1, err2, err3); err != nil || v.Iterations <= 0 {
		return scram.StoredCredentials{}, fmt.Errorf("%w: malformed verifier of role %q: %v", ErrUnavailable, name, err)
	}
	return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: v.Iterations},
		StoredKey: stored, ServerKey: server}, nil
}

// call makes one authenticated JSON call; 401 and 404 wrap
// ErrUnauthenticated, anything else that is not 2xx wraps ErrUnavailable.
func (c *ControlPlane) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("auth: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.URL+path, rd)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
			return fmt.Errorf("%w: decode answer: %w", ErrUnavailable, err)
		}
		return nil
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: not found", ErrUnauthenticated)
	case resp.StatusCode == http.StatusUnauthorized && path == "/v1/auth/verify" && c.adminTokenAccepted(resp):
		return fmt.Errorf("%w: unknown or revoked api key", ErrUnauthenticated)
	default:
		return fmt.Errorf("%w: %s %s answered %s", ErrUnavailable, method, path, resp.Status)
	}
}

// adminTokenAccepted tells a rejected API key (the body's code is
// "unauthenticated" with a message about the key) from a rejected admin
// token, which is a configuration error of this node, not the client's.
func (c *ControlPlane) adminTokenAccepted(resp *http.Response) bool {
	return resp.Header.Get("WWW-Authenticate") == ""
}
