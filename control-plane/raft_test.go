package controlplane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testReplica is one in-process replica of a 3-voter group with its REST
// API on a loopback port.
type testReplica struct {
	svc  *Service
	addr string
	srv  *http.Server
}

type lateHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startGroup(t *testing.T, opts ...func(i int, c *RaftConfig)) []*testReplica {
	t.Helper()
	reps := make([]*testReplica, 3)
	lis := make([]net.Listener, 3)
	var peers []RaftPeer
	for i := range reps {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis[i] = l
		peers = append(peers, RaftPeer{ID: fmt.Sprintf("cp-%d", i+1), RaftAddr: freeLoopback(t), HTTPAddr: l.Addr().String()})
	}
	for i := range reps {
		h := &lateHandler{}
		srv := &http.Server{Handler: h}
		go func() { _ = srv.Serve(lis[i]) }()
		rc := RaftConfig{NodeID: peers[i].ID, RaftAddr: peers[i].RaftAddr, Peers: peers, HTTPAddr: peers[i].HTTPAddr,
			ForwardWait: 2 * time.Second}
		for _, o := range opts {
			o(i, &rc)
		}
		svc, err := New(Config{DataDir: t.TempDir(), AdminToken: testAdminToken, Logger: slog.New(slog.DiscardHandler), Raft: rc})
		if err != nil {
			t.Fatal(err)
		}
		hh := svc.Handler()
		h.h.Store(&hh)
		reps[i] = &testReplica{svc: svc, addr: peers[i].HTTPAddr, srv: srv}
		t.Cleanup(func() {
			_ = srv.Close()
			_ = svc.Close()
		})
	}
	return reps
}

func restCall(t *testing.T, addr, method, path, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s via %s: %v", method, path, addr, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, resp.Header, m
}

// TestFollowersForwardAndNoQuorumAnswers503: every replica of a 3-voter
// group answers writes and reads (followers forward to the leader); with
// two replicas gone the last one answers 503 no_leader with Retry-After
// within ForwardWait instead of hanging, and serves no stale read.
func TestFollowersForwardAndNoQuorumAnswers503(t *testing.T) {
	for _, keepLeader := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep_leader=%v", keepLeader), func(t *testing.T) { testNoQuorum(t, keepLeader) })
	}
}

// testNoQuorum: see TestFollowersForwardAndNoQuorumAnswers503; with
// keepLeader the replica left is the old leader, which must stop serving
// (reads need a quorum to confirm it).
func testNoQuorum(t *testing.T, keepLeader bool) {
	reps := startGroup(t)
	deadline := time.Now().Add(30 * time.Second)
	for i, r := range reps {
		name := fmt.Sprintf("t%d", i)
		for {
			code, _, m := restCall(t, r.addr, "POST", "/v1/tenants", `{"name":"`+name+`"}`)
			if code == http.StatusCreated {
				break
			}
			if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("create %s via %s: %d %v", name, r.addr, code, m)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	leader := -1
	for i, r := range reps {
		code, _, m := restCall(t, r.addr, "GET", "/v1/tenants", "")
		if code != 200 || len(m["tenants"].([]any)) != 4 { // default + 3
			t.Fatalf("tenants via %s: %d %v", r.addr, code, m)
		}
		if r.svc.IsLeader() {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no leader")
	}
	// A refused write is refused the same through a follower.
	follower := reps[(leader+1)%3]
	if code, _, m := restCall(t, follower.addr, "POST", "/v1/tenants", `{"name":"t0"}`); code != http.StatusConflict {
		t.Fatalf("duplicate via follower: %d %v", code, m)
	}
	// Stop the leader and one follower: no quorum is left.
	last, gone := reps[(leader+2)%3], []*testReplica{reps[leader], follower}
	if keepLeader {
		last, gone = reps[leader], []*testReplica{follower, reps[(leader+2)%3]}
	}
	for _, r := range gone {
		_ = r.srv.Close()
		_ = r.svc.Close()
	}
	// A read may still be confirmed by a heartbeat answered just before the
	// followers shut down (that is linearizable); once the lone replica has
	// lost leadership, every call must be refused.
	for stepDown := time.Now().Add(15 * time.Second); last.svc.IsLeader(); {
		if time.Now().After(stepDown) {
			t.Fatal("the replica left without a quorum still leads after 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, path := range []string{"/v1/tenants"} {
		for _, method := range []string{"GET", "POST"} {
			code, hdr, m := restCall(t, last.addr, method, path, `{"name":"late"}`)
			if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
				t.Fatalf("%s %s without quorum: %d %v", method, path, code, m)
			}
			if e, _ := m["error"].(map[string]any); e == nil || (e["code"] != "no_leader" && e["code"] != "unavailable") {
				t.Fatalf("%s %s without quorum: body %v", method, path, m)
			}
		}
	}
	if code, _, _ := restCall(t, last.addr, "GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz without quorum: %d", code)
	}
}

func TestAdvertisableAndParsePeers(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8433": true, "cp-1.svc:8433": true, "[::1]:1": true,
		"0.0.0.0:8433": false, "[::]:8433": false, ":8433": false, "": false, "nohost": false} {
		if got := advertisable(addr); got != want {
			t.Errorf("advertisable(%q) = %v, want %v", addr, got, want)
		}
	}
	ps, err := ParseRaftPeers(" cp-1=127.0.0.1:1=127.0.0.1:2, cp-2=127.0.0.1:3 ")
	if err != nil || len(ps) != 2 || ps[0].HTTPAddr != "127.0.0.1:2" || ps[1].RaftAddr != "127.0.0.1:3" || ps[1].HTTPAddr != "" {
		t.Fatalf("ParseRaftPeers: %+v %v", ps, err)
	}
	for _, bad := range []string{"cp-1", "=a", "cp-1=", "a=b=c=d"} {
		if _, err := ParseRaftPeers(bad); err == nil {
			t.Errorf("ParseRaftPeers(%q) accepted", bad)
		}
	}
}

// testCA is an in-process certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a TLS config with a certificate for name carrying URI SAN
// uri, trusting the CA.
func (ca *testCA) issue(t *testing.T, name, uri string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(uri)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), URIs: []*url.URL{u},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, RootCAs: ca.pool}
}

