package natsbus_test

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phantom-db/phantom/internal/natsbus"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startServer starts an embedded server on a free 127.0.0.1 port.
func startServer(t *testing.T) *natsbus.EmbeddedServer {
	t.Helper()
	s, err := natsbus.StartEmbedded(natsbus.ServerConfig{Logger: quietLogger()})
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, s *natsbus.EmbeddedServer) *nats.Conn {
	t.Helper()
	nc, err := s.Connect()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestEmbeddedServerFreePortPubSub(t *testing.T) {
	a, b := startServer(t), startServer(t)
	if a.ClientURL() == b.ClientURL() {
		t.Fatalf("two servers share %s", a.ClientURL())
	}
	if !strings.HasPrefix(a.ClientURL(), "nats://127.0.0.1:") || strings.HasSuffix(a.ClientURL(), ":4222") || strings.HasSuffix(a.ClientURL(), ":0") {
		t.Fatalf("ClientURL = %q, want a free port on 127.0.0.1", a.ClientURL())
	}
	nc := connect(t, a)
	sub, err := nc.SubscribeSync(natsbus.SubjectRoot)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := natsbus.CatalogChangedSubject("db1")
	if err := nc.Publish(subj, []byte("x")); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil || msg.Subject != subj || string(msg.Data) != "x" {
		t.Fatalf("NextMsg = %v, %v; want x on %s", msg, err, subj)
	}
}

func TestEmbeddedServerFixedPortAndShutdown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	// While the port is taken the server cannot become ready.
	_, err = natsbus.StartEmbedded(natsbus.ServerConfig{Port: port, ReadyTimeout: 300 * time.Millisecond, Logger: quietLogger()})
	if !errors.Is(err, natsbus.ErrNotReady) {
		t.Fatalf("StartEmbedded on a busy port = %v, want ErrNotReady", err)
	}
	l.Close()
	s, err := natsbus.StartEmbedded(natsbus.ServerConfig{Port: port, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("StartEmbedded on a fixed port: %v", err)
	}
	if !strings.HasSuffix(s.ClientURL(), ":"+strconv.Itoa(port)) {
		t.Fatalf("ClientURL = %q, want port %d", s.ClientURL(), port)
	}
	nc, err := s.Connect(nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s.Shutdown()
	s.Shutdown() // idempotent
	if _, err := nats.Connect(s.ClientURL(), nats.Timeout(time.Second)); err == nil {
		t.Fatal("connected after Shutdown")
	}
}

func TestEmbeddedServerJetStreamTempDir(t *testing.T) {
	s, err := natsbus.StartEmbedded(natsbus.ServerConfig{JetStream: true, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("StartEmbedded with JetStream: %v", err)
	}
	dir := s.Server().StoreDir()
	if dir == "" {
		s.Shutdown()
		t.Fatal("JetStream has no store dir")
	}
	nc := connect(t, s)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(); err != nil {
		t.Fatalf("JetStream AccountInfo: %v", err)
	}
	s.Shutdown()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary store dir %s left after Shutdown: %v", dir, err)
	}
}

func TestServerConfigValidate(t *testing.T) {
	for _, c := range []natsbus.ServerConfig{{Port: -1}, {Port: 70000}, {ReadyTimeout: -time.Second}} {
		c.EnsureDefaults()
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
	var c natsbus.ServerConfig
	c.EnsureDefaults()
	if err := c.Validate(); err != nil || c.Host != "127.0.0.1" || c.ReadyTimeout != 10*time.Second {
		t.Fatalf("defaults %+v: %v", c, err)
	}
}
