package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phantom-db/phantom/test/cluster"
)

const (
	sqlBankAccounts = 100
	sqlBankInitial  = 1000
	sqlBankTotal    = sqlBankAccounts * sqlBankInitial
)

// TestSQLBankInvariant runs SQL transfers between 100 accounts through a real
// compute process (HTTP batches: two UPDATEs in one transaction) on a
// 3-replica log service and a page server, under the same nemesis as the
// KV-level bank, while auditors read every balance in one statement. The
// total must hold on every audit and at the end.
func TestSQLBankInvariant(t *testing.T) {
	for _, seed := range runSeeds(t, 2) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runSQLBank(t, seed) })
	}
}

type sqlBank struct {
	url string

	mu         sync.Mutex
	stats      map[string]int
	violations []string
	errs       []string
}

func (b *sqlBank) note(what string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats[what]++
	if err != nil && len(b.errs) < 5 {
		b.errs = append(b.errs, what+": "+err.Error())
	}
}

func runSQLBank(t *testing.T, seed uint64) {
	c := cluster.StartLogCluster(t, cluster.LogClusterConfig{Proxies: true, PageServer: true})
	root := t.TempDir()
	cpAddr, sqlAddr := cluster.FreeAddr(t), cluster.FreeAddr(t)
	cp := cluster.Start(t, "control-plane", "control-plane", "--data-dir", filepath.Join(root, "cp"),
		"--http-addr", cpAddr, "--admin-token", cluster.TestAdminToken, "--log-level", "warn")
	compute := cluster.Start(t, "compute", "compute", "--http-addr", sqlAddr, "--pg-addr", "",
		"--logservice", c.Addrs(), "--pageserver", c.PageAddr, "--control-plane", "http://"+cpAddr,
		"--control-plane-token", cluster.TestAdminToken, "--auth", "none",
		"--statement-timeout", "5s", "--log-level", "warn")
	b := &sqlBank{url: "http://" + sqlAddr, stats: map[string]int{}}
	cluster.WaitHTTP(t, b.url+"/healthz", 60*time.Second, cp, compute)

	cluster.MustSQL(t, b.url, "CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL)")
	var rows []string
	for i := range sqlBankAccounts {
		rows = append(rows, fmt.Sprintf("(%d, %d)", i, sqlBankInitial))
	}
	cluster.MustSQL(t, b.url, "INSERT INTO accounts VALUES "+strings.Join(rows, ", "))

	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range bankTransfers + bankAuditors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if w < bankTransfers {
					b.transfer(ctx, rng)
				} else {
					b.auditOnce(ctx)
				}
			}
		}()
	}
	nem := NewNemesis(c, NemesisConfig{Seed: seed, Faults: faults(t), Logf: t.Logf})
	nem.Run(ctx, faultTime(t))
	sleep(ctx, time.Second)
	close(stop)
	wg.Wait()
	t.Logf("seed %d: faults %v, outcomes %v", seed, nem.Injected, b.stats)
	for _, e := range b.errs {
		t.Logf("error sample: %s", e)
	}
	for _, v := range b.violations {
		t.Errorf("invariant broken: %s", v)
	}
	if b.stats["transfer ok"] == 0 || b.stats["audit ok"] == 0 {
		t.Fatalf("the workload made no progress: %v", b.stats)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		sum, n, err := b.balances(ctx)
		if err == nil {
			if n != sqlBankAccounts || sum != sqlBankTotal {
				t.Fatalf("final audit: %d accounts adding up to %d, want %d and %d", n, sum, sqlBankAccounts, sqlBankTotal)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("final audit: %v", err)
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// transfer moves 1..5 from one account to another in one transaction.
func (b *sqlBank) transfer(ctx context.Context, rng *rand.Rand) {
	from, to := rng.IntN(sqlBankAccounts), rng.IntN(sqlBankAccounts-1)
	if to >= from {
		to++
	}
	amount := 1 + rng.IntN(5)
	body := fmt.Sprintf(`{"statements": [
		{"query": "UPDATE accounts SET balance = balance - $1 WHERE id = $2", "params": [%d, %d]},
		{"query": "UPDATE accounts SET balance = balance + $1 WHERE id = $2", "params": [%d, %d]}]}`,
		amount, from, amount, to)
	ctx, cancel := context.WithTimeout(ctx, 2*opTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.url+"/v1/sql/batch", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.note("transfer unknown", err)
		return
	}
	defer resp.Body.Close()
	var out struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	switch {
	case resp.StatusCode == http.StatusOK:
		b.note("transfer ok", nil)
	case out.Error != nil && out.Error.Code == "40001":
		b.note("transfer conflict", nil)
	case out.Error != nil:
		b.note("transfer "+out.Error.Code, fmt.Errorf("%s", out.Error.Message))
	default:
		b.note("transfer failed", fmt.Errorf("status %d", resp.StatusCode))
	}
}

// auditOnce reads every balance in one statement (one snapshot) and checks
// the total.
func (b *sqlBank) auditOnce(ctx context.Context) {
	sum, n, err := b.balances(ctx)
	if err != nil {
		b.note("audit failed", err)
		return
	}
	if n != sqlBankAccounts || sum != sqlBankTotal {
		b.mu.Lock()
		b.violations = append(b.violations, fmt.Sprintf("audit saw %d accounts adding up to %d", n, sum))
		b.mu.Unlock()
		return
	}
	b.note("audit ok", nil)
}

func (b *sqlBank) balances(ctx context.Context) (sum int64, n int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*opTimeout)
	defer cancel()
	r, err := cluster.SQL(ctx, b.url, "SELECT id, balance FROM accounts")
	if err != nil {
		return 0, 0, err
	}
	if r.Error != nil {
		return 0, 0, fmt.Errorf("%s: %s", r.Error.Code, r.Error.Message)
	}
	for _, row := range r.Rows {
		v, err := strconv.ParseInt(fmt.Sprint(row[1]), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("balance %v: %w", row[1], err)
		}
		sum += v
	}
	return sum, len(r.Rows), nil
}
