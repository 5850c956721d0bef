package logservice

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/phantom-db/phantom/internal/raftnode"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// apiAddr returns the gRPC address of member id: this node's own
// Config.APIAddr, else the address an admin recorded when adding it, else the
// one in Config.Peers; "" if unknown.
func (s *Service) apiAddr(id raft.ServerID) string {
	if id == raft.ServerID(s.cfg.NodeID) && s.cfg.APIAddr != "" {
		return s.cfg.APIAddr
	}
	if a := s.fsm.memberAddr(string(id)); a != "" {
		return a
	}
	return s.apiAddrs[id]
}

// RegisterAdmin registers the LogAdmin gRPC server (membership changes) on
// g. Expose it only where operators, not clients, can reach it.
func (s *Service) RegisterAdmin(g *grpc.Server) {
	wirepb.RegisterLogAdminServer(g, &adminServer{g: &server{s: s}})
}

// raftErr maps a Raft future error: a lost or missing leadership means the
// change was not made (ErrNotLeader, FAILED_PRECONDITION).
func raftErr(what string, err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %s: %w", ErrNotLeader, what, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %s: %w", ErrClosed, what, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}

// leaderOnly answers ErrNotLeader unless Raft says this node leads.
func (s *Service) leaderOnly() error {
	if s.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	return nil
}

// AddMember adds id at raftAddr as a voter, or as a learner (non-voter)
// when voter is false; an existing learner added as a voter is promoted.
// apiAddr, when set, is recorded through Raft so every replica can name the
// member to clients. Leader only.
func (s *Service) AddMember(ctx context.Context, id, raftAddr, apiAddr string, voter bool) error {
	if id == "" || raftAddr == "" {
		return fmt.Errorf("%w: id and raft address are required", errInvalid)
	}
	if err := raftnode.ValidateAdvertise(raftAddr); err != nil {
		return fmt.Errorf("%w: raft address: %w", errInvalid, err)
	}
	if err := s.leaderOnly(); err != nil {
		return err
	}
	if apiAddr != "" {
		if err := waitFuture(ctx, s.raft.Apply(encodeMemberAddr(id, apiAddr), s.cfg.CommitWait)); err != nil {
			return raftErr("record member address", err)
		}
	}
	var f raft.IndexFuture
	if voter {
		f = s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, s.cfg.CommitWait)
	} else {
		f = s.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, s.cfg.CommitWait)
	}
	if err := waitFuture(ctx, f); err != nil {
		return raftErr("add "+id, err)
	}
	s.log.Info("member added", "id", id, "raft_addr", raftAddr, "api_addr", apiAddr, "voter", voter)
	return nil
}

// PromoteLearner makes learner id a voter at its configured address.
func (s *Service) PromoteLearner(ctx context.Context, id string) error {
	srv, ok, err := s.member(id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %q is not a member", errInvalid, id)
	}
	if srv.Suffrage == raft.Voter {
		return nil
	}
	return s.AddMember(ctx, id, string(srv.Address), "", true)
}

// RemoveMember removes member id. Removing the leader itself makes it step
// down once the change commits.
func (s *Service) RemoveMember(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("%w: id is required", errInvalid)
	}
	if err := s.leaderOnly(); err != nil {
		return err
	}
	if err := waitFuture(ctx, s.raft.RemoveServer(raft.ServerID(id), 0, s.cfg.CommitWait)); err != nil {
		return raftErr("remove "+id, err)
	}
	s.log.Info("member removed", "id", id)
	return nil
}

// TransferLeadership hands leadership to voter id ("" = Raft's choice) and
// returns once this node is no longer leader.
func (s *Service) TransferLeadership(ctx context.Context, id string) error {
	if err := s.leaderOnly(); err != nil {
		return err
	}
	var f raft.Future
	if id == "" {
		f = s.raft.LeadershipTransfer()
	} else {
		srv, ok, err := s.member(id)
		if err != nil {
			return err
		}
		if !ok || srv.Suffrage != raft.Voter {
			return fmt.Errorf("%w: %q is not a voter", errInvalid, id)
		}
		f = s.raft.LeadershipTransferToServer(srv.ID, srv.Address)
	}
	if err := waitFuture(ctx, f); err != nil {
		return raftErr("transfer leadership", err)
	}
	s.log.Info("leadership transferred", "to", id)
	return nil
}

