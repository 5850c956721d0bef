package autoscale

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phantom-db/phantom/control-plane/provision"
)

// Prometheus metrics of the autoscaler, registered with the default
// registry (the control plane serves it on /metrics).
var (
	scaleDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "phantom_controlplane_scale_decisions_total",
		Help: "Autoscaler decisions that changed an endpoint's compute count, by direction (up, down).",
	}, []string{"direction"})
	computeStarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "phantom_controlplane_compute_starts_total",
		Help: "Compute starts by the provisioner, by outcome (ok, error).",
	}, []string{"outcome"})
	deadComputes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "phantom_controlplane_dead_computes_killed_total",
		Help: "Computes killed (and so replaced) because the membership declared them dead.",
	})
)

func init() {
	prometheus.MustRegister(scaleDecisions, computeStarts, deadComputes)
}

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// ComputesCollector reports phantom_controlplane_computes{endpoint,state}:
// the computes a provisioner runs. Register it once per provisioner.
type ComputesCollector struct {
	// Provisioner is asked at every scrape.
	Provisioner provision.Provisioner
}

var computesDesc = prometheus.NewDesc("phantom_controlplane_computes",
	"Computes the provisioner runs, by endpoint and state (starting, ready, draining).", []string{"endpoint", "state"}, nil)

// Describe implements prometheus.Collector.
func (c ComputesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- computesDesc }

// Collect implements prometheus.Collector.
func (c ComputesCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ ep, state string }
	n := map[key]int{}
	for _, in := range c.Provisioner.Instances("") {
		n[key{in.Endpoint, in.State}]++
	}
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(computesDesc, prometheus.GaugeValue, float64(v), k.ep, k.state)
	}
}
