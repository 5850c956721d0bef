package pgbench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/test/cluster"
)

// TestPgbench runs the benchmark small (scale 1, 2 clients, 3 s) against a
// real `phantom dev` and PostgreSQL 15: pgbench -i must load 100,000
// accounts, 10 tellers and 1 branch on both, and after the run every
// balance total must equal the sum of history's deltas, with one history
// row per transaction pgbench saw committed (no acknowledged commit lost,
// none applied twice).
func TestPgbench(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{
		PhantomBin: cluster.Binary(t),
		Scale:      1,
		Clients:    2,
		Threads:    1,
		Duration:   3 * time.Second,
		Progress:   testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	rep.Print(&sb)
	t.Logf("report:\n%s", sb.String())
	if len(rep.Systems) != 2 {
		t.Fatalf("%d systems ran, want phantom and postgres", len(rep.Systems))
	}
	for _, s := range rep.Systems {
		if s.Err != "" {
			t.Errorf("%s: %s", s.Name, s.Err)
			continue
		}
		if s.After.Accounts != 100000 || s.After.Tellers != 10 || s.After.Branches != 1 {
			t.Errorf("%s: %d accounts, %d tellers, %d branches; pgbench -i -s 1 makes 100000, 10, 1",
				s.Name, s.After.Accounts, s.After.Tellers, s.After.Branches)
		}
		if s.Stats.Processed == 0 {
			t.Errorf("%s: no transaction committed", s.Name)
		}
		if s.After.History != s.Stats.Processed {
			t.Errorf("%s: %d history rows, but pgbench counted %d committed transactions", s.Name, s.After.History, s.Stats.Processed)
		}
	}
}

func TestParseOutput(t *testing.T) {
	out := `transaction type: <builtin: TPC-B (sort of)>
scaling factor: 1
number of transactions actually processed: 204
number of failed transactions: 76 (27.143%)
number of transactions retried: 180 (64.286%)
total number of retries: 1112
latency average = 287.095 ms (including failures)
initial connection time = 24.343 ms
tps = 20.301923 (without initial connection time)
`
	s, err := parseOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Processed: 204, Failed: 76, Retried: 180, Retries: 1112, LatencyAvgMs: 287.095, TPS: 20.301923}
	if s != want {
		t.Fatalf("parsed %+v, want %+v", s, want)
	}
	if _, err := parseOutput("pgbench: error: connection refused"); err == nil {
		t.Fatal("output without a summary parsed")
	}
	if p := percentile([]float64{5, 1, 4, 2, 3}, 50); p != 3 {
		t.Fatalf("p50 = %v, want 3", p)
	}
	if p := percentile([]float64{5, 1, 4, 2, 3}, 99); p != 5 {
		t.Fatalf("p99 = %v, want 5", p)
	}
}

// testWriter sends progress lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
