package exec

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/rowcodec"
)

// The scan cache keeps the decoded columns of whole-table scans, so
// repeated scans of an unchanged table skip the page server, Arrow IPC and
// row decoding. It is shared by every session of an Engine.
//
// Validity: an entry filled by a scan at snapshot ts V holds the table as
// of V. Before a scan at snapshot T uses it, the scan asks the KV's
// TableVersion at T, which answers v with "no commit in (v, T] changed the
// table's rows" when v <= T. The entry is used iff V <= T and v <= V: then
// nothing changed in (V, T], so the table at T is the table at V. Reads
// with their own pending writes in the table (the transaction view
// answers storage.NoVersion), SERIALIZABLE reads (Env.ExactReads) and
// KVs without TableVersion never use it. When unsure, it misses.
//
// Entries are immutable once published; adding columns publishes a new
// entry. A scan served from an entry holds its own references to the
// arrays, so eviction (which drops the entry's references) never frees
// arrays a statement still reads.

// ScanCacheConfig configures a ScanCache.
type ScanCacheConfig struct {
	// MaxBytes bounds the Arrow buffer bytes (capacity) of every cached
	// column. <= 0 disables the cache (NewScanCache answers nil).
	MaxBytes int64
	// Allocator allocates the arrays filling scans decode (they outlive
	// the statement). Default memory.DefaultAllocator.
	Allocator memory.Allocator
	// Logger receives debug lines on fills and invalidations. Default:
	// discard.
	Logger *slog.Logger
	// Registerer, when set, receives the cache's Prometheus metrics.
	Registerer prometheus.Registerer
}

// ScanCache is the shared cache of decoded table columns. A nil
// *ScanCache is a disabled cache. It is safe for concurrent use.
type ScanCache struct {
	max int64
	mem memory.Allocator
	log *slog.Logger
	m   *scanCacheMetrics

	hits, misses, evictions atomic.Int64

	mu      sync.Mutex
	entries map[scanKey]*list.Element // values are *scanEntry
	lru     list.List                 // front: most recently used
	bytes   int64
}

// scanKey names what a cached scan decoded: the rows of table id table of
// database (or branch timeline) db, decoded with kinds ("ALTER" changes
// the version or the kinds).
type scanKey struct {
	db, table, version uint64
	kinds              string
}

// scanEntry is the table as of validTS: per column (nil when not cached)
// the decoded arrays of every chunk, chunk i holding rows[i] rows.
type scanEntry struct {
	key     scanKey
	validTS uint64
	rows    []int
	cols    [][]arrow.Array
	bytes   int64
}

// NewScanCache returns a cache, nil when cfg.MaxBytes <= 0.
func NewScanCache(cfg ScanCacheConfig) (*ScanCache, error) {
	if cfg.MaxBytes <= 0 {
		return nil, nil
	}
	if cfg.Allocator == nil {
		cfg.Allocator = memory.DefaultAllocator
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, err := newScanCacheMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &ScanCache{max: cfg.MaxBytes, mem: cfg.Allocator, log: cfg.Logger, m: m,
		entries: map[scanKey]*list.Element{}}, nil
}

// ScanCacheStats counts a cache's work since it was made.
type ScanCacheStats struct {
	// Hits and Misses count scans that asked the cache (a miss reads the
	// KV); Evictions counts entries dropped for the byte bound.
	Hits, Misses, Evictions int64
	// Entries and Bytes are what the cache holds now.
	Entries int
	Bytes   int64
}

// Stats answers the cache's counters (zero for a nil cache).
func (c *ScanCache) Stats() ScanCacheStats {
	if c == nil {
		return ScanCacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return ScanCacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load(),
		Entries: len(c.entries), Bytes: c.bytes}
}

// Clear drops every entry (scans holding arrays keep them).
func (c *ScanCache) Clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.lru.Len() > 0 {
		c.removeLocked(c.lru.Back())
	}
}

// miss counts a miss.
func (c *ScanCache) miss() {
	c.misses.Add(1)
	c.m.misses.Inc()
}

// keyOf is the cache key of a scan of table id with descriptor version
// and row kinds in database db.
func keyOf(db, table, version uint64, kinds []rowcodec.Kind) scanKey {
	k := make([]byte, len(kinds))
	for i, x := range kinds {
		k[i] = byte(x)
	}
	return scanKey{db: db, table: table, version: version, kinds: string(k)}
}

