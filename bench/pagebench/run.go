package pagebench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
	"github.com/phantom-db/phantom/pageserver"
)

// Table layout: rows live at keys.TablePrefix(benchDB, benchTable) + int pk,
// as SQL rows do.
const (
	benchDB    = 1
	benchTable = 1000
)

// Latency is one point-read concurrency level of one system.
type Latency struct {
	Clients  int
	Ops      int
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
	// FirstErr is the first error seen, if any.
	FirstErr string
}

// PerSecond answers the read throughput.
func (l Latency) PerSecond() float64 {
	if l.Elapsed <= 0 {
		return 0
	}
	return float64(l.Ops) / l.Elapsed.Seconds()
}

// LoadResult is the load phase.
type LoadResult struct {
	Commits int
	// Elapsed runs from the first commit until the page server applied the
	// last one.
	Elapsed time.Duration
	// CommitElapsed runs until the last commit was acknowledged.
	CommitElapsed time.Duration
	KeyBytes      int64
	ValueBytes    int64
}

// ScanResult is one full scan of the table.
type ScanResult struct {
	Rows     int64
	Bytes    int64 // Arrow IPC bytes received
	RowBytes int64 // key + value bytes of the rows
	Elapsed  time.Duration
	// CPU is the page server's user+system CPU time during the scan (zero
	// with CPUErr set when it cannot be measured).
	CPU    time.Duration
	CPUErr string
}

// ColdStart is one restart of the page server on an empty disk.
type ColdStart struct {
	Mode pageserver.RestoreMode
	// FirstRead is the time from starting the process until a point read
	// answered (correctly).
	FirstRead time.Duration
	// AllLocal is the time from starting the process until every file of
	// the checkpoint was on local disk (for eager, before serving).
	AllLocal time.Duration
}

// CheckpointResult is the checkpoint the page server wrote at shutdown.
type CheckpointResult struct {
	Elapsed time.Duration // SIGTERM until exit (final checkpoint included)
	Objects int
	Bytes   int64
}

// Result is one run.
type Result struct {
	Rows, ValueSize, KeySize int
	CommitRows, Loaders      int
	NumCPU                   int
	PageServerProcs          int // GOMAXPROCS of the page server
	Load                     LoadResult
	Point                    []Latency
	Scan                     ScanResult
	Checkpoint               CheckpointResult
	Cold                     []ColdStart
	Postgres                 *PostgresResult
	PostgresSkipped          string
}

// bench is the state of one run.
type bench struct {
	cfg      *Config
	dir      string
	log      *proc
	page     *proc
	logAddr  string
	pageAddr string
	pageHTTP string
	logc     *logclient.Client
	conn     *grpc.ClientConn
	pc       wirepb.PageServerClient
	prefix   []byte
	readTS   uint64
	minIndex uint64
}

