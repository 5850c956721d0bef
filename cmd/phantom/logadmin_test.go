package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/logservice"
)

func TestLogAdminCommand(t *testing.T) {
	g := logservice.StartTestGroup(t, 1)
	n2 := g.StartNode(t, "n2")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := logadminCommand(&out).ParseAndRun(ctx, args); err != nil {
			t.Fatalf("admin %v: %v", args, err)
		}
		return out.String()
	}
	out := run("add-learner", "--addr", g.Addrs[0], "--id", "n2", "--raft-addr", g.Services[n2].RaftAddr(), "--api-addr", g.Addrs[n2])
	if !strings.Contains(out, "n2  Nonvoter") {
		t.Fatalf("add-learner printed:\n%s", out)
	}
	out = run("promote", "--addr", g.Addrs[0], "--id", "n2")
	if !strings.Contains(out, "n2  Voter") {
		t.Fatalf("promote printed:\n%s", out)
	}
	// From the new member's address, the leader is found.
	out = run("members", "--addr", g.Addrs[n2])
	if !strings.Contains(out, "n1  Voter     *") || !strings.Contains(out, g.Addrs[n2]) {
		t.Fatalf("members printed:\n%s", out)
	}
	if err := logadminCommand(&bytes.Buffer{}).ParseAndRun(ctx, []string{"remove", "--addr", g.Addrs[0]}); err == nil {
		t.Fatal("remove without --id accepted")
	}
	// The admin command hangs under `phantom logservice`.
	cmd := logserviceCommand()
	if err := cmd.Parse([]string{"admin", "members", "--addr", g.Addrs[0]}); err != nil {
		t.Fatal(err)
	}
}
