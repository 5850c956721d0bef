package controlplane

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/phantom-db/phantom/internal/raftnode"
)

// Replication of the control plane's state: one Raft group (1, 3 or 5
// voters) through internal/raftnode, with the FSM of raftfsm.go.
//
// Writes are commands applied through Raft on the leader; reads are served
// from the leader's FSM after raft.VerifyLeader confirmed, with a quorum,
// that it still leads (a deposed leader that has not noticed yet cannot
// answer a stale read), and only once the leader's barrier at the start of
// its term has applied every earlier entry. A follower forwards every REST
// call but /healthz to the leader's REST address (recorded in the FSM by
// each leader at the start of its term, or named by --peers), so a client
// may talk to any live replica.

// Errors of the replicated state.
var (
	// ErrNotLeader is wrapped when a change is proposed on a replica that
	// is not the leader (the change did not happen).
	ErrNotLeader = errors.New("controlplane: not the raft leader")
	// ErrUnavailable is wrapped when a change's outcome is unknown (lost
	// leadership or a timeout after it was proposed): it may have applied.
	ErrUnavailable = errors.New("controlplane: unavailable")
)

// RaftPeer is one voter of the control plane's Raft group.
type RaftPeer struct {
	// ID is the replica's node id (its Raft server id).
	ID string
	// RaftAddr is the replica's Raft address (host:port).
	RaftAddr string
	// HTTPAddr is the replica's REST address (host:port), optional: the
	// leader also records its own in the replicated state.
	HTTPAddr string
}

// RaftConfig configures the replication of the control plane's state. The
// zero value is one voter on disk without a network transport: the state
// survives restarts of the one process.
type RaftConfig struct {
	// NodeID is this replica's id. Default "cp-1".
	NodeID string
	// RaftAddr is the Raft transport's listen address; empty means a
	// single voter without a transport (Peers must then be empty).
	RaftAddr string
	// RaftAdvertiseAddr is the Raft address peers dial (default: the
	// bound RaftAddr).
	RaftAdvertiseAddr string
	// Peers are the voters the group is bootstrapped with, this replica
	// included; empty: this replica alone. Every replica of a new group
	// gets the same list.
	Peers []RaftPeer
	// NoBootstrap makes a new replica wait to be added to an existing
	// group instead of bootstrapping one from Peers.
	NoBootstrap bool
	// HTTPAddr is this replica's REST address as the other replicas reach
	// it; the leader records it so followers can forward to it.
	HTTPAddr string
	// TLS, when set, puts mutual TLS 1.3 on every Raft connection: its
	// certificate is this replica's in both directions, RootCAs the CA
	// peers are verified against, and a peer's certificate must carry the
	// URI SAN PeerURI. Default nil: plain TCP.
	TLS *tls.Config
	// HeartbeatTimeout and ElectionTimeout bound failover. Default 500ms.
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// ApplyTimeout bounds how long a change waits to be enqueued into
	// Raft, and the barrier of a new leader. Default 5s.
	ApplyTimeout time.Duration
	// ForwardWait is how long a request waits for a leader (election,
	// forwarding retries) before it is answered 503. Default 10s.
	ForwardWait time.Duration
	// SnapshotThreshold is how many new entries trigger a snapshot.
	// Default 1024.
	SnapshotThreshold uint64
	// ReadyTimeout bounds how long New waits for a single-voter group to
	// elect itself and create the default tenant and database. Default
	// 30s. New does not wait for a group of several voters.
	ReadyTimeout time.Duration
}

func (c *RaftConfig) ensureDefaults() {
	if c.NodeID == "" {
		c.NodeID = "cp-1"
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = 500 * time.Millisecond
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = 500 * time.Millisecond
	}
	if c.ApplyTimeout == 0 {
		c.ApplyTimeout = 5 * time.Second
	}
	if c.ForwardWait == 0 {
		c.ForwardWait = 10 * time.Second
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 1024
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 30 * time.Second
	}
}

// forwardedHeader marks a request a follower forwarded; the receiver
// never forwards it again.
const forwardedHeader = "Phantom-Forwarded-By"

// notLeaderHeader marks a 503 answered because this replica is not the
// leader (the request did not run), so the forwarder may retry it.
const notLeaderHeader = "Phantom-Not-Leader"

