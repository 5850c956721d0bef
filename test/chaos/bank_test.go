package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
	"github.com/phantom-db/phantom/test/cluster"
)

const (
	bankAccounts  = 100
	bankInitial   = 100 // balance of every account at the start
	bankTotal     = bankAccounts * bankInitial
	bankTransfers = 6 // concurrent transfer clients
	bankAuditors  = 2 // concurrent clients reading every balance
)

var bankStart, bankEnd = []byte("bank/"), []byte("bank0") // '0' follows '/'

func account(i int) []byte { return fmt.Appendf(nil, "bank/%03d", i) }

// bank is the shared state of one bank run.
type bank struct {
	kv *KV
	// txns numbers the transfers: each writes a marker key of its own, so
	// no two transfers have the same write set (two clients moving the same
	// amount between the same accounts from the same snapshot would
	// otherwise write identical balances, and the check that an aborted
	// write set is absent from the log would mistake one for the other).
	txns atomic.Uint64

	mu         sync.Mutex
	acked      []Commit
	failed     []Commit
	violations []string
	stats      map[string]int
	start      time.Time
	perSec     []int    // successful transfers and audits per second since start
	readErrs   []string // the first few read errors, for the log
}

func (b *bank) count(what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats[what]++
	if what == "audit ok" {
		b.perSec = tick(b.perSec, b.start)
	}
}

// audit reads every balance at one snapshot and checks the invariant: all
// accounts exist, none is negative, and they add up to bankTotal.
func (b *bank) audit(ctx context.Context) (ok bool, violation string, err error) {
	snap, err := b.kv.Snapshot(ctx)
	if err != nil {
		return false, "", err
	}
	rows, err := b.kv.Scan(ctx, snap, bankStart, bankEnd)
	if err != nil {
		return false, "", err
	}
	return checkBalances(rows, fmt.Sprintf("snapshot ts %d (min index %d)", snap.TS, snap.MinIndex))
}

func checkBalances(rows map[string][]byte, where string) (bool, string, error) {
	if len(rows) != bankAccounts {
		return false, fmt.Sprintf("%s: %d accounts, want %d", where, len(rows), bankAccounts), nil
	}
	sum := 0
	for k, v := range rows {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 0 {
			return false, fmt.Sprintf("%s: account %s holds %q", where, k, v), nil
		}
		sum += n
	}
	if sum != bankTotal {
		return false, fmt.Sprintf("%s: balances add up to %d, want %d", where, sum, bankTotal), nil
	}
	return true, "", nil
}

func TestBankInvariant(t *testing.T) {
	for _, seed := range runSeeds(t, 3) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runBank(t, seed) })
	}
}

func runBank(t *testing.T, seed uint64) {
	c := cluster.StartLogCluster(t, cluster.LogClusterConfig{Proxies: true, PageServer: true})
	b := &bank{
		kv:    NewKV(c.Client(logclient.WithBackoff(20*time.Millisecond, 200*time.Millisecond)), c.PageClient(PageDialOptions()...)),
		stats: map[string]int{},
		start: time.Now(),
	}
	ctx := context.Background()
	b.open(t, ctx)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range bankTransfers + bankAuditors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w < bankTransfers {
				b.transferClient(ctx, rand.New(rand.NewPCG(seed, uint64(w))), stop)
			} else {
				b.auditClient(ctx, stop)
			}
		}()
	}
	nem := NewNemesis(c, NemesisConfig{Seed: seed, Faults: faults(t), Logf: t.Logf})
	nem.Run(ctx, faultTime(t))
	sleep(ctx, time.Second)
	close(stop)
	wg.Wait()
	t.Logf("seed %d: faults %v, outcomes %v, successes per second %v", seed, nem.Injected, b.stats, b.perSec)
	for _, e := range b.readErrs {
		t.Logf("read error: %s", e)
	}
	for _, v := range b.violations {
		t.Errorf("invariant broken: %s", v)
	}
	if b.stats["transfer ok"] == 0 || b.stats["audit ok"] == 0 {
		t.Fatalf("the workload made no progress: %v", b.stats)
	}

	// At the end: the page server's view and every replica's log agree on
	// the invariant, and the log holds every acknowledged transfer.
	final := func() (bool, string, error) {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		return b.audit(ctx)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, violation, err := final()
		if err == nil && !ok {
			t.Fatalf("final audit: %s", violation)
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("final audit: %v", err)
		}
		sleep(ctx, 100*time.Millisecond)
	}
	through, err := Settle(ctx, b.kv)
	if err != nil {
		t.Fatal(err)
	}
	log, err := CheckLogs(ctx, c, through, b.acked, b.failed)
	if err != nil {
		t.Fatal(err)
	}
	state := map[string][]byte{}
	for _, e := range log {
		for _, m := range e.GetMutations() {
			if string(m.GetKey()) >= string(bankStart) && string(m.GetKey()) < string(bankEnd) {
				state[string(m.GetKey())] = m.GetValue()
			}
		}
	}
	if ok, violation, _ := checkBalances(state, "log replay"); !ok {
		t.Fatal(violation)
	}
}

