package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phantom-db/phantom/test/cluster"
)

// TestPageServerFailover SIGKILLs the only page server under a read load.
// The control plane declares it dead after --heartbeat-timeout (2 s) and
// starts a replacement that restores the shard lazily from the object
// store; the computes learn its address from its heartbeat and re-dial.
// The test prints the time from the kill to the first successful read and
// checks that no read ever answers wrong data, and that the replacement
// follows the log (new writes are read back).
func TestPageServerFailover(t *testing.T) {
	e := startElasticWith(t, elasticOpts{cpArgs: []string{"--heartbeat-timeout", "2s"}, pageReplace: true,
		pageArgs: []string{"--checkpoint-interval", "1s"}})
	e.createEndpoint(t, `{"name":"main","min_computes":1,"max_computes":1}`)
	e.waitComputes(t, "main", "one compute", 60*time.Second, func(r, a int) bool { return r == 1 })
	cluster.MustSQL(t, e.proxyURL, createItems)
	const rows = 500
	for i := 0; i < rows; i += 250 {
		insertRows(t, e.proxyURL, i, i+250)
	}
	var wantSum int64
	for i := int64(0); i < rows; i++ {
		wantSum += i * 1_000_000_000
	}
	want := fmt.Sprintf("%d %d", rows, wantSum)
	// A checkpoint holding every row is in the object store.
	waitCluster(t, e, "a checkpoint of every row", func(c clusterView) bool {
		return len(c.Shards) == 1 && c.Shards[0].AppliedIndex > 0 && c.Shards[0].CheckpointIndex() >= c.Shards[0].AppliedIndex
	})

	type read struct {
		start, end time.Time
		err        string
	}
	var mu sync.Mutex
	var reads []read
	var wrong []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				r, err := cluster.SQL(ctx, e.proxyURL, "SELECT count(*), sum(qty) FROM items")
				cancel()
				rd := read{start: start, end: time.Now()}
				switch {
				case err != nil:
					rd.err = err.Error()
				case r.Status != http.StatusOK:
					rd.err = fmt.Sprintf("%d %+v", r.Status, r.Error)
				default:
					if got := fmt.Sprint(r.Rows[0][0], " ", r.Rows[0][1]); got != want {
						mu.Lock()
						wrong = append(wrong, got)
						mu.Unlock()
					}
				}
				mu.Lock()
				reads = append(reads, rd)
				mu.Unlock()
				if rd.err != "" {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	killedAt := time.Now()
	e.page.Kill()
	t.Logf("SIGKILL page server page-1")
	// Reads resume: a read started after the kill succeeds.
	var resumed time.Time
	deadline := time.Now().Add(45 * time.Second)
	for resumed.IsZero() {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("no successful read within 45 s of the kill\ncontrol plane:\n%s", e.cp.Log())
		}
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		for _, r := range reads {
			if r.err == "" && r.start.After(killedAt) && (resumed.IsZero() || r.end.Before(resumed)) {
				resumed = r.end
			}
		}
		mu.Unlock()
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	failed, firstErr := 0, ""
	for _, r := range reads {
		if r.err != "" {
			failed++
			if firstErr == "" {
				firstErr = r.err
			}
		}
	}
	t.Logf("page server failover: reads resumed %v after the SIGKILL (%d reads, %d failed during the outage; first error: %s)",
		resumed.Sub(killedAt).Round(time.Millisecond), len(reads), failed, firstErr)
	if len(wrong) > 0 {
		t.Fatalf("%d reads answered wrong data, e.g. %q (want %q)", len(wrong), wrong[0], want)
	}
	c := e.cluster(t)
	if c.nodeHealth("page-1") != "dead" || len(c.Shards) != 1 || len(c.Shards[0].PageServers) != 1 ||
		!strings.HasPrefix(c.Shards[0].PageServers[0], "page-s0-") {
		t.Fatalf("after the failover the cluster is %+v", c)
	}
	// The replacement follows the log.
	insertRows(t, e.proxyURL, rows, rows+100)
	checkRows(t, e.proxyURL, rows+100)
}
