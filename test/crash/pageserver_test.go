// Package crash holds end-to-end crash tests: real phantom processes killed
// with SIGKILL at seeded random moments and checked against a reference
// model after every restart.
package crash

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
	"github.com/phantom-db/phantom/pageserver"
	"github.com/phantom-db/phantom/test/cluster"
)

// Environment knobs of the crash tests.
const (
	// envPoints overrides the number of kill points (default
	// defaultPoints). Larger values run longer; `make test` uses the default.
	envPoints = "PHANTOM_CRASH_POINTS"
	// envSeed overrides the seed (default 1); the seed is logged.
	envSeed = "PHANTOM_CRASH_SEED"
)

const (
	defaultPoints = 20
	// checkpointPause is the test hook's sleep after every uploaded file,
	// which stretches a checkpoint's upload so a kill lands inside it.
	checkpointPause = 15 * time.Millisecond
	// numKeys is the key space of the writer: small, so keys get many
	// versions and deletes.
	numKeys = 24
	// uploadStarted is the page server's log line at the start of a
	// checkpoint's upload.
	uploadStarted = "checkpoint upload started"
)

// commit is one committed log entry, as the reference model sees it.
type commit struct {
	index, ts uint64
	state     map[string]string // every live key after this commit
}

// TestPageServerCrashRecovery runs a real log service and a real page server
// (short checkpoint interval, a test hook stretching uploads) while a writer
// commits puts and deletes. At seeded random moments it SIGKILLs the page
// server, while it applies or right after a checkpoint upload started,
// checks that no manifest names a missing object, restarts it (sometimes
// with its local directory deleted, so it restores from the object store)
// and compares a Scan at every committed timestamp with a model built by
// replaying the log. Object GC runs every 170ms meanwhile, so kills also
// land inside GC runs.
func TestPageServerCrashRecovery(t *testing.T) {
	points := defaultPoints
	if v := os.Getenv(envPoints); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive integer", envPoints, v)
		}
		points = n
	}
	seed := uint64(1)
	if v := os.Getenv(envSeed); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", envSeed, v)
		}
		seed = n
	}
	t.Logf("crash test: %d kill points, seed %d (set %s / %s to change)", points, seed, envPoints, envSeed)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))

	root := t.TempDir()
	objects := filepath.Join(root, "objects")
	pageDir := filepath.Join(root, "pageserver")
	logGRPC, logHTTP := cluster.FreeAddr(t), cluster.FreeAddr(t)
	pageGRPC, pageHTTP := cluster.FreeAddr(t), cluster.FreeAddr(t)
	logsvc := cluster.Start(t, "logservice", "logservice", "--data-dir", filepath.Join(root, "log"),
		"--grpc-addr", logGRPC, "--raft-addr", cluster.FreeAddr(t), "--http-addr", logHTTP, "--log-level", "warn")
	cluster.WaitHTTP(t, "http://"+logHTTP+"/healthz", 60*time.Second, logsvc)

	// The child inherits the test's environment: this turns the hook on.
	t.Setenv(pageserver.TestCheckpointPauseEnv, checkpointPause.String())
	page := cluster.Start(t, "pageserver", "pageserver", "--data-dir", pageDir, "--grpc-addr", pageGRPC,
		"--http-addr", pageHTTP, "--logservice", logGRPC, "--object-store", objects,
		"--checkpoint-interval", "100ms", "--gc-interval", "170ms", "--log-level", "info")
	cluster.WaitHTTP(t, "http://"+pageHTTP+"/healthz", 60*time.Second, page)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lc, err := logclient.Dial(ctx, logGRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()

	w := &writer{lc: lc, rng: rand.New(rand.NewPCG(seed, 1))}
	wctx, stopWriter := context.WithCancel(ctx)
	var wwg sync.WaitGroup
	wwg.Add(1)
	go func() {
		defer wwg.Done()
		w.run(wctx)
	}()
	defer func() {
		stopWriter()
		wwg.Wait()
	}()

	ref := &reference{lc: lc, state: map[string]string{}}
	// The log service truncates what checkpoints hold, so the model follows
	// the log from the start, as it is written, rather than reading it later.
	go ref.follow(ctx)
	restores, interrupted, openUploads := 0, 0, 0
	for i := 0; i < points; i++ {
		// Let some commits land before every kill.
		w.waitCommits(t, w.count()+5)
		var mode string
		if rng.IntN(2) == 0 {
			mode = "apply"
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		} else {
			mode = "checkpoint upload"
			n := page.LogCount(uploadStarted)
			if !page.WaitLogCount(t, uploadStarted, n+1, 20*time.Second) {
				t.Fatalf("kill point %d: no checkpoint upload started within 20s", i)
			}
			time.Sleep(time.Duration(rng.IntN(int(4 * checkpointPause))))
		}
		page.Kill()
		// Every upload interrupted by a kill leaves a start without a
		// "written" line behind.
		if open := page.LogCount(uploadStarted) - page.LogCount("checkpoint written"); open > openUploads {
			interrupted, openUploads = interrupted+1, open
		}
		checkManifests(t, objects)
		wipe := rng.IntN(3) == 0
		if wipe {
			if err := os.RemoveAll(pageDir); err != nil {
				t.Fatal(err)
			}
			restores++
		}
		page.Restart()
		cluster.WaitHTTP(t, "http://"+pageHTTP+"/healthz", 60*time.Second, page)
		n := ref.verify(ctx, t, pageGRPC, w.lastIndex())
		t.Logf("kill point %d (%s, wiped %v): %d commits verified", i, mode, wipe, n)
	}
	stopWriter()
	wwg.Wait()

	// A clean stop checkpoints; a restore from that checkpoint alone (no
	// local disk) still answers every timestamp.
	page.Stop(30 * time.Second)
	checkManifests(t, objects)
	if err := os.RemoveAll(pageDir); err != nil {
		t.Fatal(err)
	}
	page.Restart()
	cluster.WaitHTTP(t, "http://"+pageHTTP+"/healthz", 60*time.Second, page)
	n := ref.verify(ctx, t, pageGRPC, w.lastIndex())
	t.Logf("final restore: %d commits verified; %d wiped restarts, %d kills inside a checkpoint upload, %d object GC runs that deleted, %d writer errors",
		n, restores, interrupted, page.LogCount("object garbage collected"), w.errors.Load())
	if w.count() < points*5 {
		t.Fatalf("writer committed only %d times", w.count())
	}
	page.Stop(30 * time.Second)
	logsvc.Stop(30 * time.Second)
}

