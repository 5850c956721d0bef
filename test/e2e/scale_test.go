package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phantom-db/phantom/internal/natsbus"
	"github.com/phantom-db/phantom/test/cluster"
)

// elastic is a cluster of real processes with autoscaling: log service,
// page server, control plane with the local provisioner, and a proxy; NATS
// is embedded in the test process.
type elastic struct {
	cp, proxy, page, logsvc *cluster.Process
	cpURL, proxyURL         string
	proxyPG                 string
	procs                   []*cluster.Process
	computeLogDir           string
	endpointsBaseURL        string
	// natsURL is the embedded NATS server; root the test's directory;
	// objects the page server's object store; logGRPC, pageGRPC and
	// pageHTTP the log service's and page server's addresses; logHTTP
	// the log service's admin HTTP address.
	natsURL, root, objects      string
	logGRPC, pageGRPC, pageHTTP string
	logHTTP                     string
}

// elasticOpts adds flags to the processes of startElasticWith.
type elasticOpts struct {
	// cpArgs and pageArgs are appended to the control plane's and page
	// server's flags; pageNATS gives the page server --nats-url (it
	// heartbeats) and the node id page-1.
	cpArgs, pageArgs []string
	pageNATS         bool
	// pageReplace runs the control plane with --pageserver-replace on the
	// page server's object store (implies pageNATS).
	pageReplace bool
}

func startElastic(t *testing.T) *elastic { return startElasticWith(t, elasticOpts{}) }

