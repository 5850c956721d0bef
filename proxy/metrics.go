package proxy

import "github.com/prometheus/client_golang/prometheus"

// Prometheus metrics of the proxy, registered with the default registry
// (`phantom proxy` serves it on /metrics).
var (
	httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "phantom_proxy_http_requests_total",
		Help: "HTTP requests the proxy answered, by outcome: forwarded (a compute answered), unreachable (502), not_ready (503), unknown (404), bad_request.",
	}, []string{"outcome"})
	httpDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "phantom_proxy_http_request_duration_seconds",
		Help:    "Time from receiving an HTTP request to the end of the compute's answer, wake-ups included.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
	})
	pgConnections = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "phantom_proxy_pg_connections",
		Help: "Open PostgreSQL client connections.",
	})
	pgAccepted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "phantom_proxy_pg_connections_total",
		Help: "PostgreSQL client connections accepted.",
	})
	unreachable = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "phantom_proxy_compute_unreachable_total",
		Help: "Times a compute could not be reached (connection refused or lost) and was avoided.",
	})
	retries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "phantom_proxy_retries_total",
		Help: "HTTP requests retried on another compute because the first could not be connected to.",
	})
	wakes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "phantom_proxy_wakes_total",
		Help: "Requests that found no ready compute and asked the control plane to wake the endpoint.",
	})
)

func init() {
	prometheus.MustRegister(httpRequests, httpDuration, pgConnections, pgAccepted, unreachable, retries, wakes)
}
