// Package coldstart measures how long a client waits for the first result
// from a compute endpoint scaled to zero: through the proxy, over HTTP and
// over the PostgreSQL protocol, with a breakdown of where the time goes.
// The peer measured in the same run is the same query on the same, now
// warm, compute.
package coldstart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phantom-db/phantom/internal/natsbus"
)

// Config configures a run.
type Config struct {
	// PhantomBin is the phantom binary. Required.
	PhantomBin string
	// Runs is the number of cold starts per protocol. Default 20.
	Runs int
	// Rows is the size of the table the first query scans. Default 1000.
	Rows int
	// WorkDir is the parent of the temp dir. Default: the system temp dir.
	WorkDir string
	// KeepData keeps the temp dir.
	KeepData bool
	// Progress receives one line per run (nil: none).
	Progress io.Writer
	// Logger receives logs. Default slog.Default().
	Logger *slog.Logger
}

// Sample is one cold start.
type Sample struct {
	// Total is from the client's first byte to the first query result.
	Total time.Duration
	// Spawn is from the client's request to the compute process started
	// (proxy asks the control plane to wake, autoscaler decides, exec).
	Spawn time.Duration
	// Boot is from process start to /healthz ready (Go runtime start,
	// database id from the control plane, storage clients, listeners).
	Boot time.Duration
	// FirstQuery is from ready to the first result (the proxy sees the
	// ready compute and forwards, catalog load and first page server
	// reads of the first query).
	FirstQuery time.Duration
	// Warm is the same query again on the same connection (the peer).
	Warm time.Duration
}

// Result holds the samples per protocol.
type Result struct {
	Command string
	HTTP    []Sample
	PG      []Sample
}

type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

