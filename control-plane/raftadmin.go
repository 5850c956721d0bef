package controlplane

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/raft"
)

// Membership of the control plane's Raft group, changed on the leader
// (followers forward these calls like every other):
//
//	GET    /v1/raft                 this replica's view and the group configuration
//	POST   /v1/raft/voters          {"id", "raft_addr"}: add a voter (a replica started with --bootstrap=false)
//	DELETE /v1/raft/voters/{id}     remove a voter
//
// A change is committed through Raft before it is answered.

// RaftServer is one member of the group configuration.
type RaftServer struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	Suffrage string `json:"suffrage"`
}

// RaftConfiguration returns the group's current configuration.
func (s *Service) RaftConfiguration() ([]RaftServer, error) {
	f := s.node.Raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("%w: raft configuration: %w", ErrUnavailable, err)
	}
	out := []RaftServer{}
	for _, srv := range f.Configuration().Servers {
		out = append(out, RaftServer{ID: string(srv.ID), RaftAddr: string(srv.Address), Suffrage: srv.Suffrage.String()})
	}
	return out, nil
}

// AddVoter adds replica id at raftAddr to the group as a voter.
func (s *Service) AddVoter(id, raftAddr string) error {
	if id == "" || raftAddr == "" {
		return fmt.Errorf("%w: id and raft_addr are required", ErrInvalid)
	}
	if s.cfg.Raft.RaftAddr == "" {
		return fmt.Errorf("%w: this replica runs without a Raft transport (--raft-addr): it cannot have peers", ErrInvalid)
	}
	if err := s.node.Raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, s.cfg.Raft.ApplyTimeout).Error(); err != nil {
		return membershipErr("add voter "+id, err)
	}
	s.cfg.Logger.Info("raft voter added", "id", id, "raft_addr", raftAddr)
	return nil
}

// RemoveVoter removes replica id from the group.
func (s *Service) RemoveVoter(id string) error {
	conf, err := s.RaftConfiguration()
	if err != nil {
		return err
	}
	found := false
	for _, srv := range conf {
		found = found || srv.ID == id
	}
	if !found {
		return fmt.Errorf("%w: raft server %q", ErrNotFound, id)
	}
	if err := s.node.Raft.RemoveServer(raft.ServerID(id), 0, s.cfg.Raft.ApplyTimeout).Error(); err != nil {
		return membershipErr("remove voter "+id, err)
	}
	s.cfg.Logger.Info("raft voter removed", "id", id)
	return nil
}

func membershipErr(what string, err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout) {
		return fmt.Errorf("%w: %s: %w", ErrNotLeader, what, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}

func (s *Service) registerRaftRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/raft", func(w http.ResponseWriter, r *http.Request) {
		conf, err := s.RaftConfiguration()
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"replica": s.RaftStatus(), "servers": conf})
	})
	mux.HandleFunc("POST /v1/raft/voters", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID       string `json:"id"`
			RaftAddr string `json:"raft_addr"`
		}
		if !s.decode(w, r, &req) {
			return
		}
		if err := s.AddVoter(req.ID, req.RaftAddr); err != nil {
			writeError(w, err)
			return
		}
		conf, _ := s.RaftConfiguration()
		writeJSON(w, http.StatusOK, map[string]any{"servers": conf})
	})
	mux.HandleFunc("DELETE /v1/raft/voters/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.RemoveVoter(r.PathValue("id")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
