package pageserver

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// gathered answers the value (counter, gauge) or sample count (histogram)
// of every metric in reg with label node=node.
func gathered(t *testing.T, reg *prometheus.Registry, node string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			ok := false
			for _, l := range m.GetLabel() {
				ok = ok || (l.GetName() == "node" && l.GetValue() == node)
			}
			if !ok {
				continue
			}
			switch {
			case m.Counter != nil:
				out[f.GetName()] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[f.GetName()] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[f.GetName()] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	store := newMemStore()
	all := history(1, 20)
	now := time.Unix(0, 0).Add(3 * time.Second) // commit_ts 1000.. are ~0 ms
	cfg := testConfig(t.TempDir(), newFakeLog(all...), store)
	cfg.Registerer, cfg.NodeID = reg, "p1"
	cfg.Now = func() time.Time { return now }
	s := openServer(t, cfg)
	waitApplied(t, s, 20)
	if err := s.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := serveGRPC(t, s)
	if _, _, err := grpcScan(context.Background(), t, c, &wirepb.ScanRequest{ReadTs: all[19].GetCommitTs(), MinIndex: 20}); err != nil {
		t.Fatal(err)
	}
	// A second server in the same registry (another node) restores.
	cfg2 := testConfig(t.TempDir(), newFakeLog(all...), store)
	cfg2.Registerer, cfg2.NodeID = reg, "p2"
	openServer(t, cfg2)

	// Reopening a node in the same registry reuses its collectors.
	cfg3 := testConfig(t.TempDir(), newFakeLog(), newMemStore())
	cfg3.Registerer, cfg3.NodeID = reg, "p2"
	openServer(t, cfg3)

	m := gathered(t, reg, "p1")
	if m["phantom_pageserver_applied_index"] != 20 {
		t.Errorf("applied_index = %v, want 20", m["phantom_pageserver_applied_index"])
	}
	if got := m["phantom_pageserver_apply_lag_seconds"]; got < 2.9 || got > 3.1 {
		t.Errorf("apply_lag_seconds = %v, want ~3 (injected clock)", got)
	}
	for _, name := range []string{"phantom_pageserver_scan_duration_seconds", "phantom_pageserver_checkpoint_duration_seconds"} {
		if m[name] != 1 {
			t.Errorf("%s has %v samples, want 1", name, m[name])
		}
	}
	for _, name := range []string{"phantom_pageserver_block_cache_hits_total", "phantom_pageserver_block_cache_misses_total"} {
		if _, ok := m[name]; !ok {
			t.Errorf("%s is not reported", name)
		}
	}
	if m["phantom_pageserver_objstore_uploaded_bytes_total"] <= 0 {
		t.Errorf("no uploaded bytes counted")
	}
	if got := gathered(t, reg, "p2")["phantom_pageserver_objstore_downloaded_bytes_total"]; got < m["phantom_pageserver_objstore_uploaded_bytes_total"]/2 {
		t.Errorf("restore downloaded %v bytes; %v were uploaded", got, m["phantom_pageserver_objstore_uploaded_bytes_total"])
	}
}
