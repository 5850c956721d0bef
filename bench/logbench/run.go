package logbench

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Level is what one concurrency level measured on one system.
type Level struct {
	// Clients is the number of concurrent closed-loop clients.
	Clients int
	// Ops is the number of acknowledged writes.
	Ops int
	// Errors is the number of writes that failed (none expected).
	Errors int
	// Elapsed is the wall time from the first write to the last answer.
	Elapsed time.Duration
	// P50 and P99 are percentiles of the latency of acknowledged writes
	// (for phantom: GetTimestamp + Commit).
	P50, P99 time.Duration
}

// PerSecond is the number of acknowledged writes per second.
func (l Level) PerSecond() float64 {
	if l.Elapsed <= 0 {
		return 0
	}
	return float64(l.Ops) / l.Elapsed.Seconds()
}

// Failover is what the leader-kill loop measured on one system: per kill,
// the time from SIGKILL of the leader to the first acknowledged write.
type Failover struct {
	// Samples are the failover times, in kill order.
	Samples []time.Duration
	// P50 and P99 are percentiles of Samples.
	P50, P99 time.Duration
}

// SystemResult is everything measured on one system.
type SystemResult struct {
	// Name is "phantom" or "etcd".
	Name string
	// Levels are in Config.Clients order.
	Levels []Level
	// Failover is nil when not measured.
	Failover *Failover
}

// Result is the outcome of a run.
type Result struct {
	// Config is the configuration the run used, defaults filled in.
	Config Config
	// Phantom is the log service group's result.
	Phantom SystemResult
	// Etcd is nil when etcd was not measured; EtcdSkipped says why.
	Etcd *SystemResult
	// EtcdSkipped is why etcd was not measured ("" when it was).
	EtcdSkipped string
}

// Run starts each system in turn, measures it, and stops it.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(cfg.WorkDir, "logbench-")
	if err != nil {
		return nil, fmt.Errorf("logbench: temp dir: %w", err)
	}
	if cfg.KeepData {
		fmt.Fprintf(cfg.Progress, "data and process logs kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	res := &Result{Config: cfg}

	pg, err := startPhantom(ctx, &cfg, filepath.Join(dir, "phantom"))
	if err != nil {
		return nil, err
	}
	res.Phantom, err = measure(ctx, &cfg, pg)
	pg.close()
	if err != nil {
		return nil, err
	}

	switch {
	case cfg.SkipEtcd:
		res.EtcdSkipped = "skipped (--skip-etcd)"
	case !exists(cfg.EtcdBin):
		res.EtcdSkipped = fmt.Sprintf("%s not found; install it with `make bench-deps` (apt-get install -y etcd-server)", cfg.EtcdBin)
	default:
		eg, err := startEtcd(ctx, &cfg, filepath.Join(dir, "etcd"))
		if err != nil {
			return nil, err
		}
		er, err := measure(ctx, &cfg, eg)
		eg.close()
		if err != nil {
			return nil, err
		}
		res.Etcd = &er
	}
	return res, nil
}

// measure waits for s to be healthy, then runs every level and the
// failover loop.
func measure(ctx context.Context, cfg *Config, s system) (SystemResult, error) {
	r := SystemResult{Name: s.name()}
	if err := waitHealthy(ctx, cfg, s); err != nil {
		return r, err
	}
	payload := make([]byte, cfg.Payload)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	for _, n := range cfg.Clients {
		l := runLevel(ctx, cfg, s, n, payload)
		fmt.Fprintf(cfg.Progress, "%s: %d clients: %.0f writes/s, p50 %s, p99 %s, %d errors\n",
			s.name(), n, l.PerSecond(), fmtDur(l.P50), fmtDur(l.P99), l.Errors)
		r.Levels = append(r.Levels, l)
		if err := ctx.Err(); err != nil {
			return r, err
		}
	}
	if cfg.Kills > 0 && !cfg.NoFailover {
		f, err := failover(ctx, cfg, s, payload)
		if err != nil {
			return r, err
		}
		r.Failover = f
	}
	return r, nil
}

func waitHealthy(ctx context.Context, cfg *Config, s system) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	err := retry(ctx, 50*time.Millisecond, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
		defer cancel()
		return s.healthy(ctx)
	})
	if err != nil {
		return fmt.Errorf("logbench: %s group not healthy: %w", s.name(), err)
	}
	return nil
}