// writer commits random puts and deletes through the log service client.
type writer struct {
	lc      *logclient.Client
	rng     *rand.Rand
	commits atomic.Int64
	last    atomic.Uint64 // highest index of a successful commit
	errors  atomic.Int64
}

func (w *writer) run(ctx context.Context) {
	for seq := 0; ctx.Err() == nil; seq++ {
		n := 1 + w.rng.IntN(4)
		used := map[int]bool{}
		var muts []*wirepb.Mutation
		for len(muts) < n {
			k := w.rng.IntN(numKeys)
			if used[k] {
				continue
			}
			used[k] = true
			m := &wirepb.Mutation{Key: fmt.Appendf(nil, "k%02d", k)}
			if w.rng.IntN(4) == 0 {
				m.Delete = true
			} else {
				m.Value = fmt.Appendf(nil, "v%d-%d", seq, k)
			}
			muts = append(muts, m)
		}
		start, _, err := w.lc.GetTimestamp(ctx, 1)
		if err == nil {
			var idx uint64
			_, idx, err = w.lc.Commit(ctx, start, muts, nil)
			if err == nil {
				w.last.Store(max(w.last.Load(), idx))
				w.commits.Add(1)
			}
		}
		if err != nil && ctx.Err() == nil {
			w.errors.Add(1)
		}
		time.Sleep(3 * time.Millisecond)
	}
}

