package controlplane

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// memSink is an in-memory raft.SnapshotSink.
type memSink struct{ bytes.Buffer }

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { return nil }
func (s *memSink) Close() error  { return nil }

func applyCmd(t *testing.T, f *fsm, index uint64, c command) applyResult {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	res, ok := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: b}).(applyResult)
	if !ok {
		t.Fatalf("apply %s: no applyResult", c.Op)
	}
	return res
}

func snapshotBytes(t *testing.T, f *fsm) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	return sink.Bytes()
}

// testLog is a command sequence touching every op, with refusals mixed in.
func testLog() []command {
	at := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	one, three := 1, 3
	return []command{
		{Op: opCreateTenant, Name: "acme", At: at},
		{Op: opCreateTenant, Name: "acme", At: at}, // refused: exists
		{Op: opCreateDatabase, Tenant: "acme", Name: "app", At: at},
		{Op: opCreateDatabase, Tenant: "ghost", Name: "app", At: at}, // refused: no tenant
		{Op: opReserveID},
		{Op: opAddBranch, Branch: &Branch{Name: "dev", ID: 2, Parent: "main", Tenant: "acme", Database: "app", ForkTS: 7}},
		{Op: opAddBranch, Branch: &Branch{Name: "dev", ID: 2, Parent: "main", Tenant: "acme", Database: "app"}}, // refused
		{Op: opCreateEndpoint, At: at, Endpoint: &Endpoint{Name: "main", Tenant: "acme", Database: "app", Branch: "main",
			Mode: ModeReadWrite, MaxComputes: 2, Policy: ScalingPolicy{TargetInFlight: 4}}},
		{Op: opCreateEndpoint, At: at, Endpoint: &Endpoint{Name: "rw2", Tenant: "acme", Database: "app", Branch: "main",
			Mode: ModeReadWrite, MaxComputes: 1, Policy: ScalingPolicy{TargetInFlight: 4}}}, // refused: second read-write
		{Op: opUpdateEndpoint, Tenant: "acme", Database: "app", Name: "main", At: at, Patch: &EndpointPatch{MinComputes: &one, MaxComputes: &three}},
		{Op: opUpdateEndpoint, Tenant: "acme", Database: "app", Name: "main", At: at, Patch: &EndpointPatch{MinComputes: &three, MaxComputes: &one}}, // refused: min > max
		{Op: opCreateAPIKey, Key: &storedKey{APIKey: APIKey{ID: "00000000000000aa", Tenant: "acme", Database: "app", CreatedAt: at}, Hash: "ab"}},
		{Op: opCreateAPIKey, Key: &storedKey{APIKey: APIKey{ID: "00000000000000bb", Tenant: "acme", CreatedAt: at}, Hash: "cd"}},
		{Op: opRevokeAPIKey, Tenant: "acme", ID: "00000000000000bb"},
		{Op: opRevokeAPIKey, Tenant: "acme", ID: "00000000000000bb"}, // refused: gone
		{Op: opCreateRole, Role: &storedRole{Role: Role{Tenant: "acme", Name: "alice", CreatedAt: at}, Verifier: SCRAMVerifier{Salt: "c2FsdA==", Iterations: 4096}}},
		{Op: opCreateRole, Role: &storedRole{Role: Role{Tenant: "acme", Name: "bob", CreatedAt: at}}},
		{Op: opDropRole, Tenant: "acme", Name: "bob"},
		{Op: opMemberAddr, ID: "cp-1", Addr: "127.0.0.1:8433"},
		{Op: opCreateDatabase, Tenant: "acme", Name: "second", At: at},
		{Op: opDeleteEndpoint, Tenant: "acme", Database: "app", Name: "nope"}, // refused
		{Op: "no_such_op"}, // refused
	}
}

