package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
	"github.com/phantom-db/phantom/test/cluster"
)

const (
	registerClients = 8
	registerKeys    = 5
	opTimeout       = 3 * time.Second
)

// regInput is one register operation: a write of Value to Key, or a read of
// Key (whose output is the value read, "" for none).
type regInput struct {
	Key   string
	Write bool
	Value string
}

// registerModel is a map of independent registers, partitioned by key so
// porcupine checks each register on its own.
var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var order []string
		for _, op := range h {
			k := op.Input.(regInput).Key
			if _, ok := byKey[k]; !ok {
				order = append(order, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, k := range order {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.Write {
			return true, in.Value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.Write {
			return fmt.Sprintf("put(%s, %q)", in.Key, in.Value)
		}
		return fmt.Sprintf("get(%s) -> %q", in.Key, output)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%q", state) },
}

// history records operations concurrently. Times are nanoseconds since
// start on the monotonic clock.
type history struct {
	start   time.Time
	clients atomic.Int64 // next porcupine client id

	mu      sync.Mutex
	ops     []porcupine.Operation
	unknown []int // indexes into ops whose outcome is unknown
	acked   []Commit
	failed  []Commit
	stats   map[string]int
	perSec  []int // successful operations per second since start
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) count(what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stats[what]++
	if strings.HasSuffix(what, " ok") {
		h.perSec = tick(h.perSec, h.start)
	}
}

// tick counts one success in the current second of perSec.
func tick(perSec []int, start time.Time) []int {
	sec := int(time.Since(start) / time.Second)
	for len(perSec) <= sec {
		perSec = append(perSec, 0)
	}
	perSec[sec]++
	return perSec
}

func (h *history) add(op porcupine.Operation, unknown bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if unknown {
		h.unknown = append(h.unknown, len(h.ops))
	}
	h.ops = append(h.ops, op)
}

// finish gives every operation of unknown outcome a return time after
// every other event: it may have taken effect at any point after its call.
func (h *history) finish() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	end := h.now() + 1
	for _, i := range h.unknown {
		h.ops[i].Return = end
	}
	return h.ops
}

func TestRegisterLinearizable(t *testing.T) {
	for _, seed := range runSeeds(t, 5) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runRegister(t, seed) })
	}
}

func runRegister(t *testing.T, seed uint64) {
	c := cluster.StartLogCluster(t, cluster.LogClusterConfig{Proxies: true, PageServer: true})
	kv := NewKV(c.Client(logclient.WithBackoff(20*time.Millisecond, 200*time.Millisecond)), c.PageClient(PageDialOptions()...))
	ctx := context.Background()
	h := &history{start: time.Now(), stats: map[string]int{}}
	h.clients.Store(registerClients)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range registerClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			registerClient(ctx, kv, h, seed, w, stop)
		}()
	}
	nem := NewNemesis(c, NemesisConfig{Seed: seed, Faults: faults(t), Logf: t.Logf})
	nem.Run(ctx, faultTime(t))
	sleep(ctx, time.Second) // a healthy tail: the group must serve again
	close(stop)
	wg.Wait()
	ops := h.finish()
	t.Logf("seed %d: %d operations, faults %v, outcomes %v, successes per second %v", seed, len(ops), nem.Injected, h.stats, h.perSec)
	if os.Getenv("PHANTOM_CHAOS_LOGS") != "" {
		c.DumpLogs()
	}
	if h.stats["write ok"] == 0 || h.stats["read ok"] == 0 {
		t.Fatalf("the workload made no progress: %v", h.stats)
	}

	res, info := porcupine.CheckOperationsVerbose(registerModel, ops, time.Minute)
	if res != porcupine.Ok {
		dir, err := os.MkdirTemp("", "phantom-chaos-")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("register-seed-%d.html", seed))
		if err := porcupine.VisualizePath(registerModel, info, path); err != nil {
			t.Errorf("visualize: %v", err)
		}
		t.Fatalf("history is not linearizable (porcupine: %s); visualization: %s", res, path)
	}

	through, err := Settle(ctx, kv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CheckLogs(ctx, c, through, h.acked, h.failed); err != nil {
		t.Fatal(err)
	}
}

// registerClient runs register operations until stop closes. After an
// operation of unknown outcome it continues as a new porcupine client, since
// that operation stays open until the end of the history.
func registerClient(ctx context.Context, kv *KV, h *history, seed uint64, w int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(seed, uint64(w)))
	cid := w
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		key := fmt.Sprintf("reg/%d", rng.IntN(registerKeys))
		var ok bool
		if rng.IntN(2) == 0 {
			var unknown bool
			ok, unknown = registerWrite(ctx, kv, h, cid, key, fmt.Sprintf("c%d-%d", w, i))
			if unknown {
				cid = int(h.clients.Add(1) - 1)
			}
		} else {
			ok = registerRead(ctx, kv, h, cid, key)
		}
		if !ok {
			sleep(ctx, 20*time.Millisecond)
		}
	}
}

// registerWrite writes value to key with a blind single-key transaction.
// An ABORTED conflict did not happen (it is dropped from the history and
// remembered as must-not-be-in-the-log); any other error may or may not
// have happened.
func registerWrite(ctx context.Context, kv *KV, h *history, cid int, key, value string) (ok, unknown bool) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	call := h.now()
	snap, err := kv.Snapshot(ctx)
	if err != nil {
		h.count("write no timestamp") // nothing was sent: no effect
		return false, false
	}
	muts := []*wirepb.Mutation{{Key: []byte(key), Value: []byte(value)}}
	cts, idx, err := kv.Commit(ctx, snap.TS, muts)
	ret := h.now()
	op := porcupine.Operation{ClientId: cid, Input: regInput{Key: key, Write: true, Value: value}, Call: call, Return: ret}
	switch {
	case err == nil:
		h.add(op, false)
		h.mu.Lock()
		h.acked = append(h.acked, Commit{Index: idx, CommitTS: cts, Muts: muts})
		h.mu.Unlock()
		h.count("write ok")
		return true, false
	case errors.Is(err, logclient.ErrConflict):
		h.mu.Lock()
		h.failed = append(h.failed, Commit{Muts: muts})
		h.mu.Unlock()
		h.count("write conflict")
		return false, false
	default:
		h.add(op, true)
		h.count("write unknown")
		return false, true
	}
}

// registerRead reads key at a fresh timestamp through the page server.
// Failed reads have no effect and are dropped.
func registerRead(ctx context.Context, kv *KV, h *history, cid int, key string) bool {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	call := h.now()
	snap, err := kv.Snapshot(ctx)
	if err != nil {
		h.count("read no timestamp")
		return false
	}
	v, _, err := kv.Get(ctx, snap, []byte(key))
	ret := h.now()
	if err != nil {
		h.count("read failed")
		return false
	}
	h.add(porcupine.Operation{ClientId: cid, Input: regInput{Key: key}, Output: string(v), Call: call, Return: ret}, false)
	h.count("read ok")
	return true
}
