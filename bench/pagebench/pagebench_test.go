package pagebench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/pageserver"
	"github.com/phantom-db/phantom/test/cluster"
)

// TestRunSmoke runs the whole benchmark small: 2,000 rows through a real log
// service and page server, both cold starts, and PostgreSQL when it is
// installed. It checks the numbers are sane, not fast.
func TestRunSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := Run(ctx, Config{
		PhantomBin:   cluster.Binary(t),
		Rows:         2000,
		CommitRows:   300,
		Loaders:      2,
		ReadDuration: 300 * time.Millisecond,
		Concurrency:  []int{1, 4},
		PostgresRows: 2000,
		WorkDir:      t.TempDir(),
		Progress:     &progress,
	})
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}
	if res.Load.Commits != 7 || res.Load.Elapsed <= 0 {
		t.Errorf("load %+v, want 7 commits", res.Load)
	}
	if len(res.Point) != 2 {
		t.Fatalf("point levels = %d, want 2", len(res.Point))
	}
	for _, l := range res.Point {
		if l.Ops <= 0 || l.Errors != 0 || l.P50 <= 0 || l.P99 < l.P50 {
			t.Errorf("%d clients: %d ops, %d errors (%s), p50 %s p99 %s: not sane", l.Clients, l.Ops, l.Errors, l.FirstErr, l.P50, l.P99)
		}
	}
	if res.Scan.Rows != 2000 || res.Scan.Bytes <= 0 || res.Scan.RowBytes <= 2000*int64(res.ValueSize) {
		t.Errorf("scan %+v, want 2000 rows", res.Scan)
	}
	if res.Checkpoint.Objects == 0 || res.Checkpoint.Bytes <= 0 {
		t.Errorf("checkpoint %+v: the object store is empty", res.Checkpoint)
	}
	if len(res.Cold) != 2 || res.Cold[0].Mode != pageserver.RestoreEager || res.Cold[1].Mode != pageserver.RestoreLazy {
		t.Fatalf("cold starts %+v, want eager then lazy", res.Cold)
	}
	for _, c := range res.Cold {
		if c.FirstRead <= 0 || c.AllLocal <= 0 {
			t.Errorf("cold start %+v: not measured", c)
		}
	}
	if res.Postgres != nil {
		for _, l := range res.Postgres.Point {
			if l.Ops <= 0 || l.Errors != 0 {
				t.Errorf("postgres %d clients: %d ops, %d errors (%s)", l.Clients, l.Ops, l.Errors, l.FirstErr)
			}
		}
	} else {
		t.Logf("postgres: %s", res.PostgresSkipped)
	}
	var out bytes.Buffer
	if err := res.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"p50 ratio", "Neon GetPage@LSN", "page server CPU", "lazy", "eager"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := Config{PhantomBin: "phantom", Rows: -1}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err == nil {
		t.Fatal("Validate accepted -1 rows")
	}
	cfg = Config{}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err == nil {
		t.Fatal("Validate accepted a config without PhantomBin")
	}
	cfg = Config{PhantomBin: "phantom"}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil || cfg.Rows != DefaultRows || cfg.PostgresRows != DefaultRows {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
}
