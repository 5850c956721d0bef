package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/phantom-db/phantom/test/cluster"
)

// Fault is one kind of fault the Nemesis injects.
type Fault string

// The faults. Each is injected, held, and undone before the next one.
const (
	// FaultKillLeader kills the leader with SIGKILL and restarts it on the
	// same data directory after a pause.
	FaultKillLeader Fault = "kill-leader"
	// FaultPauseFollower stops a follower with SIGSTOP for longer than the
	// election timeout, then continues it with SIGCONT.
	FaultPauseFollower Fault = "pause-follower"
	// FaultPauseLeader stops the leader with SIGSTOP for longer than the
	// election timeout (the others elect a new leader; the old one wakes up
	// believing it still leads), then continues it.
	FaultPauseLeader Fault = "pause-leader"
	// FaultPartition blackholes the Raft traffic to a random replica
	// through its proxy, then heals it.
	FaultPartition Fault = "partition"
	// FaultDelay adds latency to the Raft traffic to a random replica.
	FaultDelay Fault = "delay"
	// FaultResetConns closes every Raft connection of every proxy at once.
	FaultResetConns Fault = "reset-conns"
	// FaultKillPageServer kills the page server with SIGKILL and restarts it
	// on its local data (it catches up from the log).
	FaultKillPageServer Fault = "kill-pageserver"
)

// AllFaults lists every fault.
var AllFaults = []Fault{FaultKillLeader, FaultPauseFollower, FaultPauseLeader, FaultPartition, FaultDelay,
	FaultResetConns, FaultKillPageServer}

// NemesisConfig configures a Nemesis.
type NemesisConfig struct {
	// Seed makes the schedule (fault kinds, targets among followers, hold
	// times, gaps) reproducible. Which replica leads is up to Raft.
	Seed uint64
	// Faults to choose from. Default AllFaults.
	Faults []Fault
	// Required faults are injected first in every run, in a seeded order,
	// even when that takes longer than the run's duration; the rest of the
	// run draws from Faults. Default: those of kill-leader, pause-follower
	// and partition that are in Faults, so every seeded run sees a leader
	// SIGKILL, a follower SIGSTOP longer than the election timeout and a
	// partition.
	Required []Fault
	// MinGap and MaxGap bound the healthy time between faults. Defaults
	// 200ms and 800ms.
	MinGap, MaxGap time.Duration
	// PauseHold is how long a replica stays paused or partitioned, at
	// least; up to 1s more is added at random. Default 2.5s (well over the
	// log service's 500ms heartbeat plus 500ms election timeout).
	PauseHold time.Duration
	// Logf receives one line per fault event. Default: none.
	Logf func(format string, args ...any)
}

