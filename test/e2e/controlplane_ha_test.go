package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/test/cluster"
)

// cpReplica is one `phantom control-plane` process of a 3-replica group.
type cpReplica struct {
	id, httpAddr string
	proc         *cluster.Process
}

// cpAnswer is one REST answer; err is set when no answer came.
type cpAnswer struct {
	status int
	body   map[string]any
	err    error
}

var cpClient = &http.Client{Timeout: 30 * time.Second}

func cpCall(addr, method, path, body string) cpAnswer {
	req, err := http.NewRequest(method, "http://"+addr+path, bytes.NewReader([]byte(body)))
	if err != nil {
		return cpAnswer{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+cluster.TestAdminToken)
	resp, err := cpClient.Do(req)
	if err != nil {
		return cpAnswer{err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := cpAnswer{status: resp.StatusCode}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			a.err = fmt.Errorf("decode %s: %v: %s", resp.Status, err, raw)
		}
	}
	return a
}

// cpLeader returns the index of the replica whose /healthz says it is the
// ready leader, or -1.
func cpLeader(reps []*cpReplica) int {
	for i, r := range reps {
		if r.proc.Exited() {
			continue
		}
		a := cpCall(r.httpAddr, "GET", "/healthz", "")
		if a.err != nil || a.status != 200 {
			continue
		}
		if raft, _ := a.body["raft"].(map[string]any); raft != nil && raft["ready"] == true {
			return i
		}
	}
	return -1
}

// cpWrite retries a create through addr until it is acknowledged (201) or
// the deadline passes. After an answer that left the outcome open (no
// answer, 503) a 409 means the earlier attempt applied.
func cpWrite(t *testing.T, addr, path, body string, deadline time.Time) map[string]any {
	t.Helper()
	uncertain := false
	var last cpAnswer
	for time.Now().Before(deadline) {
		last = cpCall(addr, "POST", path, body)
		switch {
		case last.err == nil && last.status == http.StatusCreated:
			return last.body
		case last.err == nil && last.status == http.StatusConflict && uncertain:
			return nil
		case last.err != nil || last.status == http.StatusServiceUnavailable:
			uncertain = true
		default:
			t.Fatalf("POST %s via %s: %d %v", path, addr, last.status, last.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("POST %s via %s: not acknowledged before the deadline: %d %v %v", path, addr, last.status, last.body, last.err)
	return nil
}

// cpCheck asserts, through addr, that every tenant, database and API key
// in want is there, polling until the deadline while the group fails over.
func cpCheck(t *testing.T, addr string, tenants []string, dbIDs map[string]float64, keys []string, deadline time.Time) {
	t.Helper()
	var problem string
	for time.Now().Before(deadline) {
		problem = ""
		a := cpCall(addr, "GET", "/v1/tenants", "")
		if a.err != nil || a.status != 200 {
			problem = fmt.Sprintf("list tenants: %d %v %v", a.status, a.body, a.err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		have := map[string]bool{}
		for _, x := range a.body["tenants"].([]any) {
			have[x.(map[string]any)["name"].(string)] = true
		}
		for _, tn := range tenants {
			if !have[tn] {
				t.Fatalf("via %s: acknowledged tenant %q is gone (have %v)", addr, tn, have)
			}
		}
		for tn, id := range dbIDs {
			d := cpCall(addr, "GET", "/v1/tenants/"+tn+"/databases/app", "")
			if d.err != nil || d.status != 200 {
				problem = fmt.Sprintf("database of %s: %d %v %v", tn, d.status, d.body, d.err)
				break
			}
			if d.body["id"] != id {
				t.Fatalf("via %s: database %s/app has id %v, acknowledged %v", addr, tn, d.body["id"], id)
			}
		}
		for _, k := range keys {
			if problem != "" {
				break
			}
			v := cpCall(addr, "POST", "/v1/auth/verify", `{"key":"`+k+`"}`)
			if v.err != nil || v.status == http.StatusServiceUnavailable {
				problem = fmt.Sprintf("verify: %d %v %v", v.status, v.body, v.err)
				break
			}
			if v.status != 200 {
				t.Fatalf("via %s: acknowledged API key does not verify: %d %v", addr, v.status, v.body)
			}
		}
		if problem == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("via %s: state not readable before the deadline: %s", addr, problem)
}

// TestControlPlaneSurvivesLeaderKill runs 3 `phantom control-plane`
// replicas (one Raft group), writes tenants, databases and API keys through
// every replica (followers forward to the leader), SIGKILLs the leader and
// checks through the survivors that every acknowledged write is there and
// new writes succeed; then restarts the killed replica, kills the new
// leader, and checks that the restarted one caught up: with it and the
// last survivor as the quorum, everything is still there.
func TestControlPlaneSurvivesLeaderKill(t *testing.T) {
	root := t.TempDir()
	reps := make([]*cpReplica, 3)
	var peers []string
	raftAddrs := make([]string, 3)
	for i := range reps {
		reps[i] = &cpReplica{id: fmt.Sprintf("cp-%d", i+1), httpAddr: cluster.FreeAddr(t)}
		raftAddrs[i] = cluster.FreeAddr(t)
		peers = append(peers, reps[i].id+"="+raftAddrs[i]+"="+reps[i].httpAddr)
	}
	for i, r := range reps {
		r.proc = cluster.Start(t, r.id, "control-plane", "--node-id", r.id, "--data-dir", filepath.Join(root, r.id),
			"--http-addr", r.httpAddr, "--raft-addr", raftAddrs[i], "--peers", strings.Join(peers, ","),
			"--admin-token", cluster.TestAdminToken, "--logservice", "", "--log-level", "info")
	}
	for _, r := range reps {
		cluster.WaitHTTP(t, "http://"+r.httpAddr+"/healthz", 60*time.Second, reps[0].proc, reps[1].proc, reps[2].proc)
	}

	// Writes through every replica: the followers forward them.
	deadline := time.Now().Add(60 * time.Second)
	var tenants, keys []string
	dbIDs := map[string]float64{}
	for i := range 6 {
		via := reps[i%3].httpAddr
		tn := fmt.Sprintf("t%d", i)
		cpWrite(t, via, "/v1/tenants", `{"name":"`+tn+`"}`, deadline)
		tenants = append(tenants, tn)
		d := cpWrite(t, reps[(i+1)%3].httpAddr, "/v1/tenants/"+tn+"/databases", `{"name":"app"}`, deadline)
		dbIDs[tn] = d["id"].(float64)
		k := cpWrite(t, reps[(i+2)%3].httpAddr, "/v1/tenants/"+tn+"/api-keys", `{"database":"app"}`, deadline)
		keys = append(keys, k["key"].(string))
	}
	for _, r := range reps {
		cpCheck(t, r.httpAddr, tenants, dbIDs, keys, deadline)
	}

	// SIGKILL the leader.
	leader := -1
	for leader < 0 && time.Now().Before(deadline) {
		if leader = cpLeader(reps); leader < 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if leader < 0 {
		t.Fatal("no replica reports itself the ready leader")
	}
	reps[leader].proc.Kill()
	killedAt := time.Now()
	t.Logf("killed leader %s", reps[leader].id)
	var survivors []*cpReplica
	for i, r := range reps {
		if i != leader {
			survivors = append(survivors, r)
		}
	}

	// The API keeps answering through each survivor, with every
	// acknowledged write, and takes new writes.
	deadline = time.Now().Add(60 * time.Second)
	for _, r := range survivors {
		cpCheck(t, r.httpAddr, tenants, dbIDs, keys, deadline)
	}
	for i, r := range survivors {
		tn := fmt.Sprintf("after-%d", i)
		cpWrite(t, r.httpAddr, "/v1/tenants", `{"name":"`+tn+`"}`, deadline)
		if i == 0 {
			// Reported, not asserted: failover time depends on the machine.
			t.Logf("leader SIGKILL -> all acknowledged writes read and a new write acknowledged through a survivor: %s",
				time.Since(killedAt).Round(time.Millisecond))
		}
		tenants = append(tenants, tn)
		d := cpWrite(t, r.httpAddr, "/v1/tenants/"+tn+"/databases", `{"name":"app"}`, deadline)
		if d != nil {
			dbIDs[tn] = d["id"].(float64)
		}
		k := cpWrite(t, r.httpAddr, "/v1/tenants/"+tn+"/api-keys", `{}`, deadline)
		if k != nil {
			keys = append(keys, k["key"].(string))
		}
	}
	for _, r := range survivors {
		cpCheck(t, r.httpAddr, tenants, dbIDs, keys, deadline)
	}

	// A compute given every replica (the dead one first) resolves its
	// database and verifies API keys through a live one.
	computeHTTP := cluster.FreeAddr(t)
	compute := cluster.Start(t, "compute", "compute", "--http-addr", computeHTTP, "--pg-addr", "",
		"--logservice", cluster.FreeAddr(t), "--pageserver", cluster.FreeAddr(t),
		"--control-plane", "http://"+reps[leader].httpAddr+",http://"+survivors[0].httpAddr+",http://"+survivors[1].httpAddr,
		"--control-plane-token", cluster.TestAdminToken, "--tenant", "t0", "--database", "app", "--log-level", "warn")
	cluster.WaitHTTP(t, "http://"+computeHTTP+"/healthz", 60*time.Second, compute)
	// sqlAuth returns the compute's status and SQLSTATE for a query with
	// key. The compute has no storage here: a verified key gets past
	// authentication and fails later, never with 401 or 08001 (the code
	// of "cannot verify the API key: the control plane is unavailable").
	sqlAuth := func(key string) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+computeHTTP+"/v1/sql", strings.NewReader(`{"query":"SELECT 1","timeout_ms":2000}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := cpClient.Do(req)
		if err != nil {
			t.Fatalf("compute: %v", err)
		}
		defer resp.Body.Close()
		var body struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error.Code
	}
	if code, state := sqlAuth(keys[0]); code == http.StatusUnauthorized || state == "08001" || state == "28000" {
		t.Fatalf("compute did not verify an API key acknowledged before the kill through the failover list: %d %s", code, state)
	}
	if code, state := sqlAuth("phk_0123456789abcdef_" + strings.Repeat("0", 64)); code != http.StatusUnauthorized {
		t.Fatalf("compute accepted an unknown key: %d %s", code, state)
	}
	compute.Stop(30 * time.Second)

	// Restart the killed replica; then kill the current leader, so the
	// restarted replica must be part of the quorum that answers.
	killed := reps[leader]
	killed.proc.Restart()
	cluster.WaitHTTP(t, "http://"+killed.httpAddr+"/healthz", 60*time.Second, killed.proc)
	cpCheck(t, killed.httpAddr, tenants, dbIDs, keys, deadline)
	// Wait until the restarted replica applied everything the group has.
	want := -1.0
	for _, r := range survivors {
		a := cpCall(r.httpAddr, "GET", "/healthz", "")
		if a.err == nil && a.body["raft"] != nil {
			if idx, _ := a.body["raft"].(map[string]any)["applied_index"].(float64); idx > want {
				want = idx
			}
		}
	}
	for {
		a := cpCall(killed.httpAddr, "GET", "/healthz", "")
		if a.err == nil && a.body["raft"] != nil {
			if idx, _ := a.body["raft"].(map[string]any)["applied_index"].(float64); idx >= want {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted %s did not apply up to index %v", killed.id, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Kill the leader if it is a survivor, else any survivor: either way
	// the restarted replica is one of the two that remain.
	victim := survivors[0]
	if l := cpLeader(reps); l >= 0 && reps[l] != killed {
		victim = reps[l]
	}
	victim.proc.Kill()
	t.Logf("killed %s; %s (restarted) must now be in the quorum", victim.id, killed.id)
	deadline = time.Now().Add(60 * time.Second)
	cpCheck(t, killed.httpAddr, tenants, dbIDs, keys, deadline)
	cpWrite(t, killed.httpAddr, "/v1/tenants", `{"name":"final"}`, deadline)
	for _, r := range reps {
		if r != victim {
			cpCheck(t, r.httpAddr, append(tenants, "final"), dbIDs, keys, deadline)
		}
	}
}
