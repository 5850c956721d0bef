package logbench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/test/cluster"
)

// TestRunSmoke runs the whole benchmark small: one client for one second
// against a real 3-replica group, one leader kill, and an etcd binary that
// does not exist. It checks the numbers are sane, not fast.
func TestRunSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := Run(ctx, Config{
		PhantomBin: cluster.Binary(t),
		EtcdBin:    "/nonexistent/etcd",
		Duration:   time.Second,
		Clients:    []int{1, 4},
		Payload:    64,
		Kills:      1,
		WorkDir:    t.TempDir(),
		Progress:   &progress,
	})
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}
	if len(res.Phantom.Levels) != 2 {
		t.Fatalf("levels = %d, want 2", len(res.Phantom.Levels))
	}
	for _, l := range res.Phantom.Levels {
		if l.Ops <= 0 || l.Errors != 0 {
			t.Errorf("%d clients: %d ops, %d errors; want >0 ops and no error", l.Clients, l.Ops, l.Errors)
		}
		if l.P50 <= 0 || l.P99 < l.P50 || l.PerSecond() <= 0 {
			t.Errorf("%d clients: p50 %s p99 %s, %.1f/s: not sane", l.Clients, l.P50, l.P99, l.PerSecond())
		}
		if l.Elapsed < time.Second {
			t.Errorf("%d clients: elapsed %s, below the 1s duration", l.Clients, l.Elapsed)
		}
	}
	f := res.Phantom.Failover
	if f == nil || len(f.Samples) != 1 || f.Samples[0] <= 0 {
		t.Fatalf("failover = %+v, want one positive sample", f)
	}
	if res.Etcd != nil || !strings.Contains(res.EtcdSkipped, "make bench-deps") {
		t.Errorf("etcd result %v, skipped %q: want skipped with install advice", res.Etcd, res.EtcdSkipped)
	}
	var out bytes.Buffer
	if err := res.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "make bench-deps") || !strings.Contains(out.String(), "failover") {
		t.Errorf("table lacks the etcd advice or failover:\n%s", out.String())
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ds[:1], 99, time.Millisecond},
		{ds, 50, 50 * time.Millisecond},
		{ds, 99, 99 * time.Millisecond},
		{ds, 100, 100 * time.Millisecond},
		{ds[:10], 99, 10 * time.Millisecond},
		{ds[:10], 50, 5 * time.Millisecond},
	} {
		if got := percentile(c.in, c.p); got != c.want {
			t.Errorf("percentile(%d values, %v) = %s, want %s", len(c.in), c.p, got, c.want)
		}
	}
}

func TestWriteTableRatios(t *testing.T) {
	cfg := Config{PhantomBin: "x"}
	cfg.EnsureDefaults()
	res := &Result{
		Config: cfg,
		Phantom: SystemResult{Name: "phantom",
			Levels:   []Level{{Clients: 16, Ops: 3000, Elapsed: time.Second, P50: 10 * time.Millisecond, P99: 40 * time.Millisecond}},
			Failover: &Failover{Samples: []time.Duration{time.Second}, P50: time.Second, P99: time.Second}},
		Etcd: &SystemResult{Name: "etcd",
			Levels:   []Level{{Clients: 16, Ops: 1000, Elapsed: time.Second, P50: 20 * time.Millisecond, P99: 40 * time.Millisecond}},
			Failover: &Failover{Samples: []time.Duration{2 * time.Second}, P50: 2 * time.Second, P99: 2 * time.Second}},
	}
	var out bytes.Buffer
	if err := res.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"3000", "1000", "3.00x", "0.50x", "1.00x", "10.00ms", "2.00s"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
}

func TestValidate(t *testing.T) {
	c := Config{Clients: []int{0}, Payload: -1, Kills: -1}
	c.EnsureDefaults()
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted an invalid config")
	}
	for _, want := range []string{"no phantom binary", "client count 0", "Payload -1", "Kills -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %q lacks %q", err, want)
		}
	}
}