// PeerURI is the URI SAN a control plane replica's certificate must carry
// when RaftConfig.TLS is set: the role marker of a control plane replica.
const PeerURI = "spiffe://phantom/control-plane"

// openRaft starts the replica.
func (s *Service) openRaft() error {
	rc := &s.cfg.Raft
	peers := make([]raftnode.Peer, 0, len(rc.Peers))
	for _, p := range rc.Peers {
		peers = append(peers, raftnode.Peer{ID: p.ID, RaftAddr: p.RaftAddr})
	}
	node, err := raftnode.Open(raftnode.Config{
		NodeID:             rc.NodeID,
		DataDir:            s.cfg.DataDir,
		RaftAddr:           rc.RaftAddr,
		RaftAdvertiseAddr:  rc.RaftAdvertiseAddr,
		TLS:                rc.TLS,
		PeerURI:            PeerURI,
		Bootstrap:          !rc.NoBootstrap,
		Peers:              peers,
		HeartbeatTimeout:   rc.HeartbeatTimeout,
		ElectionTimeout:    rc.ElectionTimeout,
		LeaderLeaseTimeout: min(250*time.Millisecond, rc.HeartbeatTimeout),
		CommitTimeout:      50 * time.Millisecond,
		SnapshotThreshold:  rc.SnapshotThreshold,
		TrailingLogs:       1024,
		Logger:             s.cfg.Logger.With("component", "control-plane-raft"),
	}, s.fsm)
	if err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	s.node = node
	go s.leaderLoop()
	return nil
}

// leaderLoop follows leadership: while this replica leads it establishes
// its term (establish) and then serves; on any change it stops serving.
func (s *Service) leaderLoop() {
	defer close(s.loopDone)
	ch := s.node.Raft.LeaderCh()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		select {
		case <-s.closing:
			s.ready.Store(false)
			return
		case <-ch:
		case <-retry.C:
		}
		s.ready.Store(false)
		if s.node.Raft.State() != raft.Leader {
			continue
		}
		if err := s.establish(); err != nil {
			s.cfg.Logger.Warn("establishing control plane leadership failed; retrying", "err", err)
			retry.Reset(100 * time.Millisecond)
			continue
		}
		s.ready.Store(true)
		s.cfg.Logger.Info("control plane leader", "node", s.cfg.Raft.NodeID)
	}
}

// establish starts a term: a barrier applies every earlier entry to the
// FSM, the leader records its REST address, imports a pre-Raft state once,
// and creates the default tenant and database when missing.
func (s *Service) establish() error {
	rc := s.cfg.Raft
	if err := s.node.Raft.Barrier(rc.ApplyTimeout).Error(); err != nil {
		return fmt.Errorf("barrier: %w", err)
	}
	if advertisable(rc.HTTPAddr) && s.fsm.member(rc.NodeID) != rc.HTTPAddr {
		if _, err := s.propose(&command{Op: opMemberAddr, ID: rc.NodeID, Addr: rc.HTTPAddr}); err != nil {
			return fmt.Errorf("record rest address: %w", err)
		}
	}
	if err := s.importLegacy(); err != nil {
		return err
	}
	// After the barrier the FSM is current: propose only what is missing.
	if s.tenantExists(s.cfg.DefaultTenant) != nil {
		if _, err := s.CreateTenant(s.cfg.DefaultTenant); err != nil && !errors.Is(err, ErrExists) {
			return err
		}
	}
	if _, err := s.Database(s.cfg.DefaultTenant, s.cfg.DefaultDatabase); err != nil {
		if _, err := s.CreateDatabase(s.cfg.DefaultTenant, s.cfg.DefaultDatabase); err != nil && !errors.Is(err, ErrExists) {
			return err
		}
	}
	return nil
}

