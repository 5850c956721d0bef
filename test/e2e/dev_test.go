// Package e2e holds end-to-end tests: they build the phantom binary, run it
// as real processes on loopback and talk to it as a user would.
package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/test/cluster"
)

// startDev runs `phantom dev --auth=none` on dataDir with its ports from
// base and waits until the SQL API answers and dev has written dev.json
// (it prints its banner after that, once the proxy runs too). (These tests
// predate API keys; security_test.go runs dev with authentication.)
func startDev(t *testing.T, dataDir string, base int) (*cluster.Process, string) {
	t.Helper()
	p := cluster.Start(t, "dev", "dev", "--data-dir", dataDir, "--port-base", strconv.Itoa(base),
		"--checkpoint-interval", "2s", "--auth", "none", "--log-level", "warn")
	url := fmt.Sprintf("http://127.0.0.1:%d", base)
	cluster.WaitHTTP(t, url+"/healthz", 60*time.Second, p)
	if !p.WaitLogCount(t, "Phantom-DB dev is ready", 1, 60*time.Second) {
		t.Fatal("dev did not print its banner (dev.json) within 60s")
	}
	return p, url
}

func insertRows(t *testing.T, url string, from, to int) {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("INSERT INTO items (id, name, qty, price, active) VALUES ")
	for i := from; i < to; i++ {
		if i > from {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "(%d, 'item-%d', %d, %d.5, %t)", i, i, int64(i)*1_000_000_000, i, i%2 == 0)
	}
	r := cluster.MustSQL(t, url, sb.String())
	if r.RowCount != int64(to-from) || r.Command != fmt.Sprintf("INSERT 0 %d", to-from) {
		t.Fatalf("insert %d..%d: command %q row_count %d", from, to, r.Command, r.RowCount)
	}
}

// checkRows asserts the table holds exactly ids [0, n) with their values.
func checkRows(t *testing.T, url string, n int) {
	t.Helper()
	r := cluster.MustSQL(t, url, "SELECT count(*) FROM items")
	if got := fmt.Sprint(r.Rows[0][0]); got != strconv.Itoa(n) {
		t.Fatalf("count(*) = %s, want %d", got, n)
	}
	r = cluster.MustSQL(t, url, "SELECT id, name, qty, price, active FROM items ORDER BY id")
	if len(r.Rows) != n {
		t.Fatalf("got %d rows, want %d", len(r.Rows), n)
	}
	for i, row := range r.Rows {
		want := []string{strconv.Itoa(i), "item-" + strconv.Itoa(i), strconv.FormatInt(int64(i)*1_000_000_000, 10),
			strconv.Itoa(i) + ".5", strconv.FormatBool(i%2 == 0)}
		for c, v := range row {
			got := fmt.Sprint(v)
			if num, ok := v.(json.Number); ok {
				got = num.String()
			}
			if got != want[c] {
				t.Fatalf("row %d col %d = %q, want %q (row %v)", i, c, got, want[c], row)
			}
		}
	}
}

const createItems = `CREATE TABLE items (id INT PRIMARY KEY, name TEXT NOT NULL, qty BIGINT, price DOUBLE PRECISION, active BOOLEAN)`

// TestDevSurvivesKill writes 1,000 rows through `phantom dev`, kills it with
// SIGKILL right after the last acknowledgement, restarts it on the same data
// directory and finds every row and nothing else.
func TestDevSurvivesKill(t *testing.T) {
	dataDir := t.TempDir()
	base := cluster.FreePortBase(t, 11)
	p, url := startDev(t, dataDir, base)

	cluster.MustSQL(t, url, createItems)
	for i := 0; i < 1000; i += 100 {
		insertRows(t, url, i, i+100)
	}
	p.Kill()

	p.Restart()
	cluster.WaitHTTP(t, url+"/healthz", 60*time.Second, p)
	checkRows(t, url, 1000)

	// And once more after a clean shutdown, which checkpoints.
	p.Stop(30 * time.Second)
	p.Restart()
	cluster.WaitHTTP(t, url+"/healthz", 60*time.Second, p)
	checkRows(t, url, 1000)
	p.Stop(30 * time.Second)
}