// open creates every account with bankInitial in one transaction.
func (b *bank) open(t *testing.T, ctx context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	snap, err := b.kv.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	muts := make([]*wirepb.Mutation, bankAccounts)
	for i := range muts {
		muts[i] = &wirepb.Mutation{Key: account(i), Value: []byte(strconv.Itoa(bankInitial))}
	}
	cts, idx, err := b.kv.Commit(ctx, snap.TS, muts)
	if err != nil {
		t.Fatalf("open accounts: %v", err)
	}
	b.acked = append(b.acked, Commit{Index: idx, CommitTS: cts, Muts: muts})
}

// transferClient moves money between two random accounts until stop
// closes: it reads both balances at a snapshot and writes both with that
// snapshot as start_ts, so a concurrent transfer touching either account
// makes one of them abort.
func (b *bank) transferClient(ctx context.Context, rng *rand.Rand, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		from := rng.IntN(bankAccounts)
		to := (from + 1 + rng.IntN(bankAccounts-1)) % bankAccounts
		amount := 1 + rng.IntN(20)
		if !b.transfer(ctx, from, to, amount) {
			sleep(ctx, 20*time.Millisecond)
		}
	}
}

func (b *bank) transfer(ctx context.Context, from, to, amount int) bool {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	snap, err := b.kv.Snapshot(ctx)
	if err != nil {
		b.count("transfer no timestamp")
		return false
	}
	balance := func(i int) (int, error) {
		v, found, err := b.kv.Get(ctx, snap, account(i))
		if err != nil {
			return 0, err
		}
		if !found {
			return 0, fmt.Errorf("%w: account %d missing at ts %d", errBadAccount, i, snap.TS)
		}
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: account %d holds %q at ts %d", errBadAccount, i, v, snap.TS)
		}
		return n, nil
	}
	fb, err := balance(from)
	if err != nil {
		b.readFailed(err)
		return false
	}
	tb, err := balance(to)
	if err != nil {
		b.readFailed(err)
		return false
	}
	amount = min(amount, fb)
	if amount == 0 {
		b.count("transfer empty account")
		return true
	}
	muts := []*wirepb.Mutation{
		{Key: account(from), Value: []byte(strconv.Itoa(fb - amount))},
		{Key: account(to), Value: []byte(strconv.Itoa(tb + amount))},
		// Outside [bankStart, bankEnd): audits and the final state ignore it.
		{Key: fmt.Appendf(nil, "banktx/%d", b.txns.Add(1))},
	}
	cts, idx, err := b.kv.Commit(ctx, snap.TS, muts)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case err == nil:
		b.acked = append(b.acked, Commit{Index: idx, CommitTS: cts, Muts: muts})
		b.stats["transfer ok"]++
		b.perSec = tick(b.perSec, b.start)
		return true
	case errors.Is(err, logclient.ErrConflict):
		b.stats["transfer conflict"]++ // aborted: the next iteration retries
		b.failed = append(b.failed, Commit{Muts: muts})
		return false
	default:
		b.stats["transfer unknown"]++
		return false
	}
}

// errBadAccount marks a read that broke the invariant (a missing or
// malformed balance).
var errBadAccount = errors.New("bad account")

// readFailed counts a failed read; a bad account is an invariant
// violation, anything else is unavailability.
func (b *bank) readFailed(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if errors.Is(err, errBadAccount) {
		b.violations = append(b.violations, fmt.Sprintf("transfer read: %v", err))
		return
	}
	b.stats["read failed"]++
	if len(b.readErrs) < 5 && !slices.Contains(b.readErrs, err.Error()) {
		b.readErrs = append(b.readErrs, err.Error())
	}
}

// auditClient checks the invariant at fresh snapshots until stop closes.
func (b *bank) auditClient(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		actx, cancel := context.WithTimeout(ctx, opTimeout)
		ok, violation, err := b.audit(actx)
		cancel()
		switch {
		case err != nil:
			b.count("audit failed")
			sleep(ctx, 20*time.Millisecond)
		case !ok:
			b.mu.Lock()
			b.violations = append(b.violations, violation)
			b.mu.Unlock()
		default:
			b.count("audit ok")
		}
	}
}