// runLevel runs n closed-loop clients for cfg.Duration. Client i rewrites
// its own key, so clients never conflict.
func runLevel(ctx context.Context, cfg *Config, s system, n int, payload []byte) Level {
	lats := make([][]time.Duration, n)
	errs := make([]int, n)
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("bench/n%d/c%03d", n, i)
			for ctx.Err() == nil {
				t := time.Now()
				if !t.Before(deadline) {
					return
				}
				octx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
				err := s.write(octx, key, payload)
				cancel()
				if err != nil {
					errs[i]++
					continue
				}
				lats[i] = append(lats[i], time.Since(t))
			}
		})
	}
	wg.Wait()
	l := Level{Clients: n, Elapsed: time.Since(start)}
	all := slices.Concat(lats...)
	slices.Sort(all)
	l.Ops = len(all)
	for _, e := range errs {
		l.Errors += e
	}
	l.P50, l.P99 = percentile(all, 50), percentile(all, 99)
	return l
}

// failover kills the leader cfg.Kills times. Each time it waits for the
// group to be healthy, SIGKILLs the leader, writes until one write is
// acknowledged, and restarts the killed member on its data dir.
func failover(ctx context.Context, cfg *Config, s system, payload []byte) (*Failover, error) {
	f := &Failover{}
	for k := range cfg.Kills {
		if err := waitHealthy(ctx, cfg, s); err != nil {
			return nil, fmt.Errorf("before kill %d: %w", k+1, err)
		}
		li, err := s.leader(ctx)
		if err != nil {
			return nil, fmt.Errorf("logbench: %s kill %d: %w", s.name(), k+1, err)
		}
		p := s.member(li)
		t0 := time.Now()
		p.kill()
		d, err := firstAck(ctx, cfg, s, t0, payload)
		if err != nil {
			return nil, fmt.Errorf("logbench: %s kill %d: %w", s.name(), k+1, err)
		}
		fmt.Fprintf(cfg.Progress, "%s: kill %d/%d of %s: first acknowledged write after %s\n", s.name(), k+1, cfg.Kills, p.name, fmtDur(d))
		f.Samples = append(f.Samples, d)
		if err := p.start(); err != nil {
			return nil, err
		}
	}
	if err := waitHealthy(ctx, cfg, s); err != nil {
		return nil, fmt.Errorf("after the last kill: %w", err)
	}
	sorted := slices.Sorted(slices.Values(f.Samples))
	f.P50, f.P99 = percentile(sorted, 50), percentile(sorted, 99)
	return f, nil
}

// probeInterval is how often firstAck starts a new write: the resolution
// of a failover sample.
const probeInterval = 20 * time.Millisecond

// firstAck starts a write every probeInterval (each bounded only by
// cfg.FailoverTimeout, so a write that waits out the election is not cut
// short) until one is acknowledged, and answers the time from t0 to that
// acknowledgement. Probing with overlapping writes measures the system,
// not a client-side attempt timeout.
func firstAck(ctx context.Context, cfg *Config, s system, t0 time.Time, payload []byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.FailoverTimeout)
	defer cancel()
	acked := make(chan time.Duration, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for n := 0; ; n++ {
		key := fmt.Sprintf("bench/failover/%d", n) // distinct: probes never conflict
		wg.Go(func() {
			if s.write(ctx, key, payload) == nil {
				select {
				case acked <- time.Since(t0):
				default:
				}
			}
		})
		select {
		case d := <-acked:
			return d, nil
		case <-ctx.Done():
			return 0, fmt.Errorf("no write acknowledged within %s: %w", cfg.FailoverTimeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// percentile is the nearest-rank p-th percentile of sorted (0 when empty).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}
