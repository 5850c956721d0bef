package logservice

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/phantom-db/phantom/logservice/logclient"
)

// metricValues gathers reg into name{reason} -> value (counter, gauge or
// histogram sample count).
func metricValues(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					name += "{" + l.GetValue() + "}"
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[name] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := StartTestGroup(t, 1, func(c *Config) { c.Registerer = reg })
	c := dial(t, g.AddrList())
	ctx := ctxT(t, 20*time.Second)
	old, _, err := c.GetTimestamp(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	acks := commitN(t, c, "m", 3)
	if _, _, err := c.Commit(ctx, old, mut("m-0", "x"), nil); !errors.Is(err, logclient.ErrConflict) {
		t.Fatalf("conflict: %v", err)
	}
	v := metricValues(t, reg)
	want := map[string]float64{
		"phantom_logservice_commits_total":                       3,
		"phantom_logservice_commit_aborts_total{write_conflict}": 1,
		"phantom_logservice_commit_aborts_total{read_conflict}":  0,
		"phantom_logservice_commit_duration_seconds":             4,
		"phantom_logservice_leader_epochs_total":                 1,
		"phantom_logservice_is_leader":                           1,
		"phantom_logservice_log_first_index":                     1,
		"phantom_logservice_truncation_floor_index":              0,
	}
	for name, w := range want {
		if got, ok := v[name]; !ok || got != w {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, w)
		}
	}
	if v["phantom_logservice_log_last_index"] < float64(acks[2].index+1) {
		t.Errorf("log_last_index %v below the conflict's entry %d", v["phantom_logservice_log_last_index"], acks[2].index+1)
	}
	for _, h := range []string{"phantom_logservice_log_store_duration_seconds", "phantom_logservice_log_store_batch_entries", "phantom_logservice_fsm_apply_batch_duration_seconds"} {
		if v[h] < 4 {
			t.Errorf("%s has %v samples, want at least one per commit", h, v[h])
		}
	}
	// Close unregisters, so a replica can be restarted in the process.
	g.Stop(0)
	if left := metricValues(t, reg); len(left) != 0 {
		t.Errorf("metrics left after Close: %v", left)
	}
}