// Run runs the benchmark.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(cfg.WorkDir, "pagebench-")
	if err != nil {
		return nil, fmt.Errorf("pagebench: %w", err)
	}
	if cfg.KeepData {
		fmt.Fprintf(cfg.Progress, "data and process logs in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	b := &bench{cfg: &cfg, dir: dir, prefix: keys.TablePrefix(benchDB, benchTable)}
	defer b.close()
	res := &Result{
		Rows: cfg.Rows, ValueSize: cfg.ValueSize, KeySize: len(b.key(int64(cfg.Rows - 1))),
		CommitRows: cfg.CommitRows, Loaders: cfg.Loaders,
		NumCPU: runtime.NumCPU(), PageServerProcs: cfg.PageServerProcs,
	}
	if res.PageServerProcs == 0 {
		res.PageServerProcs = runtime.NumCPU()
	}
	if err := b.start(ctx); err != nil {
		return nil, err
	}
	if res.Load, err = b.load(ctx); err != nil {
		return nil, err
	}
	for _, c := range cfg.Concurrency {
		b.progress("phantom point reads, %d clients, %s", c, cfg.ReadDuration)
		l, err := pointReads(ctx, c, cfg.ReadDuration, cfg.Rows, b.pointRead)
		if err != nil {
			return nil, err
		}
		res.Point = append(res.Point, l)
	}
	if res.Scan, err = b.scan(ctx); err != nil {
		return nil, err
	}
	if res.Checkpoint, err = b.stopPage(); err != nil {
		return nil, err
	}
	for _, mode := range []pageserver.RestoreMode{pageserver.RestoreEager, pageserver.RestoreLazy} {
		cs, err := b.coldStart(ctx, mode)
		if err != nil {
			return nil, err
		}
		res.Cold = append(res.Cold, cs)
	}
	b.close()
	if cfg.SkipPostgres {
		res.PostgresSkipped = "skipped (--skip-postgres)"
	} else if bin, err := postgresBin(cfg.PostgresBin); err != nil {
		res.PostgresSkipped = err.Error()
	} else {
		cfg.PostgresBin = bin
		pg, err := runPostgres(ctx, &cfg, dir, b.value)
		if err != nil {
			return nil, err
		}
		res.Postgres = pg
	}
	return res, nil
}

// progress prints one progress line.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.cfg.Progress, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// key is the key of row id.
func (b *bench) key(id int64) []byte {
	return keys.AppendInt(slices.Clip(b.prefix), id)
}

// value is the value of row id: ValueSize pseudo-random lowercase letters
// (incompressible enough that compression does not flatter either system).
func (b *bench) value(id int64) []byte {
	r := rand.New(rand.NewPCG(uint64(id), 0x9e3779b97f4a7c15))
	v := make([]byte, b.cfg.ValueSize)
	for i := range v {
		v[i] = 'a' + byte(r.IntN(26))
	}
	return v
}

// pageArgs are the page server's arguments for a restore mode.
func (b *bench) pageArgs(mode pageserver.RestoreMode) []string {
	return []string{"pageserver",
		"--node-id", "page-1",
		"--data-dir", filepath.Join(b.dir, "page"),
		"--grpc-addr", b.pageAddr,
		"--http-addr", b.pageHTTP,
		"--logservice", b.logAddr,
		"--object-store", filepath.Join(b.dir, "objects"),
		"--object-prefix", "shards/0/",
		"--checkpoint-interval", "0",
		"--gc-interval", "0",
		"--retention", "0",
		"--restore", string(mode),
		"--log-level", "warn",
	}
}

// start starts the log service and the page server and connects to both.
func (b *bench) start(ctx context.Context) error {
	addrs, err := freeAddrs(5)
	if err != nil {
		return err
	}
	b.logAddr, b.pageAddr, b.pageHTTP = addrs[0], addrs[3], addrs[4]
	b.log = &proc{name: "phantom logservice", bin: b.cfg.PhantomBin, logPath: filepath.Join(b.dir, "logservice.log"),
		args: []string{"logservice", "--node-id", "log-1", "--data-dir", filepath.Join(b.dir, "log"),
			"--grpc-addr", addrs[0], "--raft-addr", addrs[1], "--http-addr", addrs[2], "--bootstrap", "--log-level", "warn"}}
	b.page = &proc{name: "phantom pageserver", bin: b.cfg.PhantomBin, logPath: filepath.Join(b.dir, "pageserver.log"),
		args: b.pageArgs(pageserver.RestoreLazy)}
	if b.cfg.PageServerProcs > 0 {
		b.page.env = []string{fmt.Sprintf("GOMAXPROCS=%d", b.cfg.PageServerProcs)}
	}
	b.progress("starting a log service and a page server (%s)", b.cfg.PhantomBin)
	if err := b.log.start(); err != nil {
		return err
	}
	if b.logc, err = logclient.Dial(ctx, b.logAddr, logclient.WithLogger(b.cfg.Logger)); err != nil {
		return fmt.Errorf("pagebench: dial log service: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := retry(wctx, 50*time.Millisecond, func(ctx context.Context) error {
		_, _, err := b.logc.GetTimestamp(ctx, 1)
		return err
	}); err != nil {
		return fmt.Errorf("pagebench: log service not ready (log %s): %w", b.log.logPath, err)
	}
	if err := b.page.start(); err != nil {
		return err
	}
	if err := b.dialPage(); err != nil {
		return err
	}
	if err := retry(wctx, 50*time.Millisecond, func(ctx context.Context) error {
		_, err := b.pc.Status(ctx, &wirepb.PageStatusRequest{})
		return err
	}); err != nil {
		return fmt.Errorf("pagebench: page server not ready (log %s): %w", b.page.logPath, err)
	}
	return nil
}

// dialPage (re)connects the page server client. Reconnect backoff is short
// (5ms..50ms) so that a cold start measures the server, not gRPC's default
// one-second reconnect delay.
func (b *bench) dialPage() error {
	if b.conn != nil {
		b.conn.Close()
	}
	conn, err := grpc.NewClient(b.pageAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 5 * time.Millisecond, Multiplier: 1.5, MaxDelay: 50 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		return fmt.Errorf("pagebench: dial page server: %w", err)
	}
	b.conn, b.pc = conn, wirepb.NewPageServerClient(conn)
	return nil
}

// close stops the processes and closes the clients (idempotent).
func (b *bench) close() {
	if b.conn != nil {
		b.conn.Close()
		b.conn = nil
	}
	if b.logc != nil {
		b.logc.Close()
		b.logc = nil
	}
	if b.page != nil {
		b.page.stop(time.Minute)
	}
	if b.log != nil {
		b.log.stop(10 * time.Second)
	}
}

// load commits the table through the log service, CommitRows rows per
// commit from Loaders concurrent committers, and waits until the page server
// applied everything.
func (b *bench) load(ctx context.Context) (LoadResult, error) {
	cfg := b.cfg
	batches := (cfg.Rows + cfg.CommitRows - 1) / cfg.CommitRows
	b.progress("loading %d rows: %d commits of up to %d rows, %d committers", cfg.Rows, batches, cfg.CommitRows, cfg.Loaders)
	var (
		next     atomic.Int64
		mu       sync.Mutex
		maxIndex uint64
		maxTS    uint64
		keyBytes atomic.Int64
		firstErr error
		wg       sync.WaitGroup
		done     atomic.Int64
	)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for range cfg.Loaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				batch := next.Add(1) - 1
				if batch >= int64(batches) || lctx.Err() != nil {
					return
				}
				lo := batch * int64(cfg.CommitRows)
				hi := min(lo+int64(cfg.CommitRows), int64(cfg.Rows))
				muts := make([]*wirepb.Mutation, 0, hi-lo)
				var kb int64
				for id := lo; id < hi; id++ {
					k := b.key(id)
					kb += int64(len(k))
					muts = append(muts, &wirepb.Mutation{Key: k, Value: b.value(id)})
				}
				startTS, _, err := b.logc.GetTimestamp(lctx, 1)
				var ts, index uint64
				if err == nil {
					ts, index, err = b.logc.Commit(lctx, startTS, muts, nil)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("pagebench: load commit %d: %w", batch, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				keyBytes.Add(kb)
				mu.Lock()
				maxIndex, maxTS = max(maxIndex, index), max(maxTS, ts)
				mu.Unlock()
				if n := done.Add(1); n%200 == 0 {
					b.progress("  %d/%d commits, %.0f rows/s", n, batches, float64(n)*float64(cfg.CommitRows)/time.Since(start).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return LoadResult{}, firstErr
	}
	commitElapsed := time.Since(start)
	b.progress("committed in %s; waiting for the page server to apply index %d", commitElapsed.Round(time.Millisecond), maxIndex)
	if err := retry(ctx, 20*time.Millisecond, func(ctx context.Context) error {
		st, err := b.pc.Status(ctx, &wirepb.PageStatusRequest{})
		if err != nil {
			return err
		}
		if st.GetAppliedIndex() < maxIndex {
			return fmt.Errorf("applied %d of %d", st.GetAppliedIndex(), maxIndex)
		}
		return nil
	}); err != nil {
		return LoadResult{}, fmt.Errorf("pagebench: page server apply: %w", err)
	}
	b.readTS, b.minIndex = maxTS, maxIndex
	lr := LoadResult{Commits: batches, Elapsed: time.Since(start), CommitElapsed: commitElapsed,
		KeyBytes: keyBytes.Load(), ValueBytes: int64(cfg.Rows) * int64(cfg.ValueSize)}
	b.progress("loaded in %s (%.0f rows/s)", lr.Elapsed.Round(time.Millisecond), float64(cfg.Rows)/lr.Elapsed.Seconds())
	return lr, nil
}

// pointRead reads row id through a Scan of exactly its key and checks the
// value.
func (b *bench) pointRead(ctx context.Context, id int64) error {
	k := b.key(id)
	st, err := b.pc.Scan(ctx, &wirepb.ScanRequest{Start: k, End: keys.Next(k), ReadTs: b.readTS, MinIndex: b.minIndex, Limit: 1})
	if err != nil {
		return err
	}
	var got []byte
	rows := 0
	for {
		resp, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		rec, err := pageserver.DecodeScanResponse(resp.GetArrowIpc())
		if err != nil {
			return err
		}
		rows += int(rec.NumRows())
		if rec.NumRows() > 0 {
			if col, ok := rec.Column(1).(*array.Binary); ok {
				got = bytes.Clone(col.Value(0))
			}
		}
		rec.Release()
	}
	if rows != 1 || !bytes.Equal(got, b.value(id)) {
		return fmt.Errorf("pagebench: row %d: got %d rows, value %.20q", id, rows, got)
	}
	return nil
}

// pointReads runs clients closed-loop readers of random rows for d.
func pointReads(ctx context.Context, clients int, d time.Duration, rows int, read func(context.Context, int64) error) (Latency, error) {
	type worker struct {
		lat    []time.Duration
		errs   int
		first  error
		random *rand.Rand
	}
	ws := make([]*worker, clients)
	var wg sync.WaitGroup
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(d)
	for i := range ws {
		w := &worker{random: rand.New(rand.NewPCG(uint64(i), uint64(clients)))}
		ws[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && rctx.Err() == nil {
				id := w.random.Int64N(int64(rows))
				t0 := time.Now()
				if err := read(rctx, id); err != nil {
					w.errs++
					if w.first == nil {
						w.first = err
					}
					if w.errs > 100 {
						return
					}
					continue
				}
				w.lat = append(w.lat, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	l := Latency{Clients: clients, Elapsed: time.Since(start)}
	var all []time.Duration
	for _, w := range ws {
		all = append(all, w.lat...)
		l.Errors += w.errs
		if w.first != nil && l.FirstErr == "" {
			l.FirstErr = w.first.Error()
		}
	}
	if ctx.Err() != nil {
		return l, ctx.Err()
	}
	l.Ops = len(all)
	l.P50, l.P99 = percentile(all, 0.50), percentile(all, 0.99)
	return l, nil
}

// percentile answers the q-quantile of ds (sorting it).
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q * float64(len(ds)-1))
	return ds[i]
}

// scan reads the whole table in one Scan stream.
func (b *bench) scan(ctx context.Context) (ScanResult, error) {
	b.progress("full scan of %d rows", b.cfg.Rows)
	pid := b.page.pid()
	cpu0, cpuErr := cpuTime(pid)
	start := time.Now()
	st, err := b.pc.Scan(ctx, &wirepb.ScanRequest{Start: b.prefix, End: keys.PrefixEnd(b.prefix), ReadTs: b.readTS, MinIndex: b.minIndex})
	if err != nil {
		return ScanResult{}, fmt.Errorf("pagebench: scan: %w", err)
	}
	var r ScanResult
	for {
		resp, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ScanResult{}, fmt.Errorf("pagebench: scan: %w", err)
		}
		r.Bytes += int64(len(resp.GetArrowIpc()))
		rec, err := pageserver.DecodeScanResponse(resp.GetArrowIpc())
		if err != nil {
			return ScanResult{}, fmt.Errorf("pagebench: scan: %w", err)
		}
		r.Rows += rec.NumRows()
		rec.Release()
	}
	r.Elapsed = time.Since(start)
	if cpuErr == nil {
		var cpu1 time.Duration
		if cpu1, cpuErr = cpuTime(pid); cpuErr == nil {
			r.CPU = cpu1 - cpu0
		}
	}
	if cpuErr != nil {
		r.CPUErr = cpuErr.Error()
	}
	if r.Rows != int64(b.cfg.Rows) {
		return r, fmt.Errorf("pagebench: scan returned %d rows, want %d", r.Rows, b.cfg.Rows)
	}
	r.RowBytes = int64(b.cfg.Rows)*int64(b.cfg.ValueSize) + b.keyBytes()
	b.progress("scanned in %s", r.Elapsed.Round(time.Millisecond))
	return r, nil
}

// keyBytes answers the total key size of the table.
func (b *bench) keyBytes() int64 {
	var n int64
	// Keys of one encoded length are contiguous; sum by sampling ends.
	for id := int64(0); id < int64(b.cfg.Rows); {
		l := len(b.key(id))
		lo, hi := id, int64(b.cfg.Rows) // first id with a longer key in (lo, hi]
		for lo+1 < hi {
			mid := (lo + hi) / 2
			if len(b.key(mid)) == l {
				lo = mid
			} else {
				hi = mid
			}
		}
		n += int64(l) * (hi - id)
		id = hi
	}
	return n
}

// stopPage stops the page server (its final checkpoint uploads everything)
// and measures the object store.
func (b *bench) stopPage() (CheckpointResult, error) {
	b.progress("stopping the page server (final checkpoint to the object store)")
	start := time.Now()
	if !b.page.stop(5 * time.Minute) {
		return CheckpointResult{}, fmt.Errorf("pagebench: page server did not stop within 5m (log %s)", b.page.logPath)
	}
	r := CheckpointResult{Elapsed: time.Since(start)}
	err := filepath.WalkDir(filepath.Join(b.dir, "objects"), func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		r.Objects++
		r.Bytes += info.Size()
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("pagebench: measure the object store: %w", err)
	}
	return r, nil
}

// coldStart deletes the page server's disk, starts it with mode and times
// the first correct point read and the moment every file is local.
func (b *bench) coldStart(ctx context.Context, mode pageserver.RestoreMode) (ColdStart, error) {
	b.progress("cold start, %s restore", mode)
	pageDir := filepath.Join(b.dir, "page")
	if err := os.RemoveAll(pageDir); err != nil {
		return ColdStart{}, fmt.Errorf("pagebench: %w", err)
	}
	b.page.args = b.pageArgs(mode)
	if err := b.dialPage(); err != nil {
		return ColdStart{}, err
	}
	if err := b.page.start(); err != nil {
		return ColdStart{}, err
	}
	started := b.page.started
	cs := ColdStart{Mode: mode}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	id := int64(b.cfg.Rows / 2)
	if err := retry(wctx, 2*time.Millisecond, func(ctx context.Context) error {
		if b.page.exited() {
			return fmt.Errorf("page server exited (log %s)", b.page.logPath)
		}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return b.pointRead(rctx, id)
	}); err != nil {
		return cs, fmt.Errorf("pagebench: cold start (%s): %w", mode, err)
	}
	cs.FirstRead = time.Since(started)
	if err := retry(wctx, 5*time.Millisecond, func(context.Context) error {
		if _, err := os.Stat(filepath.Join(pageDir, "lazy-restore.json")); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("lazy restore unfinished (%v)", err)
		}
		return nil
	}); err != nil {
		return cs, fmt.Errorf("pagebench: cold start (%s): %w", mode, err)
	}
	cs.AllLocal = time.Since(started)
	if mode == pageserver.RestoreEager {
		cs.AllLocal = min(cs.AllLocal, cs.FirstRead)
	}
	// A few more reads: the restored server answers every row it is asked.
	for i := range 100 {
		if err := b.pointRead(wctx, int64(i)*int64(b.cfg.Rows)/100); err != nil {
			return cs, fmt.Errorf("pagebench: read after cold start (%s): %w", mode, err)
		}
	}
	if !b.page.stop(5 * time.Minute) {
		return cs, fmt.Errorf("pagebench: page server did not stop (log %s)", b.page.logPath)
	}
	b.progress("  first read after %s, every file local after %s", cs.FirstRead.Round(time.Millisecond), cs.AllLocal.Round(time.Millisecond))
	return cs, nil
}