type cluster struct {
	dir     string
	ns      *natsbus.EmbeddedServer
	procs   []*proc
	cpURL   string
	proxy   string
	proxyPG string
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (c *cluster) start(bin, name string, args ...string) error {
	logPath := filepath.Join(c.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("coldstart: start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.exited) }()
	c.procs = append(c.procs, p)
	return nil
}

func waitHTTP(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("coldstart: %s not ready: %w", url, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *cluster) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
		}
	}
	if c.ns != nil {
		c.ns.Shutdown()
	}
}

func startCluster(ctx context.Context, cfg Config, dir string) (*cluster, error) {
	c := &cluster{dir: dir}
	ns, err := natsbus.StartEmbedded(natsbus.ServerConfig{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	c.ns = ns
	addrs := make([]string, 8)
	for i := range addrs {
		if addrs[i], err = freeAddr(); err != nil {
			return c, err
		}
	}
	logGRPC, pageGRPC, cpHTTP, proxyHTTP, proxyPG := addrs[0], addrs[1], addrs[2], addrs[3], addrs[4]
	c.cpURL, c.proxy, c.proxyPG = "http://"+cpHTTP, "http://"+proxyHTTP, proxyPG
	bin := cfg.PhantomBin
	steps := [][]string{
		{"logservice", "logservice", "--data-dir", filepath.Join(dir, "log"), "--grpc-addr", logGRPC, "--raft-addr", addrs[5], "--http-addr", addrs[6], "--log-level", "warn"},
		{"pageserver", "pageserver", "--data-dir", filepath.Join(dir, "page"), "--grpc-addr", pageGRPC, "--http-addr", addrs[7],
			"--logservice", logGRPC, "--object-store", filepath.Join(dir, "objects"), "--log-level", "warn"},
		{"control-plane", "control-plane", "--data-dir", filepath.Join(dir, "cp"), "--http-addr", cpHTTP, "--nats-url", ns.ClientURL(),
			"--provisioner", "local", "--compute-logservice", logGRPC, "--compute-pageserver", pageGRPC, "--compute-bin", bin,
			"--compute-args", "--log-level warn", "--autoscale-interval", "100ms", "--drain-grace", "1ms", "--log-level", "warn"},
		{"proxy", "proxy", "--http-addr", proxyHTTP, "--pg-addr", proxyPG, "--control-plane", c.cpURL, "--nats-url", ns.ClientURL(), "--log-level", "warn"},
	}
	for _, s := range steps {
		if err := c.start(bin, s[0], s[1:]...); err != nil {
			return c, err
		}
	}
	for _, u := range []string{c.cpURL + "/healthz", c.proxy + "/healthz", "http://" + addrs[7] + "/healthz"} {
		if err := waitHTTP(ctx, u); err != nil {
			return c, err
		}
	}
	return c, nil
}

const epBase = "/v1/tenants/default/databases/phantom/endpoints"

type computeInfo struct {
	State     string    `json:"state"`
	StartedAt time.Time `json:"started_at"`
	ReadyAt   time.Time `json:"ready_at"`
}

func (c *cluster) computes(ctx context.Context) ([]computeInfo, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.cpURL+epBase+"/main/computes", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Computes []computeInfo `json:"computes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	return body.Computes, nil
}

// waitZero waits until the endpoint has no compute process left.
func (c *cluster) waitZero(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		cs, err := c.computes(ctx)
		if err == nil && len(cs) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("coldstart: endpoint not at zero: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func sqlHTTP(ctx context.Context, base, query string) error {
	b, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/sql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("coldstart: %s: %s: %s", query, resp.Status, body)
	}
	return nil
}

const firstQuery = "SELECT count(*), sum(qty) FROM items"

// Run starts the cluster, creates endpoint main (min 0, idle 300 ms) with a
// table of cfg.Rows rows, and measures cfg.Runs cold starts per protocol.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.PhantomBin == "" {
		return nil, errors.New("coldstart: PhantomBin is required")
	}
	if cfg.Runs <= 0 {
		cfg.Runs = 20
	}
	if cfg.Rows <= 0 {
		cfg.Rows = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dir, err := os.MkdirTemp(cfg.WorkDir, "phantom-coldstart-")
	if err != nil {
		return nil, err
	}
	if !cfg.KeepData {
		defer os.RemoveAll(dir)
	}
	c, err := startCluster(ctx, cfg, dir)
	defer func() {
		if c != nil {
			c.stop()
		}
	}()
	if err != nil {
		return nil, err
	}
	spec := `{"name":"main","min_computes":0,"max_computes":1,"idle_timeout_ms":300}`
	resp, err := http.Post(c.cpURL+epBase, "application/json", strings.NewReader(spec))
	if err != nil {
		return nil, fmt.Errorf("coldstart: create endpoint: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("coldstart: create endpoint: %s", resp.Status)
	}
	if err := sqlHTTP(ctx, c.proxy, "CREATE TABLE items (id INT PRIMARY KEY, qty BIGINT)"); err != nil {
		return nil, err
	}
	for i := 0; i < cfg.Rows; i += 500 {
		var sb strings.Builder
		sb.WriteString("INSERT INTO items (id, qty) VALUES ")
		for j := i; j < min(i+500, cfg.Rows); j++ {
			if j > i {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "(%d, %d)", j, j)
		}
		if err := sqlHTTP(ctx, c.proxy, sb.String()); err != nil {
			return nil, err
		}
	}
	res := &Result{}
	for run := 0; run < cfg.Runs; run++ {
		for _, proto := range []string{"http", "pg"} {
			if err := c.waitZero(ctx); err != nil {
				return nil, err
			}
			s, err := c.coldOnce(ctx, proto)
			if err != nil {
				return nil, fmt.Errorf("coldstart: %s run %d: %w", proto, run, err)
			}
			if proto == "http" {
				res.HTTP = append(res.HTTP, s)
			} else {
				res.PG = append(res.PG, s)
			}
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "run %2d %-4s total %7.1f ms (spawn %.1f, boot %.1f, first query %.1f; warm %.2f)\n", run+1, proto,
					ms(s.Total), ms(s.Spawn), ms(s.Boot), ms(s.FirstQuery), ms(s.Warm))
			}
		}
	}
	return res, nil
}

func (c *cluster) coldOnce(ctx context.Context, proto string) (Sample, error) {
	var s Sample
	t0 := time.Now()
	var warm func() error
	switch proto {
	case "http":
		if err := sqlHTTP(ctx, c.proxy, firstQuery); err != nil {
			return s, err
		}
		warm = func() error { return sqlHTTP(ctx, c.proxy, firstQuery) }
	default:
		conn, err := pgx.Connect(ctx, "postgres://phantom@"+c.proxyPG+"/phantom@main?sslmode=disable")
		if err != nil {
			return s, err
		}
		defer conn.Close(ctx)
		var n, sum int64
		if err := conn.QueryRow(ctx, firstQuery).Scan(&n, &sum); err != nil {
			return s, err
		}
		warm = func() error { return conn.QueryRow(ctx, firstQuery).Scan(&n, &sum) }
	}
	t1 := time.Now()
	if err := warm(); err != nil {
		return s, err
	}
	s.Warm = time.Since(t1)
	s.Total = t1.Sub(t0)
	cs, err := c.computes(ctx)
	if err != nil || len(cs) != 1 || cs[0].ReadyAt.IsZero() {
		return s, fmt.Errorf("computes after the wake: %+v, %v", cs, err)
	}
	s.Spawn = cs[0].StartedAt.Sub(t0)
	s.Boot = cs[0].ReadyAt.Sub(cs[0].StartedAt)
	s.FirstQuery = t1.Sub(cs[0].ReadyAt)
	return s, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// WriteTable prints p50/p99 per protocol and phase, the cold/warm ratio,
// and which phase dominates.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "protocol\truns\tphase\tp50 ms\tp99 ms\t")
	for _, pr := range []struct {
		name string
		s    []Sample
	}{{"HTTP", r.HTTP}, {"PostgreSQL", r.PG}} {
		if len(pr.s) == 0 {
			continue
		}
		phases := []struct {
			name string
			get  func(Sample) time.Duration
		}{
			{"total (connect to first result)", func(s Sample) time.Duration { return s.Total }},
			{"  spawn (wake request, decision, exec)", func(s Sample) time.Duration { return s.Spawn }},
			{"  boot (process start to /healthz)", func(s Sample) time.Duration { return s.Boot }},
			{"  first query (route, catalog, first page reads)", func(s Sample) time.Duration { return s.FirstQuery }},
			{"warm query, same compute (peer)", func(s Sample) time.Duration { return s.Warm }},
		}
		var dom string
		var domV time.Duration
		for i, ph := range phases {
			var ds []time.Duration
			for _, s := range pr.s {
				ds = append(ds, ph.get(s))
			}
			p50 := pct(ds, 0.5)
			fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t%.1f\t\n", pr.name, len(pr.s), ph.name, ms(p50), ms(pct(ds, 0.99)))
			if i >= 1 && i <= 3 && p50 > domV {
				dom, domV = strings.TrimSpace(ph.name), p50
			}
		}
		var tot, warm []time.Duration
		for _, s := range pr.s {
			tot, warm = append(tot, s.Total), append(warm, s.Warm)
		}
		fmt.Fprintf(tw, "%s\t\tcold/warm p50 ratio\t%.1fx\t\t\n", pr.name, float64(pct(tot, 0.5))/float64(max(pct(warm, 0.5), 1)))
		fmt.Fprintf(tw, "%s\t\tdominant phase (p50)\t%s\t\t\n", pr.name, dom)
	}
	return tw.Flush()
}
