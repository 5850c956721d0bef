package auth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/phantom-db/phantom/compute/auth"
	controlplane "github.com/phantom-db/phantom/control-plane"
)

const adminToken = "auth-test-admin-token-000"

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func startControlPlane(t *testing.T) (*controlplane.Service, *httptest.Server) {
	t.Helper()
	svc, err := controlplane.New(controlplane.Config{DataDir: t.TempDir(), AdminToken: adminToken,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return svc, srv
}

// TestRevocationWithinTTL: a verified key keeps working from the cache
// until the TTL passes, then the revocation is seen; a rejected key stays
// rejected for the negative TTL.
func TestRevocationWithinTTL(t *testing.T) {
	svc, srv := startControlPlane(t)
	clk := &clock{now: time.Unix(1_000_000, 0)}
	cp, err := auth.New(auth.Config{URL: srv.URL, Token: adminToken, TTL: 30 * time.Second, NegativeTTL: 5 * time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	k, err := svc.CreateAPIKey("default", "phantom", true)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cp.Authenticate(ctx, k.Key)
	if err != nil || p.KeyID != k.ID || p.Tenant != "default" || p.Database != "phantom" || !p.ReadOnly {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	if !p.Allows("default", "phantom") || p.Allows("default", "other") || p.Allows("other", "phantom") {
		t.Fatalf("Allows of %+v", p)
	}
	if err := svc.RevokeAPIKey("default", k.ID); err != nil {
		t.Fatal(err)
	}
	clk.add(29 * time.Second)
	if _, err := cp.Authenticate(ctx, k.Key); err != nil {
		t.Fatalf("within the TTL the cached verification holds: %v", err)
	}
	clk.add(2 * time.Second)
	if _, err := cp.Authenticate(ctx, k.Key); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("after the TTL a revoked key must fail: %v", err)
	}

	// Negative cache: a wrong key is rejected without a call, until it
	// expires.
	bad := "phk_0000000000000000_" + "00000000000000000000000000000000000000000000000000000000000000000"[:64]
	if _, err := cp.Authenticate(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("bad key: %v", err)
	}
	srv.Close() // any further call would now fail with ErrUnavailable
	if _, err := cp.Authenticate(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("negative cache hit: %v", err)
	}
	clk.add(6 * time.Second)
	if _, err := cp.Authenticate(ctx, bad); !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("control plane down after the negative TTL: %v", err)
	}
}

func TestWrongAdminTokenIsUnavailableNotUnauthenticated(t *testing.T) {
	svc, srv := startControlPlane(t)
	k, _ := svc.CreateAPIKey("default", "", false)
	cp, _ := auth.New(auth.Config{URL: srv.URL, Token: "not-the-admin-token"})
	if _, err := cp.Authenticate(context.Background(), k.Key); !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("misconfigured admin token: %v, want ErrUnavailable", err)
	}
}

func TestSCRAMCredentials(t *testing.T) {
	svc, srv := startControlPlane(t)
	if _, err := svc.CreateRole("default", "app", "secret"); err != nil {
		t.Fatal(err)
	}
	cp, _ := auth.New(auth.Config{URL: srv.URL, Token: adminToken})
	c, err := cp.SCRAMCredentials(context.Background(), "default", "app")
	if err != nil || c.Iters != 4096 || len(c.Salt) != 16 || len(c.StoredKey) != 32 || len(c.ServerKey) != 32 {
		t.Fatalf("credentials: %+v %v", c, err)
	}
	if _, err := cp.SCRAMCredentials(context.Background(), "default", "nobody"); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("unknown role: %v", err)
	}
}
