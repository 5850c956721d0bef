package e2e

import (
	"context"
	"encoding/json"

	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phantom-db/phantom/test/cluster"
)

// computeInfo is one compute of GET .../endpoints/{name}/computes.
type computeInfo struct {
	ID       string `json:"id"`
	HTTPAddr string `json:"http_addr"`
	State    string `json:"state"`
	PID      int    `json:"pid"`
}

// adminGet decodes GET url (with the admin token) into v.
func adminGet(t *testing.T, url string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+cluster.TestAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func (e *elastic) computeList(t *testing.T, name string) []computeInfo {
	t.Helper()
	var body struct {
		Computes []computeInfo `json:"computes"`
	}
	adminGet(t, e.endpointsBaseURL+"/"+name+"/computes", &body)
	return body.Computes
}

// clusterView is the part of GET /v1/cluster the tests read.
type clusterView struct {
	Nodes []struct {
		ID      string             `json:"id"`
		Role    string             `json:"role"`
		Address string             `json:"address"`
		Health  string             `json:"health"`
		Load    map[string]float64 `json:"load"`
	} `json:"nodes"`
	Shards    []shardView `json:"shards"`
	Endpoints []struct {
		Name       string   `json:"name"`
		Computes   int      `json:"computes"`
		Ready      int      `json:"ready"`
		Min        int      `json:"min_computes"`
		Max        int      `json:"max_computes"`
		ComputeIDs []string `json:"compute_ids"`
	} `json:"endpoints"`
}

func (e *elastic) cluster(t *testing.T) clusterView {
	t.Helper()
	var c clusterView
	adminGet(t, e.cpURL+"/v1/cluster", &c)
	return c
}

// shardView is one shard of GET /v1/cluster.
type shardView struct {
	ID           int      `json:"id"`
	PageServers  []string `json:"page_servers"`
	AppliedIndex uint64   `json:"applied_index"`
	Checkpoint   uint64   `json:"checkpoint_index"`
}

// CheckpointIndex answers the checkpointed log index.
func (s shardView) CheckpointIndex() uint64 { return s.Checkpoint }

// nodeHealth answers the health of node id in c ("" when not listed).
func (c clusterView) nodeHealth(id string) string {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n.Health
		}
	}
	return ""
}

// metricsHas fetches url (a /metrics page) and fails unless it names every
// metric in names.
func metricsHas(t *testing.T, url string, names ...string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	for _, n := range names {
		if !strings.Contains(string(b), "\n"+n) {
			t.Errorf("%s has no metric %s", url, n)
		}
	}
}

// idLoad inserts unique ids through the proxy from several clients and
// records which were acknowledged. A request that fails before an answer
// (or with 502/503/57P03/08007) may or may not have committed: it is
// retried with the same id until it succeeds or answers 23505 (the first
// attempt committed); either way the id counts as acknowledged.
type idLoad struct {
	url     string
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	acked   map[int64]bool
	tried   map[int64]bool
	retries int
	errs    []string
}

func startIDLoad(url string, clients int) *idLoad {
	l := &idLoad{url: url, stop: make(chan struct{}), acked: map[int64]bool{}, tried: map[int64]bool{}}
	for c := 0; c < clients; c++ {
		l.wg.Add(1)
		go l.client(int64(c))
	}
	return l
}

func (l *idLoad) client(c int64) {
	defer l.wg.Done()
	for seq := int64(0); ; seq++ {
		select {
		case <-l.stop:
			return
		default:
		}
		id := c*1_000_000 + seq
		l.mu.Lock()
		l.tried[id] = true
		l.mu.Unlock()
		uncertain := false
		deadline := time.Now().Add(45 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			r, err := cluster.SQL(ctx, l.url, "INSERT INTO acks (id, client) VALUES ($1, $2)", id, c)
			cancel()
			switch {
			case err == nil && r.Status == http.StatusOK:
				l.ack(id)
			case err == nil && r.Error != nil && r.Error.Code == "23505" && uncertain:
				l.ack(id) // an earlier attempt committed
			case err != nil || r.Status == http.StatusBadGateway || r.Status == http.StatusServiceUnavailable ||
				(r.Error != nil && (r.Error.Code == "57P03" || r.Error.Code == "08006" || r.Error.Code == "08007")):
				uncertain = true
				l.mu.Lock()
				l.retries++
				l.mu.Unlock()
				if time.Now().After(deadline) {
					l.fail(fmt.Sprintf("id %d: still failing after 45 s: %v %+v", id, err, r))
					return
				}
				time.Sleep(50 * time.Millisecond)
				continue
			default:
				l.fail(fmt.Sprintf("id %d: status %d error %+v", id, r.Status, r.Error))
				return
			}
			break
		}
	}
}

func (l *idLoad) ack(id int64) {
	l.mu.Lock()
	l.acked[id] = true
	l.mu.Unlock()
}