func TestFSMApply(t *testing.T) {
	f := newFSM()
	var refused []string
	for i, c := range testLog() {
		res := applyCmd(t, f, uint64(i+1), c)
		if res.err != nil {
			refused = append(refused, c.Op)
		}
	}
	want := []string{opCreateTenant, opCreateDatabase, opAddBranch, opCreateEndpoint, opUpdateEndpoint, opRevokeAPIKey, opDeleteEndpoint, "no_such_op"}
	if len(refused) != len(want) {
		t.Fatalf("refused %v, want %v", refused, want)
	}
	for i := range want {
		if refused[i] != want[i] {
			t.Fatalf("refused %v, want %v", refused, want)
		}
	}
	d := f.d
	if len(d.State.Tenants) != 1 || len(d.State.Databases) != 2 || len(d.State.Branches) != 1 || len(d.State.Endpoints) != 1 {
		t.Fatalf("state: %+v", d.State)
	}
	// Ids: app=1, the branch reserved 2, second=3; never reused.
	if d.State.Databases[0].ID != 1 || d.State.Databases[1].ID != 3 || d.State.NextDBID != 4 {
		t.Fatalf("database ids: %+v next %d", d.State.Databases, d.State.NextDBID)
	}
	e := d.State.Endpoints[0]
	if e.ID != "ep-1" || e.MinComputes != 1 || e.MaxComputes != 3 || d.State.NextEndpointID != 2 {
		t.Fatalf("endpoint: %+v next %d", e, d.State.NextEndpointID)
	}
	if len(d.Auth.APIKeys) != 1 || d.Auth.APIKeys[0].ID != "00000000000000aa" || len(d.Auth.Roles) != 1 || d.Auth.Roles[0].Name != "alice" {
		t.Fatalf("auth: %+v", d.Auth)
	}
	if d.Members["cp-1"] != "127.0.0.1:8433" || f.applied != uint64(len(testLog())) {
		t.Fatalf("members %v applied %d", d.Members, f.applied)
	}
	// A refusal is an error the service maps to HTTP.
	res := applyCmd(t, f, 100, command{Op: opCreateTenant, Name: "acme"})
	if !errors.Is(res.err, ErrExists) {
		t.Fatalf("duplicate tenant: %v", res.err)
	}
	if res := applyCmd(t, f, 101, command{Op: opDropRole, Tenant: "acme", Name: "zed"}); !errors.Is(res.err, ErrNotFound) {
		t.Fatalf("drop missing role: %v", res.err)
	}
}

// TestFSMDeterministicSnapshotRestore: two FSMs fed the same log encode
// equal snapshots; a snapshot restored into a fresh FSM encodes the same
// bytes and goes on applying identically.
func TestFSMDeterministicSnapshotRestore(t *testing.T) {
	a, b := newFSM(), newFSM()
	for i, c := range testLog() {
		applyCmd(t, a, uint64(i+1), c)
		applyCmd(t, b, uint64(i+1), c)
	}
	sa, sb := snapshotBytes(t, a), snapshotBytes(t, b)
	if !bytes.Equal(sa, sb) {
		t.Fatalf("same log, different snapshots:\n%s\n%s", sa, sb)
	}
	r := newFSM()
	if err := r.Restore(io.NopCloser(bytes.NewReader(sa))); err != nil {
		t.Fatal(err)
	}
	if got := snapshotBytes(t, r); !bytes.Equal(got, sa) {
		t.Fatalf("restored state differs:\n%s\n%s", got, sa)
	}
	next := command{Op: opCreateDatabase, Tenant: "acme", Name: "third"}
	ra, rr := applyCmd(t, a, 50, next), applyCmd(t, r, 50, next)
	if ra.err != nil || rr.err != nil || ra.val.(Database).ID != 4 || rr.val.(Database).ID != 4 {
		t.Fatalf("after restore: %+v %+v", ra, rr)
	}
	// Bad snapshots are refused, leaving the state as it was.
	for _, bad := range []string{"", "{", `{"version":99}`, `{"version":1,"bogus":1}`} {
		if err := r.Restore(io.NopCloser(bytes.NewReader([]byte(bad)))); err == nil {
			t.Errorf("restore %q: accepted", bad)
		}
	}
	if _, ok := r.d.State.database("acme", "third"); !ok || len(r.d.State.Databases) != 3 {
		t.Fatalf("state after refused restores: %+v", r.d.State.Databases)
	}
}