// begin decides how a scan of [start, end) at env's snapshot uses the
// cache: a lease to serve every needed column from (a hit), or a fill to
// record what the scan decodes (a miss; nil when the result could not be
// cached usefully). need (nil: every column) says which columns the scan
// must produce.
func (c *ScanCache) begin(ctx context.Context, env *Env, key scanKey, start, end []byte, need []bool) (*scanLease, *scanFill) {
	if c == nil || env.ExactReads {
		return nil, nil
	}
	tv, ok := env.KV.(storage.TableVersioner)
	if !ok {
		return nil, nil
	}
	ts := env.Snap.TS
	v, err := tv.TableVersion(ctx, env.Snap, start, end)
	if err != nil {
		c.log.Debug("scan cache: table version failed; reading without the cache", "db", key.db, "table", key.table, "err", err)
		c.miss()
		return nil, nil
	}
	if v > ts {
		// Written after the snapshot, or the reader's own pending writes:
		// a copy at ts would never validate for later readers.
		c.miss()
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.entries[key]
	if el == nil {
		c.miss()
		return nil, &scanFill{c: c, key: key, ts: ts, version: v}
	}
	e := el.Value.(*scanEntry)
	if e.validTS < v {
		// Written after the entry was filled: no reader at v or later can
		// use it.
		c.log.Debug("scan cache: entry invalidated by a write", "db", key.db, "table", key.table,
			"valid_ts", e.validTS, "last_write_ts", v)
		c.removeLocked(el)
		c.miss()
		return nil, &scanFill{c: c, key: key, ts: ts, version: v}
	}
	if e.validTS > ts {
		// Filled after this snapshot (an older or time-travel read): the
		// table may have changed in (ts, validTS].
		c.miss()
		return nil, nil
	}
	for i, col := range e.cols {
		if col == nil && (need == nil || need[i]) {
			c.miss()
			return nil, &scanFill{c: c, key: key, ts: ts, version: v}
		}
	}
	c.lru.MoveToFront(el)
	c.hits.Add(1)
	c.m.hits.Inc()
	l := &scanLease{rows: e.rows, cols: make([][]arrow.Array, len(e.cols))}
	for i, col := range e.cols {
		// Only the columns this scan needs: the others, cached for other
		// queries, go out all NULL as a decoding scan's would, or every
		// operator above would carry (and a join build side copy) them.
		if col == nil || need != nil && !need[i] {
			continue
		}
		for _, a := range col {
			a.Retain()
		}
		l.cols[i] = append([]arrow.Array(nil), col...)
	}
	return l, nil
}

// store publishes what fill recorded: into the current entry when it
// holds the same table version (adding the columns it lacks), otherwise
// as a new entry replacing an older one.
func (c *ScanCache) store(f *scanFill) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := &scanEntry{key: f.key, validTS: f.ts, rows: f.rows, cols: f.cols}
	el := c.entries[f.key]
	if el != nil {
		cur := el.Value.(*scanEntry)
		switch {
		case cur.validTS <= f.ts && f.version <= cur.validTS && equalRows(cur.rows, f.rows):
			// Both copies hold the table of (version, ts]: merge.
			next.validTS = cur.validTS
			for i, col := range cur.cols {
				if col != nil && next.cols[i] == nil {
					next.cols[i] = retainedCopy(col)
				}
			}
		case cur.validTS > f.ts:
			f.release() // a newer copy is there
			return
		}
	}
	for _, col := range next.cols {
		for _, a := range col {
			next.bytes += arrayBytes(a)
		}
	}
	if next.bytes > c.max {
		c.log.Debug("scan cache: table larger than the cache", "db", f.key.db, "table", f.key.table, "bytes", next.bytes)
		for _, col := range next.cols {
			releaseAll(col)
		}
		return
	}
	if el != nil {
		c.removeLocked(el)
	}
	for c.bytes+next.bytes > c.max && c.lru.Len() > 0 {
		back := c.lru.Back()
		be := back.Value.(*scanEntry)
		c.log.Debug("scan cache: evicted", "db", be.key.db, "table", be.key.table, "bytes", be.bytes)
		c.evictions.Add(1)
		c.m.evictions.Inc()
		c.removeLocked(back)
	}
	c.entries[f.key] = c.lru.PushFront(next)
	c.bytes += next.bytes
	c.m.bytes.Add(float64(next.bytes))
	c.log.Debug("scan cache: filled", "db", f.key.db, "table", f.key.table, "valid_ts", next.validTS,
		"chunks", len(next.rows), "bytes", next.bytes)
}

// removeLocked drops the entry at el and its references to its arrays.
func (c *ScanCache) removeLocked(el *list.Element) {
	e := el.Value.(*scanEntry)
	c.lru.Remove(el)
	delete(c.entries, e.key)
	c.bytes -= e.bytes
	c.m.bytes.Sub(float64(e.bytes))
	for _, col := range e.cols {
		releaseAll(col)
	}
}

func equalRows(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// retainedCopy copies arrs, retaining each array.
func retainedCopy(arrs []arrow.Array) []arrow.Array {
	out := make([]arrow.Array, len(arrs))
	for i, a := range arrs {
		a.Retain()
		out[i] = a
	}
	return out
}

// arrayBytes is the capacity of a's buffers, children included.
func arrayBytes(a arrow.Array) int64 {
	return dataBytes(a.Data())
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Cap())
		}
	}
	for _, ch := range d.Children() {
		n += dataBytes(ch)
	}
	return n
}

