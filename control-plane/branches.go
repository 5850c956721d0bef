package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/timeline"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// Branches. A branch of a database is a copy-on-write timeline: a new id
// (from the database id counter, never reused) whose keys live under
// /db/<id>/ and which reads its parent below its fork timestamp. Creating
// one commits two small records through the log service
// (internal/timeline): the page servers learn the timeline by applying
// the log, and compute nodes resolve the branch name by reading its record
// at their snapshot. Nothing is copied.

// MainBranch names the database itself as a parent.
const MainBranch = "main"

// Branch errors.
var (
	// ErrHasChildren is wrapped when deleting a branch that other branches
	// fork from.
	ErrHasChildren = errors.New("controlplane: branch has child branches")
	// ErrNoLogService is wrapped when a branch operation needs the log
	// service and none is configured.
	ErrNoLogService = errors.New("controlplane: no log service configured")
)

// LogService is what the control plane needs from the log service to
// create and delete branches; *logclient.Client implements it.
type LogService interface {
	GetTimestamp(ctx context.Context, n uint32) (ts, commitIndex uint64, err error)
	Commit(ctx context.Context, startTS uint64, muts []*wirepb.Mutation, reads []*wirepb.KeyRange) (commitTS, index uint64, err error)
}

// Branch is a named copy-on-write branch of a database.
type Branch struct {
	Name string `json:"name"`
	// ID is the branch's timeline id: its rows live under /db/<ID>/.
	ID uint64 `json:"id"`
	// Parent is "main" (the database) or another branch of the database.
	Parent string `json:"parent"`
	// ForkTS is the hybrid timestamp (unix ms << 18 | logical) the branch
	// reads its parent at; ForkTime is its wall-clock part.
	ForkTS    uint64    `json:"fork_ts"`
	ForkTime  time.Time `json:"fork_time"`
	Tenant    string    `json:"tenant"`
	Database  string    `json:"database"`
	CreatedAt time.Time `json:"created_at"`
}

// hybridLogicalBits is the logical width of a hybrid timestamp.
const hybridLogicalBits = 18

// hybridTime is the wall-clock part of a hybrid timestamp.
func hybridTime(ts uint64) time.Time { return time.UnixMilli(int64(ts >> hybridLogicalBits)).UTC() }

// parseAt parses the "at" of a branch request: a hybrid timestamp (JSON
// number or string of digits) or an RFC 3339 time, which means the newest
// hybrid timestamp of its millisecond.
func parseAt(raw json.RawMessage) (uint64, error) {
	text := strings.TrimSpace(string(raw))
	if strings.HasPrefix(text, `"`) {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, fmt.Errorf("%w: \"at\": %v", ErrInvalid, err)
		}
	}
	if n, err := strconv.ParseUint(text, 10, 64); err == nil {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil || t.UnixMilli() <= 0 {
		return 0, fmt.Errorf("%w: \"at\" %s must be an RFC 3339 time after 1970 or a hybrid timestamp number", ErrInvalid, text)
	}
	return uint64(t.UnixMilli())<<hybridLogicalBits | (1<<hybridLogicalBits - 1), nil
}

// branch finds a branch of tenant/database.
func (s *state) branch(tenant, database, name string) (Branch, bool) {
	for _, b := range s.Branches {
		if b.Tenant == tenant && b.Database == database && b.Name == name {
			return b, true
		}
	}
	return Branch{}, false
}

// Branches lists the branches of tenant/database.
func (s *Service) Branches(tenant, database string) ([]Branch, error) {
	var ok bool
	out := []Branch{}
	s.fsm.read(func(st *state, _ *authState) {
		_, ok = st.database(tenant, database)
		for _, b := range st.Branches {
			if b.Tenant == tenant && b.Database == database {
				out = append(out, b)
			}
		}
	})
	if !ok {
		return nil, fmt.Errorf("%w: database %q in tenant %q", ErrNotFound, database, tenant)
	}
	return out, nil
}

// GetBranch looks a branch up.
func (s *Service) GetBranch(tenant, database, name string) (Branch, error) {
	var b Branch
	var ok bool
	s.fsm.read(func(st *state, _ *authState) { b, ok = st.branch(tenant, database, name) })
	if !ok {
		return Branch{}, fmt.Errorf("%w: branch %q of database %q", ErrNotFound, name, database)
	}
	return b, nil
}