func (l *idLoad) fail(msg string) {
	l.mu.Lock()
	l.errs = append(l.errs, msg)
	l.mu.Unlock()
}

func (l *idLoad) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

func (l *idLoad) finish() {
	close(l.stop)
	l.wg.Wait()
}

// check reads every id back through url: every acknowledged id is there,
// none twice, and none that was never sent.
func (l *idLoad) check(t *testing.T, url string) {
	t.Helper()
	if len(l.errs) > 0 {
		t.Fatalf("load errors: %v", l.errs)
	}
	r := cluster.MustSQL(t, url, "SELECT id FROM acks ORDER BY id")
	seen := map[int64]int{}
	for _, row := range r.Rows {
		n, err := row[0].(json.Number).Int64()
		if err != nil {
			t.Fatal(err)
		}
		seen[n]++
	}
	var lost, twice, stray []int64
	for id := range l.acked {
		if seen[id] == 0 {
			lost = append(lost, id)
		}
	}
	for id, n := range seen {
		if n > 1 {
			twice = append(twice, id)
		}
		if !l.tried[id] {
			stray = append(stray, id)
		}
	}
	sort.Slice(lost, func(i, j int) bool { return lost[i] < lost[j] })
	if len(lost) > 0 || len(twice) > 0 || len(stray) > 0 {
		t.Fatalf("acknowledged but missing: %v; present twice: %v; never sent: %v", lost, twice, stray)
	}
	t.Logf("%d ids acknowledged, %d rows present, %d retried attempts", len(l.acked), len(r.Rows), l.retries)
}

