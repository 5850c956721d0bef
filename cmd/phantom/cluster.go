package main

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	controlplane "github.com/phantom-db/phantom/control-plane"
	"github.com/phantom-db/phantom/control-plane/autoscale"
	"github.com/phantom-db/phantom/control-plane/provision"
	"github.com/phantom-db/phantom/internal/natsbus"
)

// ClusterNodes lists the membership as the control plane's GET /v1/cluster
// shows it (controlplane.ClusterNodes).
func (v membersView) ClusterNodes() []controlplane.ClusterNode {
	nodes := v.m.Nodes()
	out := make([]controlplane.ClusterNode, 0, len(nodes))
	for _, n := range nodes {
		cn := controlplane.ClusterNode{ID: n.NodeID, Role: string(n.Role), Address: n.Address, Health: "dead",
			LastSeen: n.LastSeen.UTC(), StartedAt: n.StartedAt.UTC(), Load: loadMap(n.Load)}
		if n.Alive {
			cn.Health = "alive"
		}
		out = append(out, cn)
	}
	return out
}

// loadMap flattens a heartbeat's load into name -> value (nil when empty).
func loadMap(l natsbus.Load) map[string]float64 {
	m := map[string]float64{}
	if l.ActiveSessions != 0 {
		m["sessions"] = float64(l.ActiveSessions)
	}
	if l.QueriesPerSec != 0 {
		m["qps"] = l.QueriesPerSec
	}
	if l.CPU != 0 {
		m["cpu"] = l.CPU
	}
	if l.P99Millis != 0 {
		m["p99_ms"] = l.P99Millis
	}
	for k, v := range l.Extra {
		m[k] = v
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// deadNodes answers the ids of the nodes m has declared dead.
func deadNodes(m *natsbus.Membership) []string {
	var out []string
	for _, n := range m.Nodes() {
		if !n.Alive {
			out = append(out, n.NodeID)
		}
	}
	return out
}

// withMetrics serves Prometheus /metrics (the default registry, open like
// /healthz) in front of h.
func withMetrics(h http.Handler) http.Handler {
	metrics := promhttp.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			metrics.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// currentMembers is the membership the node gauges report (the process's
// control plane; replaced when a test starts another).
var (
	currentMembers     atomic.Pointer[natsbus.Membership]
	registerMembersOne sync.Once
)

var nodesDesc = prometheus.NewDesc("phantom_controlplane_nodes",
	"Nodes the control plane's membership knows, by role and health (alive, dead).", []string{"role", "health"}, nil)

// membersCollector reports phantom_controlplane_nodes.
type membersCollector struct{}

func (membersCollector) Describe(ch chan<- *prometheus.Desc) { ch <- nodesDesc }

func (membersCollector) Collect(ch chan<- prometheus.Metric) {
	m := currentMembers.Load()
	if m == nil {
		return
	}
	type key struct{ role, health string }
	n := map[key]int{}
	for _, s := range m.Nodes() {
		h := "dead"
		if s.Alive {
			h = "alive"
		}
		n[key{string(s.Role), h}]++
	}
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(nodesDesc, prometheus.GaugeValue, float64(v), k.role, k.health)
	}
}

// exportMembership makes m the membership phantom_controlplane_nodes
// reports.
func exportMembership(m *natsbus.Membership) {
	currentMembers.Store(m)
	registerMembersOne.Do(func() { prometheus.MustRegister(membersCollector{}) })
}

// Compute HTTP metrics.
var (
	computeRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "phantom_compute_http_requests_total",
		Help: "HTTP SQL API requests answered by this compute, by path and status code.",
	}, []string{"path", "code"})
	computeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "phantom_compute_http_request_duration_seconds",
		Help:    "Time to answer an HTTP SQL API request.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"path"})
	computeInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "phantom_compute_http_requests_in_flight",
		Help: "HTTP SQL API requests being answered.",
	})
)

func init() {
	prometheus.MustRegister(computeRequests, computeDuration, computeInFlight)
}

// computeMetrics counts the compute's HTTP requests; the path label is the
// route (sessions by id fold into one label).
func computeMetrics(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		switch path {
		case "/v1/sql", "/v1/sql/batch", "/v1/sessions", "/healthz":
		default:
			path = "other"
		}
		computeInFlight.Inc()
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		computeInFlight.Dec()
		computeDuration.WithLabelValues(path).Observe(time.Since(start).Seconds())
		computeRequests.WithLabelValues(path, strconv.Itoa(sw.code)).Inc()
	})
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush passes streaming flushes through.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// currentComputes is the provisioner phantom_controlplane_computes reports.
var (
	currentComputes     atomic.Pointer[autoscale.ComputesCollector]
	registerComputesOne sync.Once
)

// computesCollector delegates to the current provisioner's collector.
type computesCollector struct{}

func (computesCollector) Describe(ch chan<- *prometheus.Desc) {
	autoscale.ComputesCollector{}.Describe(ch)
}

func (computesCollector) Collect(ch chan<- prometheus.Metric) {
	if c := currentComputes.Load(); c != nil {
		c.Collect(ch)
	}
}

// exportComputes makes prov the provisioner phantom_controlplane_computes
// reports.
func exportComputes(prov provision.Provisioner) {
	currentComputes.Store(&autoscale.ComputesCollector{Provisioner: prov})
	registerComputesOne.Do(func() { prometheus.MustRegister(computesCollector{}) })
}