// CreateBranch creates branch name of tenant/database forking parent
// ("" or "main": the database) at hybrid timestamp at (0: now). at must not
// be in the future nor older than Config.Retention. It commits the
// timeline and branch records through the log service; nothing is copied.
func (s *Service) CreateBranch(ctx context.Context, tenant, database, name, parent string, at uint64) (Branch, error) {
	if err := validName("branch", name); err != nil {
		return Branch{}, err
	}
	if name == MainBranch {
		return Branch{}, fmt.Errorf("%w: branch name %q is reserved for the database itself", ErrInvalid, name)
	}
	if parent == "" {
		parent = MainBranch
	}
	if s.cfg.Log == nil {
		return Branch{}, fmt.Errorf("%w: start the control plane with --logservice to create branches", ErrNoLogService)
	}
	s.branchMu.Lock()
	defer s.branchMu.Unlock()

	var db Database
	var ok, taken, parentOK bool
	var parentID uint64
	s.fsm.read(func(st *state, _ *authState) {
		db, ok = st.database(tenant, database)
		_, taken = st.branch(tenant, database, name)
		parentID = db.ID
		if parent == MainBranch {
			parentOK = ok
		} else if p, found := st.branch(tenant, database, parent); found {
			parentID, parentOK = p.ID, true
		}
	})
	switch {
	case !ok:
		return Branch{}, fmt.Errorf("%w: database %q in tenant %q", ErrNotFound, database, tenant)
	case taken:
		return Branch{}, fmt.Errorf("%w: branch %q of database %q", ErrExists, name, database)
	case !parentOK:
		return Branch{}, fmt.Errorf("%w: parent branch %q of database %q", ErrNotFound, parent, database)
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.LogTimeout)
	defer cancel()
	now, _, err := s.cfg.Log.GetTimestamp(ctx, 1)
	if err != nil {
		return Branch{}, fmt.Errorf("controlplane: create branch: take a timestamp: %w", err)
	}
	forkTS := now
	if at != 0 {
		forkTS = at
	}
	if forkTS > now {
		return Branch{}, fmt.Errorf("%w: \"at\" %d (%s) is in the future: the newest timestamp is %d (%s)",
			ErrInvalid, forkTS, hybridTime(forkTS).Format(time.RFC3339Nano), now, hybridTime(now).Format(time.RFC3339Nano))
	}
	if s.cfg.Retention > 0 {
		oldest := uint64(s.cfg.Now().Add(-s.cfg.Retention).UnixMilli()) << hybridLogicalBits
		if forkTS < oldest {
			return Branch{}, fmt.Errorf("%w: \"at\" %d (%s) is older than the retention window %s (oldest %s): its versions may be gone",
				ErrInvalid, forkTS, hybridTime(forkTS).Format(time.RFC3339Nano), s.cfg.Retention, hybridTime(oldest).Format(time.RFC3339Nano))
		}
	}

	// Reserve the id durably before anything names it, so a failure
	// below burns the id instead of ever reusing it.
	v, err := s.propose(&command{Op: opReserveID})
	if err != nil {
		return Branch{}, err
	}
	id := v.(uint64)

	rec := timeline.Branch{Name: name, Database: db.ID, ID: id, Parent: parent, ParentID: parentID, ForkTS: forkTS}
	muts := []*wirepb.Mutation{
		{Key: keys.TimelineKey(id), Value: timeline.Timeline{Parent: parentID, ForkTS: forkTS}.Encode()},
		{Key: keys.BranchKey(db.ID, name), Value: rec.Encode()},
	}
	if _, _, err := s.cfg.Log.Commit(ctx, now, muts, nil); err != nil {
		return Branch{}, fmt.Errorf("controlplane: create branch %q: commit: %w", name, err)
	}
	b := Branch{Name: name, ID: id, Parent: parent, ForkTS: forkTS, ForkTime: hybridTime(forkTS),
		Tenant: tenant, Database: database, CreatedAt: s.cfg.Now().UTC()}
	if _, err := s.propose(&command{Op: opAddBranch, Branch: &b}); err != nil {
		return Branch{}, err
	}
	s.cfg.Logger.Info("branch created", "tenant", tenant, "database", database, "branch", name, "id", id,
		"parent", parent, "fork_ts", forkTS)
	return b, nil
}

