package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
)

// logadminFlags are the flags of `phantom logservice admin <op>`.
type logadminFlags struct {
	addr     string
	id       string
	raftAddr string
	apiAddr  string
	timeout  time.Duration
}

// logadminOp is one admin operation: which flags it needs and the call.
type logadminOp struct {
	name, usage, help string
	needID, needRaft  bool
	run               func(ctx context.Context, a *logclient.Admin, f logadminFlags) (*wirepb.ConfigurationResponse, error)
}

var logadminOps = []logadminOp{
	{name: "add-voter", usage: "--id ID --raft-addr HOST:PORT [--api-addr HOST:PORT]", help: "add a voting member (a node started with --bootstrap=false)", needID: true, needRaft: true,
		run: func(ctx context.Context, a *logclient.Admin, f logadminFlags) (*wirepb.ConfigurationResponse, error) {
			return a.AddVoter(ctx, f.id, f.raftAddr, f.apiAddr)
		}},
	{name: "add-learner", usage: "--id ID --raft-addr HOST:PORT [--api-addr HOST:PORT]", help: "add a non-voting member that receives the log", needID: true, needRaft: true,
		run: func(ctx context.Context, a *logclient.Admin, f logadminFlags) (*wirepb.ConfigurationResponse, error) {
			return a.AddLearner(ctx, f.id, f.raftAddr, f.apiAddr)
		}},
	{name: "promote", usage: "--id ID", help: "make a learner a voter", needID: true,
		run: func(ctx context.Context, a *logclient.Admin, f logadminFlags) (*wirepb.ConfigurationResponse, error) {
			return a.PromoteLearner(ctx, f.id)
		}},
	{name: "remove", usage: "--id ID", help: "remove a member", needID: true,
		run: func(ctx context.Context, a *logclient.Admin, f logadminFlags) (*wirepb.ConfigurationResponse, error) {
			return a.RemoveServer(ctx, f.id)
		}},
	{name: "transfer", usage: "[--id ID]", help: "transfer leadership (to --id, else to the most up-to-date voter)",
		run: func(ctx context.Context, a *logclient.Admin, f logadminFlags) (*wirepb.ConfigurationResponse, error) {
			return a.TransferLeadership(ctx, f.id)
		}},
	{name: "members", usage: "", help: "list the members",
		run: func(ctx context.Context, a *logclient.Admin, _ logadminFlags) (*wirepb.ConfigurationResponse, error) {
			return a.Configuration(ctx)
		}},
}

// logadminCommand is `phantom logservice admin`: membership changes through
// the LogAdmin gRPC service of a running group.
func logadminCommand(out io.Writer) *ffcli.Command {
	var subs []*ffcli.Command
	for _, op := range logadminOps {
		subs = append(subs, logadminOpCommand(op, out))
	}
	return &ffcli.Command{
		Name:        "admin",
		ShortUsage:  "phantom logservice admin <add-voter|add-learner|promote|remove|transfer|members> --addr HOST:PORT[,...] [flags]",
		ShortHelp:   "change or list the members of a log group",
		Subcommands: subs,
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}
}

func logadminOpCommand(op logadminOp, out io.Writer) *ffcli.Command {
	var f logadminFlags
	fs := flag.NewFlagSet("phantom logservice admin "+op.name, flag.ContinueOnError)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8434", "gRPC address(es) of the group's log replicas, comma-separated; the leader is found from any")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the change")
	if op.needID || op.name == "transfer" {
		fs.StringVar(&f.id, "id", "", "member id (its --node-id)")
	}
	if op.needRaft {
		fs.StringVar(&f.raftAddr, "raft-addr", "", "the member's advertised Raft address")
		fs.StringVar(&f.apiAddr, "api-addr", "", "the member's gRPC address (named to clients as leader address)")
	}
	return &ffcli.Command{
		Name:       op.name,
		ShortUsage: "phantom logservice admin " + op.name + " --addr HOST:PORT " + op.usage,
		ShortHelp:  op.help,
		FlagSet:    fs,
		Options:    envOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			if op.needID && f.id == "" {
				return errors.New("--id is required")
			}
			if op.needRaft && f.raftAddr == "" {
				return errors.New("--raft-addr is required")
			}
			ctx, cancel := context.WithTimeout(ctx, f.timeout)
			defer cancel()
			c, err := logclient.Dial(ctx, f.addr)
			if err != nil {
				return err
			}
			defer func() { _ = c.Close() }()
			resp, err := op.run(ctx, c.Admin(), f)
			if err != nil {
				return err
			}
			return printMembers(out, resp)
		},
	}
}

// printMembers writes the configuration as a table.
func printMembers(out io.Writer, resp *wirepb.ConfigurationResponse) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\tSUFFRAGE\tLEADER\tRAFT\tGRPC\n")
	for _, s := range resp.GetServers() {
		leader := ""
		if s.GetLeader() {
			leader = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.GetId(), s.GetSuffrage(), leader, s.GetRaftAddr(), s.GetApiAddr())
	}
	fmt.Fprintf(tw, "(configuration index %d)\n", resp.GetIndex())
	return tw.Flush()
}