func startElasticWith(t *testing.T, o elasticOpts) *elastic {
	t.Helper()
	ns, err := natsbus.StartEmbedded(natsbus.ServerConfig{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	root := t.TempDir()
	logGRPC, pageGRPC, cpHTTP := cluster.FreeAddr(t), cluster.FreeAddr(t), cluster.FreeAddr(t)
	proxyHTTP, proxyPG := cluster.FreeAddr(t), cluster.FreeAddr(t)
	e := &elastic{cpURL: "http://" + cpHTTP, proxyURL: "http://" + proxyHTTP, proxyPG: proxyPG,
		computeLogDir: filepath.Join(root, "computes"), natsURL: ns.ClientURL(), root: root,
		objects: filepath.Join(root, "objects"), logGRPC: logGRPC, pageGRPC: pageGRPC, logHTTP: cluster.FreeAddr(t)}
	e.endpointsBaseURL = e.cpURL + "/v1/tenants/default/databases/phantom/endpoints"
	e.logsvc = cluster.Start(t, "logservice", "logservice", "--data-dir", filepath.Join(root, "log"),
		"--grpc-addr", logGRPC, "--raft-addr", cluster.FreeAddr(t), "--http-addr", e.logHTTP, "--nats-url", e.natsURL, "--log-level", "warn")
	e.pageHTTP = cluster.FreeAddr(t)
	pageArgs := []string{"pageserver", "--data-dir", filepath.Join(root, "page"), "--grpc-addr", pageGRPC,
		"--http-addr", e.pageHTTP, "--logservice", logGRPC, "--object-store", e.objects, "--log-level", "warn"}
	if o.pageNATS || o.pageReplace {
		pageArgs = append(pageArgs, "--nats-url", e.natsURL, "--node-id", "page-1")
	}
	e.page = cluster.Start(t, "pageserver", append(pageArgs, o.pageArgs...)...)
	cpArgs := []string{"control-plane", "--data-dir", filepath.Join(root, "cp"), "--http-addr", cpHTTP,
		"--admin-token", cluster.TestAdminToken, "--nats-url", e.natsURL, "--provisioner", "local", "--compute-logservice", logGRPC, "--compute-pageserver", pageGRPC,
		"--logservice", logGRPC,
		"--compute-bin", cluster.Binary(t), "--compute-log-dir", e.computeLogDir,
		"--compute-args", "--log-level warn --drain-timeout 5s --auth none", "--autoscale-interval", "250ms", "--drain-grace", "500ms",
		"--log-level", "info"}
	if o.pageReplace {
		cpArgs = append(cpArgs, "--pageserver-replace", "--pageserver-object-store", e.objects,
			"--pageserver-args", "--log-level info --checkpoint-interval 1s")
	}
	e.cp = cluster.Start(t, "control-plane", append(cpArgs, o.cpArgs...)...)
	e.proxy = cluster.Start(t, "proxy", "proxy", "--http-addr", proxyHTTP, "--pg-addr", proxyPG, "--control-plane", e.cpURL,
		"--control-plane-token", cluster.TestAdminToken,
		"--nats-url", e.natsURL, "--wake-timeout", "60s", "--log-level", "info")
	e.procs = []*cluster.Process{e.logsvc, e.page, e.cp, e.proxy}
	cluster.WaitHTTP(t, e.cpURL+"/healthz", 60*time.Second, e.procs...)
	cluster.WaitHTTP(t, e.proxyURL+"/healthz", 60*time.Second, e.procs...)
	cluster.WaitHTTP(t, "http://"+e.pageHTTP+"/healthz", 60*time.Second, e.procs...)
	t.Cleanup(func() {
		// The control plane drains its computes before it exits.
		for _, p := range []*cluster.Process{e.proxy, e.cp, e.page, e.logsvc} {
			p.Stop(60 * time.Second)
		}
	})
	return e
}

func (e *elastic) createEndpoint(t *testing.T, spec string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.endpointsBaseURL, bytes.NewReader([]byte(spec)))
	req.Header.Set("Authorization", "Bearer "+cluster.TestAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create endpoint: %s", resp.Status)
	}
}

// computes answers the number of ready computes of the endpoint and of all
// its computes.
func (e *elastic) computes(t *testing.T, name string) (ready, all int) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.endpointsBaseURL+"/"+name+"/computes", nil)
	req.Header.Set("Authorization", "Bearer "+cluster.TestAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Computes []struct {
			State string `json:"state"`
		} `json:"computes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	for _, c := range body.Computes {
		if c.State == "ready" {
			ready++
		}
	}
	return ready, len(body.Computes)
}

// waitComputes polls until cond(ready, all) holds, failing after timeout.
func (e *elastic) waitComputes(t *testing.T, name, what string, timeout time.Duration, cond func(ready, all int) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, a := e.computes(t, name)
		if cond(r, a) {
			t.Logf("%s: %d ready, %d in all", what, r, a)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %v (ready %d, all %d)\ncontrol plane:\n%s", what, timeout, r, a, e.cp.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestScaleUpDownToZeroAndWake drives an endpoint (min 0, max 3) through
// the proxy: woken from zero by an HTTP request, scaled to 3 computes by a
// load generator without a failed request, back to one when the load
// stops, to zero after the idle timeout, and woken again by a pgx
// connection.
func TestScaleUpDownToZeroAndWake(t *testing.T) {
	e := startElastic(t)
	e.createEndpoint(t, `{"name":"main","min_computes":0,"max_computes":3,"idle_timeout_ms":4000,
		"policy":{"target_in_flight":1,"scale_up_cooldown_ms":1000,"scale_down_cooldown_ms":3000}}`)
	if r, a := e.computes(t, "main"); r != 0 || a != 0 {
		t.Fatalf("a new endpoint with min 0 has %d/%d computes", r, a)
	}

	// Wake from zero over HTTP: the request waits for the compute.
	start := time.Now()
	cluster.MustSQL(t, e.proxyURL, "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, qty BIGINT, price FLOAT, active BOOL)")
	t.Logf("first statement through the proxy from zero: %v", time.Since(start))
	if r, _ := e.computes(t, "main"); r != 1 {
		t.Fatalf("after the wake: %d ready computes, want 1", r)
	}
	for i := 0; i < 2000; i += 500 {
		insertRows(t, e.proxyURL, i, i+500)
	}

	// Load: 12 clients in a loop until the endpoint has 3 ready computes.
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 12; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				r, err := cluster.SQL(ctx, e.proxyURL, "SELECT count(*), sum(qty) FROM items WHERE active")
				cancel()
				if err != nil || r.Status != http.StatusOK {
					failed.Add(1)
					if err == nil {
						err = fmt.Errorf("status %d: %+v", r.Status, r.Error)
					}
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		}()
	}
	e.waitComputes(t, "main", "scaled up under load", 90*time.Second, func(r, a int) bool { return r == 3 })
	// Keep the load a little longer: requests spread over all three.
	time.Sleep(2 * time.Second)
	if r, a := e.computes(t, "main"); a > 3 {
		t.Fatalf("max 3 exceeded: %d ready, %d in all", r, a)
	}
	close(stop)
	wg.Wait()
	t.Logf("load: %d requests ok, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed during scale-up; first: %v", failed.Load(), firstErr.Load())
	}
	if ok.Load() == 0 {
		t.Fatal("no request succeeded")
	}

	// Load stops: back to one compute after the down cooldown, then zero
	// after the idle timeout.
	e.waitComputes(t, "main", "scaled down to the floor", 30*time.Second, func(r, a int) bool { return r == 1 && a == 1 })
	e.waitComputes(t, "main", "scaled to zero", 30*time.Second, func(r, a int) bool { return a == 0 })

	// Wake from zero over the PostgreSQL protocol.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start = time.Now()
	conn, err := pgx.Connect(ctx, "postgres://phantom@"+e.proxyPG+"/phantom@main?sslmode=prefer")
	if err != nil {
		t.Fatalf("pgx through the proxy: %v\nproxy:\n%s", err, e.proxy.Log())
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 2000 {
		t.Fatalf("count through pgx: %d, %v", n, err)
	}
	t.Logf("pgx connect + first query from zero: %v", time.Since(start))
	if r, _ := e.computes(t, "main"); r != 1 {
		t.Fatalf("after the pgx wake: %d ready computes, want 1", r)
	}
	// An open connection is a session: the endpoint is not idle, so it
	// stays up past the idle timeout.
	time.Sleep(5 * time.Second)
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items WHERE id < 10").Scan(&n); err != nil || n != 10 {
		t.Fatalf("query on the open connection after the idle timeout: %d, %v", n, err)
	}
}

// TestDevProxyWakesEndpoint: `phantom dev` still serves its always-on
// compute directly, and its proxy wakes endpoint "main" from zero.
func TestDevProxyWakesEndpoint(t *testing.T) {
	dataDir := t.TempDir()
	base := cluster.FreePortBase(t, 11)
	p, url := startDev(t, dataDir, base)
	cluster.MustSQL(t, url, createItems)
	insertRows(t, url, 0, 10)

	proxyURL := fmt.Sprintf("http://127.0.0.1:%d", base+9)
	r := cluster.MustSQL(t, proxyURL, "SELECT count(*) FROM items")
	if got := fmt.Sprint(r.Rows[0][0]); got != "10" {
		t.Fatalf("count through the dev proxy = %s, want 10", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://phantom@127.0.0.1:%d/phantom?sslmode=disable", base+10))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 10 {
		t.Fatalf("pgx through the dev proxy: %d, %v", n, err)
	}
	conn.Close(ctx)
	p.Stop(60 * time.Second)
}