// DeleteBranch deletes a branch that no other branch forks from: its
// branch and timeline records are deleted through the log service (its
// rows become unreachable under /db/<id>/; page servers drop them once the
// deletion is older than their retention window), its endpoints are
// deleted (their computes drained) and its id is never reused.
func (s *Service) DeleteBranch(ctx context.Context, tenant, database, name string) error {
	if s.cfg.Log == nil {
		return fmt.Errorf("%w: start the control plane with --logservice to delete branches", ErrNoLogService)
	}
	s.branchMu.Lock()
	defer s.branchMu.Unlock()
	db, b, _, err := s.childlessBranch(tenant, database, name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.LogTimeout)
	defer cancel()
	now, _, err := s.cfg.Log.GetTimestamp(ctx, 1)
	if err != nil {
		return fmt.Errorf("controlplane: delete branch: take a timestamp: %w", err)
	}
	muts := []*wirepb.Mutation{
		{Key: keys.BranchKey(db.ID, name), Delete: true},
		{Key: keys.TimelineKey(b.ID), Delete: true},
	}
	if _, _, err := s.cfg.Log.Commit(ctx, now, muts, nil); err != nil {
		return fmt.Errorf("controlplane: delete branch %q: commit: %w", name, err)
	}
	if _, err := s.propose(&command{Op: opDeleteBranch, Tenant: tenant, Database: database, Name: name,
		ID: strconv.FormatUint(b.ID, 10)}); err != nil {
		return err
	}
	// The branch's endpoints go with it; the autoscaler drains their
	// computes (computes of a deleted endpoint are drained).
	eps, err := s.Endpoints(tenant, database)
	if err != nil {
		return err
	}
	var dropped []string
	for _, e := range eps {
		if e.Branch != name {
			continue
		}
		if err := s.DeleteEndpoint(tenant, database, e.Name); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("controlplane: delete branch %q: delete its endpoint %q: %w", name, e.Name, err)
		}
		dropped = append(dropped, e.ID)
	}
	s.cfg.Logger.Info("branch deleted", "tenant", tenant, "database", database, "branch", name, "id", b.ID, "endpoints_deleted", dropped)
	return nil
}

// childlessBranch looks up a branch no other branch forks from, with its
// database and its parent's timeline id; ErrNotFound or ErrHasChildren
// otherwise.
func (s *Service) childlessBranch(tenant, database, name string) (Database, Branch, uint64, error) {
	var db Database
	var b Branch
	var ok bool
	var parentID uint64
	var children []string
	s.fsm.read(func(st *state, _ *authState) {
		db, _ = st.database(tenant, database)
		b, ok = st.branch(tenant, database, name)
		parentID = db.ID
		if p, found := st.branch(tenant, database, b.Parent); found && b.Parent != MainBranch {
			parentID = p.ID
		}
		for _, c := range st.Branches {
			if c.Tenant == tenant && c.Database == database && c.Parent == name {
				children = append(children, c.Name)
			}
		}
	})
	if !ok {
		return Database{}, Branch{}, 0, fmt.Errorf("%w: branch %q of database %q", ErrNotFound, name, database)
	}
	if len(children) > 0 {
		return Database{}, Branch{}, 0, fmt.Errorf("%w: %q is the parent of %s; delete those first", ErrHasChildren, name, strings.Join(children, ", "))
	}
	return db, b, parentID, nil
}

