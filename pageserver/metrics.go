package pageserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phantom-db/phantom/internal/objstore"
)

// metrics are the page server's Prometheus metrics.
type metrics struct {
	appliedIndex prometheus.Gauge
	applyLag     prometheus.Gauge
	scanDuration prometheus.Histogram
	// tableVersionDuration times TableVersion requests.
	tableVersionDuration prometheus.Histogram
	bytesUploaded        prometheus.Counter
	bytesDownloaded      prometheus.Counter
	checkpointDuration   prometheus.Histogram
	checkpointFailures   prometheus.Counter
	gcObjectsDeleted     prometheus.Counter
	gcVersionsDeleted    prometheus.Counter
	gcBranchVersions     prometheus.Counter
	blockCache           *cacheCollector
}

// cacheCollector reports the Pebble block cache's hits and misses (the
// cache hit ratio is hits / (hits + misses)) of the open database, counted
// since it opened.
type cacheCollector struct {
	db     atomic.Pointer[pebble.DB]
	hits   *prometheus.Desc
	misses *prometheus.Desc
}

func newCacheCollector() *cacheCollector {
	return &cacheCollector{
		hits:   prometheus.NewDesc("phantom_pageserver_block_cache_hits_total", "Block cache hits of the page server's Pebble since it opened.", nil, nil),
		misses: prometheus.NewDesc("phantom_pageserver_block_cache_misses_total", "Block cache misses of the page server's Pebble since it opened.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.hits; ch <- c.misses }

// Collect implements prometheus.Collector.
func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	db := c.db.Load()
	if db == nil {
		return
	}
	bc := db.Metrics().BlockCache
	ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(bc.Hits))
	ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(bc.Misses))
}

// newMetrics creates the metrics and registers them on reg (when not nil),
// labelled node=nodeID.
func newMetrics(reg prometheus.Registerer, nodeID string) (*metrics, error) {
	m := &metrics{
		blockCache: newCacheCollector(),
		appliedIndex: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "phantom_pageserver_applied_index",
			Help: "Index of the newest log entry applied.",
		}),
		applyLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "phantom_pageserver_apply_lag_seconds",
			Help: "Wall time between the commit_ts of the newest applied entry and its application.",
		}),
		scanDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "phantom_pageserver_scan_duration_seconds",
			Help:    "Duration of Scan requests, waiting for min_index included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
		tableVersionDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "phantom_pageserver_table_version_duration_seconds",
			Help:    "Duration of TableVersion requests, waiting for min_index included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
		bytesUploaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phantom_pageserver_objstore_uploaded_bytes_total",
			Help: "Bytes uploaded to the object store (successful Puts).",
		}),
		bytesDownloaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phantom_pageserver_objstore_downloaded_bytes_total",
			Help: "Bytes read from the object store.",
		}),
		checkpointDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "phantom_pageserver_checkpoint_duration_seconds",
			Help:    "Duration of checkpoints that wrote a manifest.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 10),
		}),
		checkpointFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phantom_pageserver_checkpoint_failures_total",
			Help: "Checkpoints that failed.",
		}),
		gcObjectsDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phantom_pageserver_gc_objects_deleted_total",
			Help: "Objects deleted by object garbage collection.",
		}),
		gcVersionsDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phantom_pageserver_gc_versions_deleted_total",
			Help: "MVCC versions deleted by version garbage collection.",
		}),
		gcBranchVersions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phantom_pageserver_gc_deleted_branch_versions_total",
			Help: "Versions of deleted branches' own rows removed by garbage collection (counted as their ranges are dropped).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	reg = prometheus.WrapRegistererWith(prometheus.Labels{"node": nodeID}, reg)
	// A server reopened in the same process (same node) reuses the
	// collectors registered by its predecessor.
	var err error
	register(reg, &m.appliedIndex, &err)
	register(reg, &m.applyLag, &err)
	register(reg, &m.scanDuration, &err)
	register(reg, &m.tableVersionDuration, &err)
	register(reg, &m.bytesUploaded, &err)
	register(reg, &m.bytesDownloaded, &err)
	register(reg, &m.checkpointDuration, &err)
	register(reg, &m.checkpointFailures, &err)
	register(reg, &m.gcObjectsDeleted, &err)
	register(reg, &m.gcVersionsDeleted, &err)
	register(reg, &m.gcBranchVersions, &err)
	register(reg, &m.blockCache, &err)
	if err != nil {
		return nil, fmt.Errorf("pageserver: register metrics: %w", err)
	}
	return m, nil
}

// register registers *c on reg, replacing *c by the collector already
// registered under the same description if there is one. The first error
// goes to *errp.
func register[C prometheus.Collector](reg prometheus.Registerer, c *C, errp *error) {
	err := reg.Register(*c)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			*c = existing
			return
		}
	}
	if err != nil && *errp == nil {
		*errp = err
	}
}

// observeApplied records the applied position of an entry applied at now.
func (m *metrics) observeApplied(index, commitTS uint64, now time.Time) {
	m.appliedIndex.Set(float64(index))
	committed := time.UnixMilli(int64(commitTS >> physicalShift))
	m.applyLag.Set(max(0, now.Sub(committed).Seconds()))
}

// countingStore wraps a Store to count the bytes moved.
type countingStore struct {
	objstore.Store
	m *metrics
}

// Put counts size bytes when the Put succeeds.
func (c countingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := c.Store.Put(ctx, key, r, size); err != nil {
		return err
	}
	c.m.bytesUploaded.Add(float64(size))
	return nil
}

// Get counts the bytes read from the object.
func (c countingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := c.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: rc, c: c.m.bytesDownloaded}, nil
}

// countingReader adds every byte read to c.
type countingReader struct {
	io.ReadCloser
	c prometheus.Counter
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.c.Add(float64(n))
	return n, err
}