// EnsureDefaults fills unset fields with their defaults.
func (c *NemesisConfig) EnsureDefaults() {
	if len(c.Faults) == 0 {
		c.Faults = AllFaults
	}
	if c.Required == nil {
		for _, f := range []Fault{FaultKillLeader, FaultPauseFollower, FaultPartition} {
			if slices.Contains(c.Faults, f) {
				c.Required = append(c.Required, f)
			}
		}
	}
	if c.MinGap == 0 {
		c.MinGap = 200 * time.Millisecond
	}
	if c.MaxGap < c.MinGap {
		c.MaxGap = max(800*time.Millisecond, c.MinGap)
	}
	if c.PauseHold == 0 {
		c.PauseHold = 2500 * time.Millisecond
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Nemesis injects faults into a LogCluster on a seeded schedule. Its
// methods call the cluster's helpers, which fail the test on error, so they
// must run on the test goroutine.
type Nemesis struct {
	c     *cluster.LogCluster
	cfg   NemesisConfig
	rng   *rand.Rand
	start time.Time
	// Injected counts the faults injected per kind.
	Injected map[Fault]int
}

// NewNemesis returns a Nemesis for c.
func NewNemesis(c *cluster.LogCluster, cfg NemesisConfig) *Nemesis {
	cfg.EnsureDefaults()
	return &Nemesis{
		c: c, cfg: cfg,
		rng:      rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
		start:    time.Now(),
		Injected: map[Fault]int{},
	}
}

func (n *Nemesis) logf(format string, args ...any) {
	n.cfg.Logf("nemesis %6.2fs: %s", time.Since(n.start).Seconds(), fmt.Sprintf(format, args...))
}

func (n *Nemesis) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(n.rng.Int64N(int64(hi-lo)))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Run injects faults one at a time for about d (a fault started before the
// end is still held and undone), then heals everything: every replica runs,
// unpaused, with healthy proxies.
func (n *Nemesis) Run(ctx context.Context, d time.Duration) {
	end := time.Now().Add(d)
	defer func() {
		n.c.HealAll()
		n.logf("healed all")
	}()
	required := slices.Clone(n.cfg.Required)
	n.rng.Shuffle(len(required), func(i, j int) { required[i], required[j] = required[j], required[i] })
	for ctx.Err() == nil {
		sleep(ctx, n.between(n.cfg.MinGap, n.cfg.MaxGap))
		if ctx.Err() != nil || (len(required) == 0 && time.Now().After(end)) {
			return
		}
		f := n.cfg.Faults[n.rng.IntN(len(n.cfg.Faults))]
		if len(required) > 0 {
			f, required = required[0], required[1:]
		}
		n.inject(ctx, f)
	}
}

// leader finds the leader, or -1 when none shows up within 5s.
func (n *Nemesis) leader(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l, err := n.c.Leader(ctx)
	if err != nil {
		n.logf("no leader: %v", err)
		return -1
	}
	return l
}

func (n *Nemesis) inject(ctx context.Context, f Fault) {
	// Draw every random number up front so the schedule does not depend on
	// which branch ran.
	target := n.rng.IntN(len(n.c.Nodes))
	pick := n.rng.IntN(len(n.c.Nodes) - 1)
	hold := n.between(n.cfg.PauseHold, n.cfg.PauseHold+time.Second)
	down := n.between(300*time.Millisecond, 1500*time.Millisecond)
	delay := n.between(20*time.Millisecond, 100*time.Millisecond)
	switch f {
	case FaultKillLeader:
		l := n.leader(ctx)
		if l < 0 {
			return
		}
		n.logf("kill -9 %s (leader)", n.c.Nodes[l].ID)
		n.c.Kill(l)
		sleep(ctx, down)
		n.c.Restart(l)
		n.logf("restarted %s", n.c.Nodes[l].ID)
	case FaultPauseFollower, FaultPauseLeader:
		l := n.leader(ctx)
		if l < 0 {
			return
		}
		i := l
		if f == FaultPauseFollower {
			i = (l + 1 + pick) % len(n.c.Nodes)
		}
		n.logf("SIGSTOP %s (%s) for %s", n.c.Nodes[i].ID, f, hold.Round(time.Millisecond))
		n.c.Pause(i)
		sleep(ctx, hold)
		n.c.Resume(i)
		n.logf("SIGCONT %s", n.c.Nodes[i].ID)
	case FaultPartition:
		n.logf("partition %s for %s", n.c.Nodes[target].ID, hold.Round(time.Millisecond))
		n.c.Partition(target)
		sleep(ctx, hold)
		n.c.Heal(target)
		n.logf("healed %s", n.c.Nodes[target].ID)
	case FaultDelay:
		n.logf("delay %s to %s for %s", delay, n.c.Nodes[target].ID, hold.Round(time.Millisecond))
		n.c.Nodes[target].Proxy.SetDelay(delay)
		sleep(ctx, hold)
		n.c.Nodes[target].Proxy.SetDelay(0)
	case FaultResetConns:
		n.logf("reset every Raft connection")
		for _, nd := range n.c.Nodes {
			nd.Proxy.Reset()
		}
	case FaultKillPageServer:
		if n.c.Page == nil {
			return
		}
		n.logf("kill -9 pageserver")
		n.c.KillPage()
		sleep(ctx, down)
		n.c.RestartPage()
		n.logf("restarted pageserver")
	default:
		panic(fmt.Sprintf("chaos: unknown fault %q", f))
	}
	n.Injected[f]++
}
