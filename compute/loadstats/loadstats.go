// Package loadstats measures a compute node's load for the autoscaler:
// queries in flight, their average concurrency (busy query time per wall
// second, Little's law), completed queries per second, p99 latency, open
// PostgreSQL sessions and process CPU. It also tells when every session is
// idle outside a transaction, which the compute's drain waits for.
package loadstats

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/phantom-db/phantom/compute/pgwire"
	"github.com/phantom-db/phantom/compute/sql"
)

// maxLatencies bounds the latencies kept per interval for the p99.
const maxLatencies = 4096

// Snapshot is the load over the interval since the previous snapshot.
type Snapshot struct {
	InFlight    int
	Sessions    int
	Concurrency float64
	QPS         float64
	P99Millis   float64
	CPU         float64
	Draining    bool
}

// Tracker accumulates load. The zero value is not usable; call New.
type Tracker struct {
	now func() time.Time

	mu       sync.Mutex
	nextID   uint64
	inflight map[uint64]time.Time
	sessions map[*session]struct{}
	busy     time.Duration
	done     int
	lat      []time.Duration
	last     time.Time
	lastCPU  time.Duration
	draining bool
}

// New answers a Tracker whose first interval starts now.
func New() *Tracker {
	t := &Tracker{now: time.Now, inflight: map[uint64]time.Time{}, sessions: map[*session]struct{}{}}
	t.last = t.now()
	t.lastCPU = cpuTime()
	return t
}

// Begin records the start of a query; call the answer when it ends.
func (t *Tracker) Begin() (end func()) {
	t.mu.Lock()
	t.nextID++
	id := t.nextID
	start := t.now()
	t.inflight[id] = start
	t.mu.Unlock()
	return func() {
		now := t.now()
		t.mu.Lock()
		defer t.mu.Unlock()
		from := start
		if t.last.After(from) {
			from = t.last
		}
		t.busy += now.Sub(from)
		delete(t.inflight, id)
		t.done++
		if len(t.lat) < maxLatencies {
			t.lat = append(t.lat, now.Sub(start))
		}
	}
}

// SetDraining marks the node draining (reported in snapshots).
func (t *Tracker) SetDraining() {
	t.mu.Lock()
	t.draining = true
	t.mu.Unlock()
}

// Snapshot answers the load since the previous snapshot and starts a new
// interval.
func (t *Tracker) Snapshot() Snapshot {
	now := t.now()
	cpu := cpuTime()
	t.mu.Lock()
	defer t.mu.Unlock()
	wall := now.Sub(t.last)
	busy := t.busy
	for _, start := range t.inflight {
		from := start
		if t.last.After(from) {
			from = t.last
		}
		busy += now.Sub(from)
	}
	s := Snapshot{InFlight: len(t.inflight), Sessions: len(t.sessions), Draining: t.draining}
	if wall > 0 {
		s.Concurrency = busy.Seconds() / wall.Seconds()
		s.QPS = float64(t.done) / wall.Seconds()
		if c := (cpu - t.lastCPU).Seconds() / wall.Seconds(); c > 0 {
			s.CPU = c
		}
	}
	if len(t.lat) > 0 {
		sort.Slice(t.lat, func(i, j int) bool { return t.lat[i] < t.lat[j] })
		s.P99Millis = float64(t.lat[(len(t.lat)*99)/100]) / float64(time.Millisecond)
	}
	t.busy, t.done, t.lat, t.last, t.lastCPU = 0, 0, t.lat[:0], now, cpu
	return s
}

// Idle reports whether no query runs and no session is inside a
// transaction.
func (t *Tracker) Idle() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.inflight) > 0 {
		return false
	}
	for s := range t.sessions {
		if s.inner.TxStatus() != 'I' {
			return false
		}
	}
	return true
}

// WaitIdle polls Idle until it holds or ctx ends; it answers whether the
// node went idle.
func (t *Tracker) WaitIdle(ctx context.Context) bool {
	for {
		if t.Idle() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Middleware counts each SQL request (POST /v1/sql, /v1/sql/batch) as a
// query.
func (t *Tracker) Middleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && (r.URL.Path == "/v1/sql" || r.URL.Path == "/v1/sql/batch") {
			end := t.Begin()
			defer end()
		}
		h.ServeHTTP(w, r)
	})
}

// Sessions wraps a pgwire session factory so each connection counts as a
// session and each Execute as a query. The sessions it makes describe
// statements through the inner session (use pgwire.DescribedBy first).
func (t *Tracker) Sessions(f pgwire.SessionFactory) pgwire.SessionFactory {
	return func() pgwire.Session {
		s := &session{inner: f(), t: t}
		t.mu.Lock()
		t.sessions[s] = struct{}{}
		t.mu.Unlock()
		return s
	}
}

type session struct {
	inner pgwire.Session
	t     *Tracker
	once  sync.Once
}

func (s *session) Execute(ctx context.Context, query string, params []any) ([]*sql.Result, error) {
	end := s.t.Begin()
	defer end()
	return s.inner.Execute(ctx, query, params)
}

func (s *session) TxStatus() byte { return s.inner.TxStatus() }

func (s *session) Close() {
	s.once.Do(func() {
		s.t.mu.Lock()
		delete(s.t.sessions, s)
		s.t.mu.Unlock()
	})
	s.inner.Close()
}

// Describe describes through the inner session when it can.
func (s *session) Describe(ctx context.Context, query string, known []string) (*sql.Description, error) {
	if d, ok := s.inner.(pgwire.Describer); ok {
		return d.Describe(ctx, query, known)
	}
	return &sql.Description{}, nil
}

// StatementTimeout is the inner session's own statement_timeout (SET
// statement_timeout), which pgwire enforces; 0 when it has none.
func (s *session) StatementTimeout() time.Duration {
	if st, ok := s.inner.(interface{ StatementTimeout() time.Duration }); ok {
		return st.StatementTimeout()
	}
	return 0
}

// cpuTime answers the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