// TestRaftMutualTLS: replicas with certificates carrying the control plane
// role replicate over mutual TLS; a replica whose certificate has another
// role is refused by its peers and so never learns a leader (503), while
// the other two serve.
func TestRaftMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	reps := startGroup(t, func(i int, c *RaftConfig) {
		uri := PeerURI
		if i == 2 {
			uri = "spiffe://phantom/pageserver"
		}
		c.TLS = ca.issue(t, c.NodeID, uri)
	})
	deadline := time.Now().Add(30 * time.Second)
	for i, r := range reps[:2] {
		name := fmt.Sprintf("tls%d", i)
		for {
			code, _, m := restCall(t, r.addr, "POST", "/v1/tenants", `{"name":"`+name+`"}`)
			if code == http.StatusCreated {
				break
			}
			if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("create %s via %s: %d %v", name, r.addr, code, m)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, r := range reps[:2] {
		if code, _, m := restCall(t, r.addr, "GET", "/v1/tenants/tls1/databases", ""); code != 200 {
			t.Fatalf("read via %s: %d %v", r.addr, code, m)
		}
	}
	if code, _, m := restCall(t, reps[2].addr, "GET", "/v1/tenants", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("replica with a foreign role certificate answered %d %v", code, m)
	}
	if st := reps[2].svc.RaftStatus(); st.Leader != "" || st.AppliedIndex > 2 {
		t.Fatalf("replica with a foreign role certificate joined: %+v", st)
	}
}

// startReplica starts one replica with rc, its REST API on a fresh
// loopback port (rc.HTTPAddr is set to it).
func startReplica(t *testing.T, rc RaftConfig) *testReplica {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &lateHandler{}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	rc.HTTPAddr = l.Addr().String()
	svc, err := New(Config{DataDir: t.TempDir(), AdminToken: testAdminToken, Logger: slog.New(slog.DiscardHandler), Raft: rc})
	if err != nil {
		t.Fatal(err)
	}
	hh := svc.Handler()
	h.h.Store(&hh)
	t.Cleanup(func() {
		_ = srv.Close()
		_ = svc.Close()
	})
	return &testReplica{svc: svc, addr: rc.HTTPAddr, srv: srv}
}

// TestAddAndRemoveVoter: a replica started with NoBootstrap answers 503
// while in no group, joins a one-voter group through POST
// /v1/raft/voters, then serves the API by forwarding and applies the
// writes itself, and leaves with DELETE (sent through itself).
func TestAddAndRemoveVoter(t *testing.T) {
	a := startReplica(t, RaftConfig{NodeID: "cp-a", RaftAddr: "127.0.0.1:0", ForwardWait: 2 * time.Second})
	b := startReplica(t, RaftConfig{NodeID: "cp-b", RaftAddr: "127.0.0.1:0", NoBootstrap: true, ForwardWait: 2 * time.Second})
	if code, _, m := restCall(t, b.addr, "GET", "/v1/tenants", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("a replica in no group answered %d %v", code, m)
	}
	body := `{"id":"cp-b","raft_addr":"` + b.svc.node.RaftAddr() + `"}`
	if code, _, m := restCall(t, a.addr, "POST", "/v1/raft/voters", body); code != 200 || len(m["servers"].([]any)) != 2 {
		t.Fatalf("add voter: %d %v", code, m)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, m := restCall(t, b.addr, "POST", "/v1/tenants", `{"name":"via_b"}`)
		if code == http.StatusCreated {
			break
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("write through the new voter: %d %v", code, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The new voter applies the write too (the commit index reaches it
	// with the next append).
	for b.svc.tenantExists("via_b") != nil {
		if time.Now().After(deadline) {
			t.Fatal("the new voter never applied the write")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _, m := restCall(t, b.addr, "POST", "/v1/raft/voters", `{"id":""}`); code != 400 {
		t.Fatalf("bad add: %d %v", code, m)
	}
	if code, _, m := restCall(t, b.addr, "DELETE", "/v1/raft/voters/ghost", ""); code != 404 {
		t.Fatalf("remove unknown: %d %v", code, m)
	}
	if code, _, m := restCall(t, b.addr, "DELETE", "/v1/raft/voters/cp-b", ""); code != 204 {
		t.Fatalf("remove voter: %d %v", code, m)
	}
	code, _, m := restCall(t, a.addr, "GET", "/v1/raft", "")
	if code != 200 || len(m["servers"].([]any)) != 1 {
		t.Fatalf("configuration after remove: %d %v", code, m)
	}
	if code, _, m := restCall(t, a.addr, "POST", "/v1/tenants", `{"name":"after_remove"}`); code != 201 {
		t.Fatalf("write after remove: %d %v", code, m)
	}
}
