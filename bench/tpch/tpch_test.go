package tpch

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/test/cluster"
)

// sf001Rows are the row counts of the official dbgen at SF 0.01.
var sf001Rows = map[string]int64{
	"region": 5, "nation": 25, "supplier": 100, "customer": 1500,
	"part": 2000, "partsupp": 8000, "orders": 15000, "lineitem": 60175,
}

// TestTPCH runs the whole benchmark at SF 0.01: dbgen data, all 22 queries
// on DuckDB, PostgreSQL 15 and a real `phantom dev` process. PostgreSQL
// must agree with DuckDB on every query (the harness and its answer check
// are right), and so must Phantom-DB: every query it answers wrongly or not
// at all fails the test.
func TestTPCH(t *testing.T) {
	// Every query takes well under a second at SF 0.01 on DuckDB and
	// PostgreSQL; the per-query bound keeps a slow Phantom-DB plan from
	// running the test past make's 10-minute package timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{
		SF:           0.01,
		PhantomBin:   cluster.Binary(t),
		QueryTimeout: 15 * time.Second,
		Progress:     testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range sf001Rows {
		if got := rep.Rows[name]; got != want {
			t.Errorf("%s: %d rows generated, dbgen makes %d at SF 0.01", name, got, want)
		}
	}
	if len(rep.Queries) != NumQueries {
		t.Fatalf("%d queries ran, want %d", len(rep.Queries), NumQueries)
	}
	var sb strings.Builder
	if err := rep.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", sb.String())

	for _, q := range rep.Queries {
		if m := q.Systems[DuckDB]; m.Err != "" {
			t.Errorf("Q%d: DuckDB failed: %s", q.Query, m.Err)
		}
		if m := q.Systems[Postgres]; !m.OK() {
			t.Errorf("Q%d: PostgreSQL disagrees with DuckDB: %s", q.Query, m.Status())
		}
		if m := q.Systems[Phantom]; !m.OK() {
			t.Errorf("Q%d: Phantom-DB: %s", q.Query, m.Status())
		}
	}
	if l := rep.Loads[Phantom]; l != nil && l.Err != nil {
		t.Errorf("Phantom-DB load: %v", l.Err)
	}
}

// testWriter sends progress lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