// TestComputeKillUnderLoad: an endpoint with min 2 computes serves a load
// of unique-id inserts through the proxy; one compute is SIGKILLed. The
// provisioner sees the exit, the proxy stops routing to it, the autoscaler
// starts a replacement (back to 2), the membership declares the dead one
// dead after --heartbeat-timeout. Then another compute is SIGSTOPped: the
// membership declares it dead, the autoscaler kills it and replaces it.
// Every acknowledged insert is there, none twice. GET /v1/cluster, `phantom status` and every service's
// /metrics are checked on the way.
func TestComputeKillUnderLoad(t *testing.T) {
	e := startElasticWith(t, elasticOpts{cpArgs: []string{"--heartbeat-timeout", "2s"}, pageNATS: true})
	e.createEndpoint(t, `{"name":"main","min_computes":2,"max_computes":2,
		"policy":{"target_in_flight":100,"scale_up_cooldown_ms":1000,"scale_down_cooldown_ms":60000}}`)
	e.waitComputes(t, "main", "min 2 reached", 60*time.Second, func(r, a int) bool { return r == 2 })
	cluster.MustSQL(t, e.proxyURL, "CREATE TABLE acks (id BIGINT PRIMARY KEY, client INT)")

	// Observability while healthy.
	before := e.computeList(t, "main")
	metricsHas(t, e.cpURL+"/metrics", "phantom_controlplane_nodes", "phantom_controlplane_computes", "phantom_controlplane_compute_starts_total")
	metricsHas(t, e.proxyURL+"/metrics", "phantom_proxy_http_requests_total", "phantom_proxy_pg_connections")
	metricsHas(t, "http://"+before[0].HTTPAddr+"/metrics", "phantom_compute_http_requests_total")
	metricsHas(t, "http://"+e.logHTTP+"/metrics", "phantom_logservice_")
	metricsHas(t, "http://"+e.pageHTTP+"/metrics", "phantom_pageserver_applied_index")
	waitCluster(t, e, "every node heartbeats", func(c clusterView) bool {
		roles := map[string]int{}
		for _, n := range c.Nodes {
			if n.Health == "alive" {
				roles[n.Role]++
			}
		}
		return roles["compute"] == 2 && roles["pageserver"] == 1 && roles["logservice"] == 1 &&
			roles["control-plane"] == 1 && roles["proxy"] == 1 && len(c.Shards) == 1 && c.Shards[0].AppliedIndex > 0
	})
	c := e.cluster(t)
	if len(c.Endpoints) != 1 || c.Endpoints[0].Computes != 2 || c.Endpoints[0].Min != 2 || c.Shards[0].PageServers[0] != "page-1" {
		t.Fatalf("cluster view: %+v", c)
	}
	out, err := exec.Command(cluster.Binary(t), "status", "--control-plane", e.cpURL, "--control-plane-token", cluster.TestAdminToken).CombinedOutput()
	if err != nil {
		t.Fatalf("phantom status: %v\n%s", err, out)
	}
	t.Logf("phantom status:\n%s", out)
	for _, want := range []string{"NODES", "SHARDS", "ENDPOINTS", "page-1", before[0].ID, "pageserver", "alive"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("phantom status lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(cluster.Binary(t), "status", "--json", "--control-plane", e.cpURL, "--control-plane-token", cluster.TestAdminToken).Output()
	var fromJSON clusterView
	if err != nil || json.Unmarshal(out, &fromJSON) != nil || len(fromJSON.Endpoints) != 1 {
		t.Fatalf("phantom status --json: %v\n%s", err, out)
	}
	if err := exec.Command(cluster.Binary(t), "status", "--control-plane", e.cpURL, "--control-plane-token", "wrong-token-0123456789").Run(); err == nil {
		t.Fatal("phantom status with a wrong token succeeded")
	}

	load := startIDLoad(e.proxyURL, 8)
	waitAcked(t, load, 200)
	waitCluster(t, e, "computes report their load in heartbeats", func(c clusterView) bool {
		for _, n := range c.Nodes {
			if n.Role == "compute" && n.Health == "alive" && n.Load["qps"] > 0 {
				return true
			}
		}
		return false
	})
	// PostgreSQL clients through the proxy, spread over both computes.
	pctx, pcancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer pcancel()
	pgURL := "postgres://phantom@" + e.proxyPG + "/phantom?sslmode=disable"
	var pgConns []*pgx.Conn
	for range 4 {
		conn, err := pgx.Connect(pctx, pgURL)
		if err != nil {
			t.Fatalf("pgx through the proxy: %v", err)
		}
		pgConns = append(pgConns, conn)
	}
	defer func() {
		for _, c := range pgConns {
			c.Close(pctx)
		}
	}()
	victim := before[0]
	if victim.PID == 0 {
		t.Fatalf("compute %s has no pid", victim.ID)
	}
	t.Logf("SIGKILL compute %s (pid %d) with %d ids acknowledged", victim.ID, victim.PID, load.ackedCount())
	killedAt := time.Now()
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitComputes(t, "main", "replaced", 60*time.Second, func(r, a int) bool {
		if r != 2 || a != 2 {
			return false
		}
		for _, c := range e.computeList(t, "main") {
			if c.ID == victim.ID {
				return false
			}
		}
		return true
	})
	t.Logf("endpoint back at 2 ready computes %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	waitCluster(t, e, "the killed compute declared dead", func(c clusterView) bool { return c.nodeHealth(victim.ID) == "dead" })
	// A PostgreSQL client whose compute died sees an error on its next
	// query and reconnects through the proxy to a live compute.
	reconnected := 0
	for i, conn := range pgConns {
		var n int64
		if err := conn.QueryRow(pctx, "SELECT count(*) FROM acks").Scan(&n); err == nil {
			continue
		}
		conn.Close(pctx)
		c, err := pgx.Connect(pctx, pgURL)
		if err != nil {
			t.Fatalf("reconnect through the proxy after the kill: %v", err)
		}
		pgConns[i] = c
		if err := c.QueryRow(pctx, "SELECT count(*) FROM acks").Scan(&n); err != nil || n == 0 {
			t.Fatalf("query after reconnecting: %d, %v", n, err)
		}
		reconnected++
	}
	t.Logf("%d of %d PostgreSQL clients lost their compute and reconnected through the proxy", reconnected, len(pgConns))
	n := load.ackedCount()
	waitAcked(t, load, n+200) // the load goes on on the new pair

	// A compute that hangs (SIGSTOP: its process lives, its heartbeats
	// stop) is declared dead after the timeout, killed and replaced.
	hung := e.computeList(t, "main")[0]
	t.Logf("SIGSTOP compute %s (pid %d) with %d ids acknowledged", hung.ID, hung.PID, load.ackedCount())
	stoppedAt := time.Now()
	if err := syscall.Kill(hung.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	e.waitComputes(t, "main", "hung compute replaced", 60*time.Second, func(r, a int) bool {
		if r != 2 || a != 2 {
			return false
		}
		for _, c := range e.computeList(t, "main") {
			if c.ID == hung.ID {
				return false
			}
		}
		return true
	})
	t.Logf("hung compute replaced %v after SIGSTOP", time.Since(stoppedAt).Round(time.Millisecond))
	if syscall.Kill(hung.PID, 0) == nil {
		t.Fatalf("the hung compute (pid %d) still exists", hung.PID)
	}
	if v := metricValue(t, e.cpURL+"/metrics", "phantom_controlplane_dead_computes_killed_total"); v != 1 {
		t.Fatalf("dead_computes_killed_total = %v, want 1", v)
	}
	n = load.ackedCount()
	waitAcked(t, load, n+200)
	load.finish()
	load.check(t, e.proxyURL)
	metricsHas(t, e.proxyURL+"/metrics", "phantom_proxy_compute_unreachable_total")
}

func waitAcked(t *testing.T, l *idLoad, n int) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for l.ackedCount() < n {
		if time.Now().After(deadline) {
			l.finish()
			t.Fatalf("only %d of %d ids acknowledged; errors %v", l.ackedCount(), n, l.errs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitCluster(t *testing.T, e *elastic, what string, cond func(clusterView) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := e.cluster(t)
		if cond(c) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached; cluster %+v", what, c)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
