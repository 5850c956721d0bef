package e2e

import (
	"context"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phantom-db/phantom/test/cluster"
)

// TestComputeDrainsOnSIGTERM: a compute sent SIGTERM stops accepting
// connections but lets an open transaction finish and commit, then exits.
func TestComputeDrainsOnSIGTERM(t *testing.T) {
	root := t.TempDir()
	logGRPC, pageGRPC, cpHTTP, sqlHTTP, pgAddr := cluster.FreeAddr(t), cluster.FreeAddr(t), cluster.FreeAddr(t), cluster.FreeAddr(t), cluster.FreeAddr(t)
	logsvc := cluster.Start(t, "logservice", "logservice", "--data-dir", filepath.Join(root, "log"),
		"--grpc-addr", logGRPC, "--raft-addr", cluster.FreeAddr(t), "--http-addr", cluster.FreeAddr(t), "--log-level", "warn")
	cp := cluster.Start(t, "control-plane", "control-plane", "--data-dir", filepath.Join(root, "cp"), "--http-addr", cpHTTP, "--admin-token", cluster.TestAdminToken, "--log-level", "warn")
	page := cluster.Start(t, "pageserver", "pageserver", "--data-dir", filepath.Join(root, "page"), "--grpc-addr", pageGRPC,
		"--http-addr", cluster.FreeAddr(t), "--logservice", logGRPC, "--object-store", filepath.Join(root, "objects"), "--log-level", "warn")
	compute := cluster.Start(t, "compute", "compute", "--http-addr", sqlHTTP, "--pg-addr", pgAddr, "--logservice", logGRPC,
		"--pageserver", pageGRPC, "--control-plane", "http://"+cpHTTP, "--control-plane-token", cluster.TestAdminToken, "--auth", "none", "--drain-timeout", "30s", "--log-level", "info")
	url := "http://" + sqlHTTP
	cluster.WaitHTTP(t, url+"/healthz", 60*time.Second, logsvc, cp, page, compute)
	cluster.MustSQL(t, url, "CREATE TABLE t (id INT PRIMARY KEY)")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://phantom@"+pgAddr+"/phantom?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if err := compute.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Draining: no new connections, but the open transaction lives on.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", pgAddr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the draining compute still accepts PostgreSQL connections")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if compute.Exited() {
		t.Fatalf("the compute exited with a transaction open:\n%s", compute.Log())
	}
	if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatalf("statement in the open transaction while draining: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit while draining: %v", err)
	}
	// Idle now: the compute finishes its drain and exits.
	deadline = time.Now().Add(20 * time.Second)
	for !compute.Exited() {
		if time.Now().After(deadline) {
			t.Fatalf("the compute did not exit after its last transaction:\n%s", compute.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The commit is durable: a new compute sees both rows.
	compute.Restart()
	cluster.WaitHTTP(t, url+"/healthz", 60*time.Second, compute)
	r := cluster.MustSQL(t, url, "SELECT count(*) FROM t")
	if got := r.Rows[0][0]; got == nil || got.(interface{ String() string }).String() != "2" {
		t.Fatalf("rows after the drained commit: %v", r.Rows)
	}
	for _, p := range []*cluster.Process{compute, page, cp, logsvc} {
		p.Stop(30 * time.Second)
	}
}