// importLegacy imports the state.json and auth.json of a control plane
// from before Raft, once, into a state nothing was written to yet. The
// files are renamed *.imported afterwards.
func (s *Service) importLegacy() error {
	var imported, empty bool
	s.fsm.mu.RLock()
	imported, empty = s.fsm.d.Imported, s.fsm.d.State.empty()
	s.fsm.mu.RUnlock()
	if imported || !empty {
		return nil
	}
	statePath := filepath.Join(s.cfg.DataDir, "state.json")
	authPath := filepath.Join(s.cfg.DataDir, "auth.json")
	st, haveState, err := loadLegacyState(statePath)
	if err != nil {
		return err
	}
	a, haveAuth, err := loadLegacyAuth(authPath)
	if err != nil {
		return err
	}
	if !haveState && !haveAuth {
		return nil
	}
	d := &fsmData{Version: fsmVersion, State: state{NextDBID: 1}}
	if haveState {
		d.State = *st
	}
	if haveAuth {
		d.Auth = *a
	}
	v, err := s.propose(&command{Op: opImport, Import: d})
	if err != nil {
		return fmt.Errorf("import legacy state: %w", err)
	}
	if done, _ := v.(bool); done {
		s.cfg.Logger.Info("imported pre-raft control plane state", "tenants", len(d.State.Tenants),
			"databases", len(d.State.Databases), "api_keys", len(d.Auth.APIKeys), "roles", len(d.Auth.Roles))
	}
	for _, p := range []string{statePath, authPath} {
		if err := renameIfExists(p, p+".imported"); err != nil {
			return err
		}
	}
	return nil
}

// propose applies c through Raft and returns the FSM's answer.
func (s *Service) propose(c *command) (any, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("controlplane: encode command: %w", err)
	}
	if s.node.Raft.State() != raft.Leader {
		return nil, ErrNotLeader
	}
	f := s.node.Raft.Apply(b, s.cfg.Raft.ApplyTimeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout) {
			return nil, fmt.Errorf("%w: %s: %w", ErrNotLeader, c.Op, err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, c.Op, err)
	}
	res, ok := f.Response().(applyResult)
	if !ok {
		return nil, fmt.Errorf("controlplane: unexpected apply response %T", f.Response())
	}
	return res.val, res.err
}

// IsLeader reports whether this replica leads the group and has
// established its term (it serves the API itself).
func (s *Service) IsLeader() bool {
	return s.ready.Load() && s.node.Raft.State() == raft.Leader
}

// WaitReady waits until this replica knows a ready leader: itself once it
// established its term, or another replica.
func (s *Service) WaitReady(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if s.IsLeader() {
			return nil
		}
		if _, id := s.node.Raft.LeaderWithID(); id != "" && string(id) != s.cfg.Raft.NodeID {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("controlplane: wait for a raft leader: %w", ctx.Err())
		case <-s.closing:
			return errors.New("controlplane: closed")
		case <-t.C:
		}
	}
}

// RaftStatus is what /healthz says about replication.
type RaftStatus struct {
	NodeID string `json:"node_id"`
	// State is "Leader", "Follower", "Candidate" or "Shutdown".
	State string `json:"state"`
	// Leader is the leader's node id ("" while none is known) and
	// LeaderHTTP its REST address when known.
	Leader     string `json:"leader"`
	LeaderHTTP string `json:"leader_http,omitempty"`
	// Ready is true on a leader that serves the API itself.
	Ready bool `json:"ready"`
	// AppliedIndex is the newest Raft index applied to this replica's
	// state.
	AppliedIndex uint64 `json:"applied_index"`
}

// RaftStatus reports this replica's view of the group.
func (s *Service) RaftStatus() RaftStatus {
	addr, id := s.leaderHTTP()
	return RaftStatus{NodeID: s.cfg.Raft.NodeID, State: s.node.Raft.State().String(), Leader: id, LeaderHTTP: addr,
		Ready: s.IsLeader(), AppliedIndex: s.node.Raft.AppliedIndex()}
}

// RaftAddr is the advertised Raft address ("" without a transport).
func (s *Service) RaftAddr() string {
	if s.cfg.Raft.RaftAddr == "" {
		return ""
	}
	return s.node.RaftAddr()
}

// leaderHTTP returns the leader's REST address and id as far as known.
func (s *Service) leaderHTTP() (addr, id string) {
	_, lid := s.node.Raft.LeaderWithID()
	id = string(lid)
	if id == "" {
		return "", ""
	}
	// The operator's --peers first: a recorded address may be a bind
	// address of another network view.
	for _, p := range s.cfg.Raft.Peers {
		if p.ID == id && p.HTTPAddr != "" {
			return p.HTTPAddr, id
		}
	}
	return s.fsm.member(id), id
}

// Close stops Raft and closes its stores. It is safe to call more than
// once.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		var errs []error
		if err := s.node.Shutdown(); err != nil {
			errs = append(errs, err)
		}
		<-s.loopDone
		if err := s.node.Close(); err != nil {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("controlplane: close: %w", err)
		}
	})
	return s.closeErr
}