func TestFSMImportOnlyIntoEmptyState(t *testing.T) {
	imp := &fsmData{Version: fsmVersion, State: state{Tenants: []Tenant{{Name: "old"}}, Databases: []Database{{ID: 5, Name: "db", Tenant: "old"}}, NextDBID: 6},
		Auth: authState{Roles: []storedRole{{Role: Role{Tenant: "old", Name: "r"}}}}}
	f := newFSM()
	if res := applyCmd(t, f, 1, command{Op: opImport, Import: imp}); res.err != nil || res.val != true {
		t.Fatalf("import into empty: %+v", res)
	}
	if f.d.State.NextDBID != 6 || len(f.d.Auth.Roles) != 1 || !f.d.Imported {
		t.Fatalf("after import: %+v", f.d)
	}
	// Never twice, and never over written state.
	if res := applyCmd(t, f, 2, command{Op: opImport, Import: &fsmData{State: state{NextDBID: 1}}}); res.val != false {
		t.Fatalf("second import: %+v", res)
	}
	g := newFSM()
	applyCmd(t, g, 1, command{Op: opCreateTenant, Name: "new"})
	if res := applyCmd(t, g, 2, command{Op: opImport, Import: imp}); res.val != false || len(g.d.State.Tenants) != 1 {
		t.Fatalf("import over written state: %+v %+v", res, g.d.State)
	}
}

// TestLegacyStateImported: a data directory of a control plane from before
// Raft (state.json, auth.json) is imported once at the first start.
func TestLegacyStateImported(t *testing.T) {
	dir := t.TempDir()
	legacy := `{"tenants":[{"name":"default","created_at":"2026-01-01T00:00:00Z"},{"name":"acme","created_at":"2026-01-01T00:00:00Z"}],
"databases":[{"id":1,"name":"phantom","tenant":"default"},{"id":7,"name":"shop","tenant":"acme"}],"next_db_id":9,
"endpoints":[{"id":"ep-3","name":"main","tenant":"acme","database":"shop","branch":"main","max_computes":1,"mode":"read-write","policy":{"target_in_flight":4}}],"next_endpoint_id":4}`
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	s0, err := New(Config{DataDir: t.TempDir(), AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s0.CreateAPIKey("default", "", false)
	if err != nil {
		t.Fatal(err)
	}
	_ = s0.Close()
	auth := `{"api_keys":[{"id":"` + k.ID + `","tenant":"acme","read_only":false,"created_at":"2026-01-01T00:00:00Z","sha256":"` +
		s0.fsm.d.Auth.APIKeys[0].Hash + `"}],"roles":[]}`
	if err := os.WriteFile(filepath.Join(dir, "auth.json"), []byte(auth), 0o600); err != nil {
		t.Fatal(err)
	}

	s, err := New(Config{DataDir: dir, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := s.Database("acme", "shop"); err != nil || d.ID != 7 {
		t.Fatalf("imported database: %+v %v", d, err)
	}
	if p, err := s.VerifyAPIKey(k.Key); err != nil || p.Tenant != "acme" {
		t.Fatalf("imported key: %+v %v", p, err)
	}
	if d, err := s.CreateDatabase("acme", "next"); err != nil || d.ID != 9 {
		t.Fatalf("ids continue after the imported counter: %+v %v", d, err)
	}
	if e, err := s.CreateEndpoint("acme", "next", EndpointSpec{Name: "e"}); err != nil || e.ID != "ep-4" {
		t.Fatalf("endpoint ids continue: %+v %v", e, err)
	}
	for _, name := range []string{"state.json", "auth.json"} {
		if _, err := os.Stat(filepath.Join(dir, name+".imported")); err != nil {
			t.Fatalf("%s not renamed after import: %v", name, err)
		}
	}
	// Restart: the state comes from Raft, not from the files.
	_ = s.Close()
	s2, err := New(Config{DataDir: dir, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	if d, err := s2.Database("acme", "next"); err != nil || d.ID != 9 {
		t.Fatalf("after restart: %+v %v", d, err)
	}
}

// TestSnapshotRestoreAcrossRestart: a Raft snapshot of the FSM is taken,
// and a restarted replica restores its state from it (plus the log after
// it).
func TestSnapshotRestoreAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{DataDir: dir, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		if _, err := s.CreateDatabase("default", n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.node.Raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if _, err := s.CreateTenant("late"); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	snaps, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if err != nil || len(snaps) == 0 {
		t.Fatalf("no snapshot on disk: %v", err)
	}
	s2, err := New(Config{DataDir: dir, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	if d, err := s2.Database("default", "c"); err != nil || d.ID != 4 {
		t.Fatalf("from the snapshot: %+v %v", d, err)
	}
	if err := s2.tenantExists("late"); err != nil {
		t.Fatalf("from the log after the snapshot: %v", err)
	}
}
