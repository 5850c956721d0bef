package provision

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain doubles as a fake `phantom compute` when re-executed with
// FAKE_COMPUTE set: it serves /healthz on --http-addr until SIGTERM
// ("ok"), or exits at once ("crash").
func TestMain(m *testing.M) {
	switch os.Getenv("FAKE_COMPUTE") {
	case "":
		os.Exit(m.Run())
	case "crash":
		os.Stderr.WriteString("fake compute: cannot start\n")
		os.Exit(3)
	}
	fs := flag.NewFlagSet("compute", flag.ContinueOnError)
	httpAddr := fs.String("http-addr", "", "")
	for _, f := range []string{"node-id", "pg-addr", "logservice", "pageserver", "control-plane", "tenant", "database", "endpoint", "nats-url", "log-level"} {
		fs.String(f, "", "")
	}
	if err := fs.Parse(os.Args[2:]); err != nil {
		os.Exit(2)
	}
	srv := &http.Server{Addr: *httpAddr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go func() { _ = srv.ListenAndServe() }()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	<-ch
	os.Stderr.WriteString("fake compute: drained\n")
	os.Exit(0)
}

func newLocal(t *testing.T, mode string, changes *[]string, mu *sync.Mutex) *Local {
	t.Helper()
	t.Setenv("FAKE_COMPUTE", mode)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLocal(LocalConfig{Binary: exe, LogService: "127.0.0.1:1", PageServer: "127.0.0.1:2", ControlPlane: "http://127.0.0.1:3",
		LogDir: t.TempDir(), ExtraArgs: []string{"--log-level", "warn"}, DrainGrace: 50 * time.Millisecond, StopTimeout: 5 * time.Second,
		ReadyTimeout: 20 * time.Second, Logger: slog.New(slog.DiscardHandler),
		OnChange: func(ep string) { mu.Lock(); *changes = append(*changes, ep); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLocalStartReadyDrain(t *testing.T) {
	var mu sync.Mutex
	var changes []string
	l := newLocal(t, "ok", &changes, &mu)
	ctx := context.Background()
	in, err := l.Start(ctx, Spec{Endpoint: "ep-7", Tenant: "default", Database: "phantom", Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if in.State != StateReady || in.ID != "ep-7-c1" || in.ReadyAt.IsZero() || in.HTTPAddr == in.PGAddr {
		t.Fatalf("instance %+v", in)
	}
	resp, err := http.Get("http://" + in.HTTPAddr + "/healthz")
	if err != nil {
		t.Fatalf("the started compute does not answer: %v", err)
	}
	resp.Body.Close()
	if got := l.Instances("ep-7"); len(got) != 1 || got[0].ID != in.ID {
		t.Fatalf("instances %+v", got)
	}
	if got := l.Instances("ep-8"); len(got) != 0 {
		t.Fatalf("instances of another endpoint %+v", got)
	}
	if err := l.Drain(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	if got := l.Instances(""); len(got) != 0 {
		t.Fatalf("after drain: %+v", got)
	}
	b, _ := os.ReadFile(l.LogPath(in.ID))
	if !strings.Contains(string(b), "fake compute: drained") {
		t.Fatalf("the compute was not stopped by SIGTERM; log: %q", b)
	}
	if err := l.Drain(ctx, in.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second drain: %v", err)
	}
	// starting, ready, draining, exited: each reported.
	mu.Lock()
	n := len(changes)
	mu.Unlock()
	if n < 4 {
		t.Fatalf("%d changes reported, want >= 4", n)
	}
}

func TestLocalStartFailsWithLog(t *testing.T) {
	var mu sync.Mutex
	var changes []string
	l := newLocal(t, "crash", &changes, &mu)
	_, err := l.Start(context.Background(), Spec{Endpoint: "ep-1", Tenant: "default", Database: "phantom"})
	if err == nil || !strings.Contains(err.Error(), "cannot start") {
		t.Fatalf("start of a crashing compute: %v", err)
	}
	if got := l.Instances(""); len(got) != 0 {
		t.Fatalf("a failed compute is listed: %+v", got)
	}
}
