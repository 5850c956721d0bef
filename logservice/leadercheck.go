package logservice

import (
	"context"
	"sync"

	"github.com/hashicorp/raft"
)

// leaderCheck confirms, with a quorum round trip, that this node is still
// the leader, sharing one round trip among concurrent callers.
//
// Why: a leader that was paused (SIGSTOP, GC, a partition) while the others
// elected a new one still believes it leads when it wakes. Its TSO window
// would let it hand out read timestamps below commits the new leader already
// acknowledged, and a read at such a timestamp misses an acknowledged write
// (a linearizability violation found by test/chaos). Confirming leadership
// after a timestamp is allocated closes that hole: if a new leader committed
// anything before the timestamp was issued, a quorum had already moved to a
// newer term and the confirmation fails.
//
// Batching: callers join the round that has not started yet; a round starts
// when the previous one ends. A caller therefore always waits for a
// confirmation that began after it joined, which is what correctness needs,
// and concurrent readers pay one heartbeat round trip between them.
type leaderCheck struct {
	verify func() error

	mu      sync.Mutex
	next    *checkRound // collecting callers, not started
	running bool
}

type checkRound struct {
	done chan struct{}
	err  error
}

func newLeaderCheck(r *raft.Raft) *leaderCheck {
	return &leaderCheck{verify: func() error { return r.VerifyLeader().Error() }}
}

// confirm returns nil once a quorum confirmed this node's leadership after
// the call began.
func (c *leaderCheck) confirm(ctx context.Context) error {
	c.mu.Lock()
	if c.next == nil {
		c.next = &checkRound{done: make(chan struct{})}
	}
	r := c.next
	if !c.running {
		c.running = true
		go c.run()
	}
	c.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *leaderCheck) run() {
	for {
		c.mu.Lock()
		r := c.next
		c.next = nil
		if r == nil {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		r.err = c.verify()
		close(r.done)
	}
}
