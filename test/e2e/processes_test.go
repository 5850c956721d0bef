package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/test/cluster"
)

// TestSeparateProcessesRestore runs log service, page server, control plane
// and compute as separate processes, writes rows, deletes the page server's
// local directory and checks that a restarted page server serves every row
// again, restored from the object store plus the log.
func TestSeparateProcessesRestore(t *testing.T) {
	root := t.TempDir()
	objects := filepath.Join(root, "objects")
	pageDir := filepath.Join(root, "pageserver")
	logGRPC, pageGRPC := cluster.FreeAddr(t), cluster.FreeAddr(t)
	cpHTTP, sqlHTTP := cluster.FreeAddr(t), cluster.FreeAddr(t)

	logsvc := cluster.Start(t, "logservice", "logservice", "--data-dir", filepath.Join(root, "log"),
		"--grpc-addr", logGRPC, "--raft-addr", cluster.FreeAddr(t), "--http-addr", cluster.FreeAddr(t), "--log-level", "warn")
	cp := cluster.Start(t, "control-plane", "control-plane", "--data-dir", filepath.Join(root, "cp"),
		"--http-addr", cpHTTP, "--admin-token", cluster.TestAdminToken, "--log-level", "warn")
	pageHTTP := cluster.FreeAddr(t)
	pageArgs := []string{"pageserver", "--data-dir", pageDir, "--grpc-addr", pageGRPC, "--http-addr", pageHTTP,
		"--logservice", logGRPC, "--object-store", objects, "--checkpoint-interval", "0", "--log-level", "info"}
	page := cluster.Start(t, "pageserver", pageArgs...)
	compute := cluster.Start(t, "compute", "compute", "--http-addr", sqlHTTP, "--logservice", logGRPC,
		"--pageserver", pageGRPC, "--control-plane", "http://"+cpHTTP,
		"--control-plane-token", cluster.TestAdminToken, "--auth", "none", "--log-level", "warn")
	url := "http://" + sqlHTTP
	cluster.WaitHTTP(t, url+"/healthz", 60*time.Second, logsvc, cp, page, compute)
	cluster.WaitHTTP(t, "http://"+pageHTTP+"/healthz", 10*time.Second, page)

	cluster.MustSQL(t, url, createItems)
	for i := 0; i < 300; i += 100 {
		insertRows(t, url, i, i+100)
	}
	// A clean stop checkpoints to the object store.
	page.Stop(30 * time.Second)
	manifests, _ := filepath.Glob(filepath.Join(objects, "shards", "0", "manifests", "*.json"))
	if len(manifests) == 0 {
		t.Fatalf("no checkpoint manifest in the object store after a clean stop")
	}
	page.Restart()
	cluster.WaitHTTP(t, "http://"+pageHTTP+"/healthz", 30*time.Second, page)
	// Rows written after the checkpoint live only in the log.
	for i := 300; i < 500; i += 100 {
		insertRows(t, url, i, i+100)
	}
	checkRows(t, url, 500)

	// Lose the page server's disk entirely.
	page.Kill()
	if err := os.RemoveAll(pageDir); err != nil {
		t.Fatal(err)
	}
	page.Restart()
	cluster.WaitHTTP(t, "http://"+pageHTTP+"/healthz", 60*time.Second, page)
	checkRows(t, url, 500)
	if n := strings.Count(page.Log(), "restored checkpoint"); n != 1 {
		t.Fatalf("page server restored %d times, want once (after losing its disk):\n%s", n, page.Log())
	}

	for _, p := range []*cluster.Process{compute, page, cp, logsvc} {
		p.Stop(30 * time.Second)
	}
}