// route serves a request on the ready leader and forwards it from a
// follower; /healthz is always answered locally.
func (s *Service) route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		forwarded := r.Header.Get(forwardedHeader) != ""
		deadline := time.Now().Add(s.cfg.Raft.ForwardWait)
		var body []byte
		bodyRead := false
		for {
			if s.IsLeader() {
				if bodyRead {
					// Read for a forward that did not happen.
					r.Body = io.NopCloser(bytes.NewReader(body))
				}
				if !isRead(r) {
					next.ServeHTTP(w, r)
					return
				}
				// Linearizable read: a quorum confirms the leadership.
				if err := s.node.Raft.VerifyLeader().Error(); err == nil {
					next.ServeHTTP(w, r)
					return
				}
			} else if addr, id := s.leaderHTTP(); !forwarded && addr != "" && id != s.cfg.Raft.NodeID {
				if !bodyRead {
					var ok bool
					if body, ok = s.readBody(w, r); !ok {
						return
					}
					bodyRead = true
				}
				if s.forward(w, r, body, addr) {
					return
				}
			} else if forwarded {
				// The forwarder retries elsewhere; forwarding twice could loop.
				s.writeNoLeader(w, "this replica is not the leader")
				return
			}
			if time.Now().After(deadline) {
				s.writeNoLeader(w, fmt.Sprintf("no raft leader answered within %s", s.cfg.Raft.ForwardWait))
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-s.closing:
				s.writeNoLeader(w, "replica shutting down")
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// isRead reports whether r only reads the state: GET, HEAD and the API
// key check (a POST so the key stays out of URLs and logs).
func isRead(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead ||
		(r.Method == http.MethodPost && r.URL.Path == "/v1/auth/verify")
}

// readBody reads the request body once (bounded), so a forward can be
// retried.
func (s *Service) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Body == nil {
		return nil, true
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("request_too_large", err.Error()))
			return nil, false
		}
		writeJSON(w, http.StatusBadRequest, errorBody("bad_request", "read body: "+err.Error()))
		return nil, false
	}
	return b, true
}

// hopHeaders are not forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forward sends the request to the leader at addr and copies its answer.
// It returns false, having written nothing, when the request certainly did
// not run there (the connection was refused, or the replica answered that
// it is not the leader), so the caller may retry.
func (s *Service) forward(w http.ResponseWriter, r *http.Request, body []byte, addr string) bool {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+addr+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorBody("internal", err.Error()))
		return true
	}
	req.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	req.Header.Set(forwardedHeader, s.cfg.Raft.NodeID)
	resp, err := s.httpc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return false
		}
		if r.Context().Err() != nil {
			return true
		}
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, errorBody("unavailable",
			fmt.Sprintf("the leader at %s did not answer (the request may or may not have been applied): %v", addr, err)))
		return true
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get(notLeaderHeader) != "" {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return false
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return true
}

// writeNoLeader answers 503 with Retry-After and the leader as far as
// known.
func (s *Service) writeNoLeader(w http.ResponseWriter, msg string) {
	addr, id := s.leaderHTTP()
	w.Header().Set("Retry-After", "1")
	w.Header().Set(notLeaderHeader, "1")
	body := errorBody("no_leader", msg)
	body["leader"] = map[string]string{"id": id, "http_addr": addr}
	writeJSON(w, http.StatusServiceUnavailable, body)
}

// ParseRaftPeers parses id=raftaddr[=httpaddr],... (the --peers flag).
func ParseRaftPeers(s string) ([]RaftPeer, error) {
	var peers []RaftPeer
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		parts := strings.Split(p, "=")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("%w: bad peer %q: want id=raftaddr[=httpaddr]", ErrInvalid, p)
		}
		peer := RaftPeer{ID: parts[0], RaftAddr: parts[1]}
		if len(parts) == 3 {
			peer.HTTPAddr = parts[2]
		}
		peers = append(peers, peer)
	}
	return peers, nil
}

// advertisable reports whether addr is a host:port other replicas can
// dial (not empty, not an unspecified address like 0.0.0.0).
func advertisable(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsUnspecified()
}

// renameIfExists renames from to to when from exists.
func renameIfExists(from, to string) error {
	if err := os.Rename(from, to); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("controlplane: %w", err)
	}
	return nil
}
