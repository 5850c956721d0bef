package main

import (
	"context"
	"testing"
)

func TestEnvironmentSetsFlags(t *testing.T) {
	t.Setenv("PHANTOM_DATA_DIR", "/from/env")
	t.Setenv("PHANTOM_CHECKPOINT_INTERVAL", "5s")
	cmd := pageserverCommand()
	cmd.Exec = func(context.Context, []string) error { return nil }
	if err := cmd.Parse([]string{"--grpc-addr", "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	fs := cmd.FlagSet
	if v := fs.Lookup("data-dir").Value.String(); v != "/from/env" {
		t.Errorf("data-dir = %q, want the environment's", v)
	}
	if v := fs.Lookup("checkpoint-interval").Value.String(); v != "5s" {
		t.Errorf("checkpoint-interval = %q", v)
	}
	if v := fs.Lookup("grpc-addr").Value.String(); v != "127.0.0.1:1" {
		t.Errorf("grpc-addr = %q", v)
	}
}

func TestParsePeers(t *testing.T) {
	peers, err := parsePeers("a=127.0.0.1:1, b=127.0.0.1:2=127.0.0.1:3,")
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 2 || peers[0].ID != "a" || peers[0].RaftAddr != "127.0.0.1:1" || peers[1].APIAddr != "127.0.0.1:3" {
		t.Fatalf("peers = %+v", peers)
	}
	for _, bad := range []string{"a", "=x", "a=", "a=b=c=d"} {
		if _, err := parsePeers(bad); err == nil {
			t.Errorf("parsePeers(%q) accepted", bad)
		}
	}
}

func TestDevPorts(t *testing.T) {
	f := devFlags{host: "127.0.0.1", portBase: 9000}
	if got := f.addr(offNATS); got != "127.0.0.1:9007" {
		t.Errorf("nats addr %s", got)
	}
	f.portBase = 0
	if got := f.addr(offSQL); got != "127.0.0.1:0" {
		t.Errorf("free-port addr %s", got)
	}
}