func (w *writer) count() int        { return int(w.commits.Load()) }
func (w *writer) lastIndex() uint64 { return w.last.Load() }
func (w *writer) waitCommits(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for w.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("writer stuck at %d commits (want %d), %d errors", w.count(), n, w.errors.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reference is the model: the log replayed into per-commit states, as the
// log is written.
type reference struct {
	lc *logclient.Client

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every new commit
	commits []commit
	state   map[string]string
	next    uint64 // next log index to read
	err     error  // why following stopped
}

// follow reads the log from its first entry until ctx ends.
func (r *reference) follow(ctx context.Context) {
	err := r.lc.ReadLog(ctx, 1, func(e *wirepb.LogEntry) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, m := range e.GetMutations() {
			if m.GetDelete() {
				delete(r.state, string(m.GetKey()))
			} else {
				r.state[string(m.GetKey())] = string(m.GetValue())
			}
		}
		snap := make(map[string]string, len(r.state))
		for k, v := range r.state {
			snap[k] = v
		}
		r.commits = append(r.commits, commit{index: e.GetIndex(), ts: e.GetCommitTs(), state: snap})
		r.next = e.GetIndex() + 1
		r.signalLocked()
		return nil
	})
	r.mu.Lock()
	r.err = err
	r.signalLocked()
	r.mu.Unlock()
}

func (r *reference) signalLocked() {
	if r.changed != nil {
		close(r.changed)
	}
	r.changed = make(chan struct{})
}

// catchUp waits until the model holds the log up to index upTo.
func (r *reference) catchUp(ctx context.Context, t *testing.T, upTo uint64) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		next, err, changed := r.next, r.err, r.changed
		r.mu.Unlock()
		switch {
		case next > upTo:
			return
		case err != nil:
			t.Fatalf("following the log stopped before index %d: %v", upTo, err)
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the log did not reach index %d within 30s (model at %d)", upTo, next)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

// verify scans the page server at every committed timestamp up to upTo and
// compares with the model. It returns how many commits it checked.
func (r *reference) verify(ctx context.Context, t *testing.T, addr string, upTo uint64) int {
	t.Helper()
	r.catchUp(ctx, t, upTo)
	r.mu.Lock()
	commits := append([]commit(nil), r.commits...)
	r.mu.Unlock()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := wirepb.NewPageServerClient(conn)
	const workers = 4
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	jobs := make(chan commit)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				if err := checkCommit(ctx, client, c); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, c := range commits {
		jobs <- c
	}
	close(jobs)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d timestamps read wrong; first: %v", len(errs), len(commits), errs[0])
	}
	return len(commits)
}

// checkCommit scans everything at c.ts (waiting for c.index) and compares
// with c.state.
func checkCommit(ctx context.Context, client wirepb.PageServerClient, c commit) error {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stream, err := client.Scan(sctx, &wirepb.ScanRequest{ReadTs: c.ts, MinIndex: c.index})
	if err != nil {
		return fmt.Errorf("scan at ts %d index %d: %w", c.ts, c.index, err)
	}
	var got [][2]string
	for {
		resp, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("scan at ts %d index %d: %w", c.ts, c.index, err)
		}
		rec, err := pageserver.DecodeScanResponse(resp.GetArrowIpc())
		if err != nil {
			return err
		}
		keys, vals := rec.Column(0).(*array.Binary), rec.Column(1).(*array.Binary)
		for i := 0; i < int(rec.NumRows()); i++ {
			got = append(got, [2]string{string(keys.Value(i)), string(vals.Value(i))})
		}
		rec.Release()
	}
	want := make([][2]string, 0, len(c.state))
	for k, v := range c.state {
		want = append(want, [2]string{k, v})
	}
	sort.Slice(want, func(i, j int) bool { return want[i][0] < want[j][0] })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("scan at ts %d index %d:\n got %v\nwant %v", c.ts, c.index, got, want)
	}
	return nil
}

// checkManifests fails the test when a manifest in the local object store
// at dir names an object that is missing or has another size.
func checkManifests(t *testing.T, dir string) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "shards", "0", "manifests", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Files []struct {
				Key  string `json:"key"`
				Size int64  `json:"size"`
			} `json:"files"`
		}
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&m); err != nil {
			t.Fatalf("manifest %s: %v", p, err)
		}
		for _, f := range m.Files {
			info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Key)))
			if err != nil {
				t.Fatalf("manifest %s names %s: %v", p, f.Key, err)
			}
			if info.Size() != f.Size {
				t.Fatalf("manifest %s names %s with %d bytes; the object has %d", p, f.Key, f.Size, info.Size())
			}
		}
	}
}