// scanFill records the arrays a missing scan decodes, chunk by chunk.
type scanFill struct {
	c       *ScanCache
	key     scanKey
	ts      uint64 // the scan's snapshot
	version uint64 // TableVersion at ts: the table is unchanged in (version, ts]
	rows    []int
	cols    [][]arrow.Array // per column; nil for columns the scan skips
	bytes   int64
	dead    bool // gave up (too large)
}

// add records one batch: the decoded columns (skip[i] false) of cols.
func (f *scanFill) add(cols []arrow.Array, skip []bool, n int) {
	if f.dead {
		return
	}
	if f.cols == nil {
		f.cols = make([][]arrow.Array, len(cols))
		for i := range cols {
			if skip == nil || !skip[i] {
				f.cols[i] = []arrow.Array{}
			}
		}
	}
	for i, a := range cols {
		if f.cols[i] != nil {
			a.Retain()
			f.cols[i] = append(f.cols[i], a)
			f.bytes += arrayBytes(a)
		}
	}
	f.rows = append(f.rows, n)
	if f.bytes > f.c.max {
		f.release()
		f.dead = true
	}
}

// finish publishes the recorded scan, which read the whole range; an
// empty table records no batch (then every column is present, with no
// chunks).
func (f *scanFill) finish(ncols int, skip []bool) {
	if f.dead {
		return
	}
	if f.cols == nil {
		f.cols = make([][]arrow.Array, ncols)
		for i := range f.cols {
			if skip == nil || !skip[i] {
				f.cols[i] = []arrow.Array{}
			}
		}
	}
	f.c.store(f)
	f.cols = nil
}

// release drops the recorded arrays.
func (f *scanFill) release() {
	for _, col := range f.cols {
		releaseAll(col)
	}
	f.cols, f.rows = nil, nil
}

// scanLease is a hit: the scan's own references to the cached arrays,
// handed to the consumer chunk by chunk.
type scanLease struct {
	rows  []int
	cols  [][]arrow.Array // per column; nil for columns not cached
	next  int
	nulls nullColumns // the columns the cache does not hold
}

// batch returns the next chunk as a batch (nil at the end): cached columns
// as they are, the others all NULL (the scan does not need them).
func (l *scanLease) batch(mem memory.Allocator, schema *arrow.Schema) arrow.RecordBatch {
	if l.next >= len(l.rows) {
		return nil
	}
	i, n := l.next, l.rows[l.next]
	l.next++
	out := make([]arrow.Array, len(l.cols))
	for c, col := range l.cols {
		if col != nil {
			out[c], col[i] = col[i], nil // the batch takes the lease's reference
			continue
		}
		out[c] = l.nulls.get(mem, schema.Field(c).Type, n)
	}
	return newBatch(schema, out, n)
}

// release drops the references the lease still holds.
func (l *scanLease) release() {
	for _, col := range l.cols {
		for i, a := range col {
			if a != nil {
				a.Release()
				col[i] = nil
			}
		}
	}
	l.nulls.release()
}

// scanCacheMetrics are the cache's Prometheus metrics.
type scanCacheMetrics struct {
	hits      prometheus.Counter
	misses    prometheus.Counter
	evictions prometheus.Counter
	bytes     prometheus.Gauge
}

func newScanCacheMetrics(reg prometheus.Registerer) (*scanCacheMetrics, error) {
	m := &scanCacheMetrics{
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phantom_compute_scan_cache_hits_total",
			Help: "Table scans served from the compute's scan cache.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phantom_compute_scan_cache_misses_total",
			Help: "Table scans that could use the scan cache but read the page server (no entry, a stale one, missing columns, or a table changed after the snapshot).",
		}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phantom_compute_scan_cache_evictions_total",
			Help: "Scan cache entries evicted to stay under the byte bound.",
		}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "phantom_compute_scan_cache_bytes",
			Help: "Bytes of Arrow buffers the scan caches of this process hold.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	register(reg, &m.hits, &err)
	register(reg, &m.misses, &err)
	register(reg, &m.evictions, &err)
	register(reg, &m.bytes, &err)
	if err != nil {
		return nil, fmt.Errorf("exec: register scan cache metrics: %w", err)
	}
	return m, nil
}

// register registers *c on reg, replacing *c by the collector already
// registered under the same description (several engines in one process
// share the metrics). The first error goes to *errp.
func register[C prometheus.Collector](reg prometheus.Registerer, c *C, errp *error) {
	err := reg.Register(*c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			*c = existing
			return
		}
	}
	if err != nil && *errp == nil {
		*errp = err
	}
}