// member looks id up in the latest configuration.
func (s *Service) member(id string) (raft.Server, bool, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raft.Server{}, false, raftErr("read configuration", err)
	}
	for _, srv := range f.Configuration().Servers {
		if srv.ID == raft.ServerID(id) {
			return srv, true, nil
		}
	}
	return raft.Server{}, false, nil
}

// Members returns the latest configuration this node knows (on the leader,
// possibly not yet committed) and its index.
func (s *Service) Members() (*wirepb.ConfigurationResponse, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, raftErr("read configuration", err)
	}
	_, leader := s.raft.LeaderWithID()
	out := &wirepb.ConfigurationResponse{Index: f.Index()}
	for _, srv := range f.Configuration().Servers {
		out.Servers = append(out.Servers, &wirepb.ServerInfo{
			Id:       string(srv.ID),
			RaftAddr: string(srv.Address),
			ApiAddr:  s.apiAddr(srv.ID),
			Suffrage: srv.Suffrage.String(),
			Leader:   srv.ID == leader,
		})
	}
	return out, nil
}

// adminServer implements wirepb.LogAdminServer on a Service; errors map to
// gRPC codes like LogService's (not leader: FAILED_PRECONDITION + leader).
type adminServer struct {
	wirepb.UnimplementedLogAdminServer
	g *server
}

func (a *adminServer) answer(ctx context.Context, err error) (*wirepb.ConfigurationResponse, error) {
	if err != nil {
		return nil, a.g.status(ctx, err)
	}
	resp, err := a.g.s.Members()
	if err != nil {
		return nil, a.g.status(ctx, err)
	}
	return resp, nil
}

// AddVoter implements wirepb.LogAdminServer.
func (a *adminServer) AddVoter(ctx context.Context, req *wirepb.AddServerRequest) (*wirepb.ConfigurationResponse, error) {
	return a.answer(ctx, a.g.s.AddMember(ctx, req.GetId(), req.GetRaftAddr(), req.GetApiAddr(), true))
}

// AddLearner implements wirepb.LogAdminServer.
func (a *adminServer) AddLearner(ctx context.Context, req *wirepb.AddServerRequest) (*wirepb.ConfigurationResponse, error) {
	return a.answer(ctx, a.g.s.AddMember(ctx, req.GetId(), req.GetRaftAddr(), req.GetApiAddr(), false))
}

// RemoveServer implements wirepb.LogAdminServer.
func (a *adminServer) RemoveServer(ctx context.Context, req *wirepb.ServerIDRequest) (*wirepb.ConfigurationResponse, error) {
	return a.answer(ctx, a.g.s.RemoveMember(ctx, req.GetId()))
}

// PromoteLearner implements wirepb.LogAdminServer.
func (a *adminServer) PromoteLearner(ctx context.Context, req *wirepb.ServerIDRequest) (*wirepb.ConfigurationResponse, error) {
	return a.answer(ctx, a.g.s.PromoteLearner(ctx, req.GetId()))
}

// TransferLeadership implements wirepb.LogAdminServer. It answers the
// configuration once a new leader is known (bounded by ctx and CommitWait).
func (a *adminServer) TransferLeadership(ctx context.Context, req *wirepb.ServerIDRequest) (*wirepb.ConfigurationResponse, error) {
	s := a.g.s
	if err := s.TransferLeadership(ctx, req.GetId()); err != nil {
		return a.answer(ctx, err)
	}
	deadline := time.Now().Add(s.cfg.CommitWait)
	for {
		if _, id := s.raft.LeaderWithID(); id != "" && id != raft.ServerID(s.cfg.NodeID) {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return a.answer(ctx, nil)
}

// Configuration implements wirepb.LogAdminServer. Leader only, so the
// answer is the newest configuration.
func (a *adminServer) Configuration(ctx context.Context, _ *wirepb.ConfigurationRequest) (*wirepb.ConfigurationResponse, error) {
	return a.answer(ctx, a.g.s.leaderOnly())
}