// ResetBranch resets a branch to its parent's state now, as Neon's reset
// does: the branch gets a new timeline (a fresh id forking its parent at
// the current timestamp) and its name record points at it, both in one
// commit through the log service that also deletes the old timeline
// record, so every write made on the branch is dropped at once for every
// compute (they resolve the name at each statement's snapshot) and the old
// rows become garbage the page servers collect as for a deleted branch.
// A branch other branches fork from answers ErrHasChildren. Endpoints of
// the branch keep serving it.
func (s *Service) ResetBranch(ctx context.Context, tenant, database, name string) (Branch, error) {
	if s.cfg.Log == nil {
		return Branch{}, fmt.Errorf("%w: start the control plane with --logservice to reset branches", ErrNoLogService)
	}
	s.branchMu.Lock()
	defer s.branchMu.Unlock()
	db, b, parentID, err := s.childlessBranch(tenant, database, name)
	if err != nil {
		return Branch{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.LogTimeout)
	defer cancel()
	now, _, err := s.cfg.Log.GetTimestamp(ctx, 1)
	if err != nil {
		return Branch{}, fmt.Errorf("controlplane: reset branch: take a timestamp: %w", err)
	}
	v, err := s.propose(&command{Op: opReserveID})
	if err != nil {
		return Branch{}, err
	}
	id := v.(uint64)
	rec := timeline.Branch{Name: name, Database: db.ID, ID: id, Parent: b.Parent, ParentID: parentID, ForkTS: now}
	muts := []*wirepb.Mutation{
		{Key: keys.TimelineKey(id), Value: timeline.Timeline{Parent: parentID, ForkTS: now}.Encode()},
		{Key: keys.BranchKey(db.ID, name), Value: rec.Encode()},
		{Key: keys.TimelineKey(b.ID), Delete: true},
	}
	if _, _, err := s.cfg.Log.Commit(ctx, now, muts, nil); err != nil {
		return Branch{}, fmt.Errorf("controlplane: reset branch %q: commit: %w", name, err)
	}
	nb := b
	nb.ID, nb.ForkTS, nb.ForkTime = id, now, hybridTime(now)
	out, err := s.propose(&command{Op: opResetBranch, Branch: &nb})
	if err != nil {
		return Branch{}, err
	}
	s.cfg.Logger.Info("branch reset", "tenant", tenant, "database", database, "branch", name,
		"old_id", b.ID, "id", id, "fork_ts", now)
	return out.(Branch), nil
}

// branchRoutes registers the branch endpoints:
//
//	GET    /v1/tenants/{tenant}/databases/{name}/branches
//	POST   /v1/tenants/{tenant}/databases/{name}/branches   {"name", "parent", "at"}
//	GET    /v1/tenants/{tenant}/databases/{name}/branches/{branch}
//	DELETE /v1/tenants/{tenant}/databases/{name}/branches/{branch}
//	POST   /v1/tenants/{tenant}/databases/{name}/branches/{branch}/reset
func (s *Service) branchRoutes(mux *http.ServeMux) {
	const base = "/v1/tenants/{tenant}/databases/{name}/branches"
	mux.HandleFunc("GET "+base, func(w http.ResponseWriter, r *http.Request) {
		bs, err := s.Branches(r.PathValue("tenant"), r.PathValue("name"))
		if err != nil {
			writeBranchError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"branches": bs})
	})
	mux.HandleFunc("POST "+base, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name   string          `json:"name"`
			Parent string          `json:"parent"`
			At     json.RawMessage `json:"at"`
		}
		if !s.decode(w, r, &req) {
			return
		}
		var at uint64
		if len(req.At) > 0 && !bytes.Equal(bytes.TrimSpace(req.At), []byte("null")) {
			var err error
			if at, err = parseAt(req.At); err != nil {
				writeBranchError(w, err)
				return
			}
		}
		b, err := s.CreateBranch(r.Context(), r.PathValue("tenant"), r.PathValue("name"), req.Name, req.Parent, at)
		if err != nil {
			writeBranchError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, b)
	})
	mux.HandleFunc("GET "+base+"/{branch}", func(w http.ResponseWriter, r *http.Request) {
		b, err := s.GetBranch(r.PathValue("tenant"), r.PathValue("name"), r.PathValue("branch"))
		if err != nil {
			writeBranchError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, b)
	})
	mux.HandleFunc("POST "+base+"/{branch}/reset", func(w http.ResponseWriter, r *http.Request) {
		b, err := s.ResetBranch(r.Context(), r.PathValue("tenant"), r.PathValue("name"), r.PathValue("branch"))
		if err != nil {
			writeBranchError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, b)
	})
	mux.HandleFunc("DELETE "+base+"/{branch}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteBranch(r.Context(), r.PathValue("tenant"), r.PathValue("name"), r.PathValue("branch")); err != nil {
			writeBranchError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// writeBranchError answers the branch errors writeError does not know.
func writeBranchError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrHasChildren):
		writeJSON(w, http.StatusConflict, errorBody("has_children", err.Error()))
	case errors.Is(err, ErrNoLogService):
		writeJSON(w, http.StatusServiceUnavailable, errorBody("unavailable", err.Error()))
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrExists), errors.Is(err, ErrInvalid),
		errors.Is(err, ErrNotLeader), errors.Is(err, ErrUnavailable):
		writeError(w, err)
	case errors.Is(err, context.DeadlineExceeded):
		writeJSON(w, http.StatusServiceUnavailable, errorBody("unavailable", err.Error()))
	default:
		writeError(w, err)
	}
}
