package logclient

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// Admin calls the LogAdmin service (membership changes) of the group the
// client talks to. Changes go to the leader, following not-leader answers
// like Commit does; a change whose outcome is unknown (UNAVAILABLE) is not
// retried. Every call answers the configuration after the change.
type Admin struct{ c *Client }

// Admin returns the membership admin of c's group.
func (c *Client) Admin() *Admin { return &Admin{c: c} }

func (a *Admin) call(ctx context.Context, what string, fn func(wirepb.LogAdminClient, grpc.CallOption) (*wirepb.ConfigurationResponse, error)) (*wirepb.ConfigurationResponse, error) {
	var resp *wirepb.ConfigurationResponse
	err := a.c.onLeaderConn(ctx, false, func(cc *grpc.ClientConn, opt grpc.CallOption) error {
		var err error
		resp, err = fn(wirepb.NewLogAdminClient(cc), opt)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("logclient: %s: %w", what, err)
	}
	return resp, nil
}

// AddVoter adds a voting member id at raftAddr (its advertised Raft
// address); apiAddr is its gRPC address (optional).
func (a *Admin) AddVoter(ctx context.Context, id, raftAddr, apiAddr string) (*wirepb.ConfigurationResponse, error) {
	return a.call(ctx, "add voter "+id, func(cl wirepb.LogAdminClient, opt grpc.CallOption) (*wirepb.ConfigurationResponse, error) {
		return cl.AddVoter(ctx, &wirepb.AddServerRequest{Id: id, RaftAddr: raftAddr, ApiAddr: apiAddr}, opt)
	})
}

// AddLearner adds a non-voting member that receives the log.
func (a *Admin) AddLearner(ctx context.Context, id, raftAddr, apiAddr string) (*wirepb.ConfigurationResponse, error) {
	return a.call(ctx, "add learner "+id, func(cl wirepb.LogAdminClient, opt grpc.CallOption) (*wirepb.ConfigurationResponse, error) {
		return cl.AddLearner(ctx, &wirepb.AddServerRequest{Id: id, RaftAddr: raftAddr, ApiAddr: apiAddr}, opt)
	})
}

// PromoteLearner makes learner id a voter.
func (a *Admin) PromoteLearner(ctx context.Context, id string) (*wirepb.ConfigurationResponse, error) {
	return a.call(ctx, "promote "+id, func(cl wirepb.LogAdminClient, opt grpc.CallOption) (*wirepb.ConfigurationResponse, error) {
		return cl.PromoteLearner(ctx, &wirepb.ServerIDRequest{Id: id}, opt)
	})
}

// RemoveServer removes member id.
func (a *Admin) RemoveServer(ctx context.Context, id string) (*wirepb.ConfigurationResponse, error) {
	return a.call(ctx, "remove "+id, func(cl wirepb.LogAdminClient, opt grpc.CallOption) (*wirepb.ConfigurationResponse, error) {
		return cl.RemoveServer(ctx, &wirepb.ServerIDRequest{Id: id}, opt)
	})
}

// TransferLeadership moves leadership to voter id ("" lets Raft choose).
func (a *Admin) TransferLeadership(ctx context.Context, id string) (*wirepb.ConfigurationResponse, error) {
	return a.call(ctx, "transfer leadership", func(cl wirepb.LogAdminClient, opt grpc.CallOption) (*wirepb.ConfigurationResponse, error) {
		return cl.TransferLeadership(ctx, &wirepb.ServerIDRequest{Id: id}, opt)
	})
}

// Configuration returns the group's members as the leader knows them.
func (a *Admin) Configuration(ctx context.Context) (*wirepb.ConfigurationResponse, error) {
	return a.call(ctx, "configuration", func(cl wirepb.LogAdminClient, opt grpc.CallOption) (*wirepb.ConfigurationResponse, error) {
		return cl.Configuration(ctx, &wirepb.ConfigurationRequest{}, opt)
	})
}
