package autoscale

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func TestPolicyScalesUpWithLoadWithinMax(t *testing.T) {
	p := Policy{Min: 1, Max: 3, TargetInFlight: 2, ScaleUpCooldown: 2 * time.Second, ScaleDownCooldown: 5 * time.Second}
	var st State
	if d := p.Decide(&st, Observation{Now: at(0), Current: 1, Concurrency: 1.5}); d.Target != 1 || d.Reason != "" {
		t.Fatalf("under target: %+v", d)
	}
	if d := p.Decide(&st, Observation{Now: at(1), Current: 1, Concurrency: 3.2}); d.Target != 2 || d.Reason != "load" {
		t.Fatalf("3.2 in flight at 2 per compute: %+v, want 2", d)
	}
	// Within the scale-up cooldown nothing changes, however high the load.
	if d := p.Decide(&st, Observation{Now: at(2), Current: 2, Concurrency: 50}); d.Target != 2 {
		t.Fatalf("inside the up cooldown: %+v", d)
	}
	if d := p.Decide(&st, Observation{Now: at(3), Current: 2, Concurrency: 50}); d.Target != 3 {
		t.Fatalf("after the up cooldown, clamped to max: %+v", d)
	}
	// Exactly at target: no more computes.
	if d := p.Decide(&st, Observation{Now: at(10), Current: 3, Concurrency: 6}); d.Target != 3 {
		t.Fatalf("at target: %+v", d)
	}
}

func TestPolicyScaleDownCooldownThenMinThenZero(t *testing.T) {
	p := Policy{Min: 0, Max: 3, TargetInFlight: 1, ScaleUpCooldown: time.Second, ScaleDownCooldown: 3 * time.Second, IdleTimeout: 4 * time.Second}
	var st State
	if d := p.Decide(&st, Observation{Now: at(0), Current: 1, Concurrency: 3}); d.Target != 3 {
		t.Fatalf("up: %+v", d)
	}
	// Load stops: down only after the cooldown since the scale-up, then
	// straight to the floor (1 while not idle).
	if d := p.Decide(&st, Observation{Now: at(2), Current: 3}); d.Target != 3 {
		t.Fatalf("inside the down cooldown: %+v", d)
	}
	if d := p.Decide(&st, Observation{Now: at(3), Current: 3, Sessions: 1}); d.Target != 1 || d.Reason != "load" {
		t.Fatalf("after the down cooldown: %+v", d)
	}
	// Active at 3 s (a session), and at 6.95 s (unknown load); idle from
	// then on: zero at 6.95+4 s, not before.
	if d := p.Decide(&st, Observation{Now: at(6.9), Current: 1}); d.Target != 1 {
		t.Fatalf("before the idle timeout: %+v", d)
	}
	// A compute without a fresh load report counts as active.
	if d := p.Decide(&st, Observation{Now: at(6.95), Current: 1, Unreported: 1}); d.Target != 1 {
		t.Fatalf("unknown load must not be idle: %+v", d)
	}
	if d := p.Decide(&st, Observation{Now: at(10.95), Current: 1}); d.Target != 0 || d.Reason != "idle" {
		t.Fatalf("at the idle timeout: %+v", d)
	}
	// At zero it stays at zero until a wake, which ignores cooldowns.
	if d := p.Decide(&st, Observation{Now: at(11), Current: 0}); d.Target != 0 {
		t.Fatalf("at zero without a wake: %+v", d)
	}
	if d := p.Decide(&st, Observation{Now: at(11.1), Current: 0, Wake: true}); d.Target != 1 || d.Reason != "wake" {
		t.Fatalf("wake: %+v", d)
	}
	// The wake counts as activity: not idle right after.
	if d := p.Decide(&st, Observation{Now: at(14), Current: 1}); d.Target != 1 {
		t.Fatalf("right after a wake: %+v", d)
	}
}

func TestPolicyMinKeepsComputesAndNoIdleWithMin(t *testing.T) {
	p := Policy{Min: 2, Max: 4, TargetInFlight: 4, IdleTimeout: time.Second}
	var st State
	if d := p.Decide(&st, Observation{Now: at(0), Current: 0}); d.Target != 2 || d.Reason != "min" {
		t.Fatalf("from zero with min 2: %+v", d)
	}
	if d := p.Decide(&st, Observation{Now: at(100), Current: 2}); d.Target != 2 {
		t.Fatalf("idle with min 2 must keep 2: %+v", d)
	}
	if d := p.Decide(&st, Observation{Now: at(101), Current: 1}); d.Target != 2 || d.Reason != "min" {
		t.Fatalf("below min (a compute died): %+v", d)
	}
	// Max lowered below current: shrink to max.
	p.Max = 2
	if d := p.Decide(&st, Observation{Now: at(200), Current: 4}); d.Target != 2 {
		t.Fatalf("over max: %+v", d)
	}
}

func TestPolicyNoIdleTimeoutNeverZero(t *testing.T) {
	p := Policy{Min: 0, Max: 1, TargetInFlight: 1}
	var st State
	for s := 0.0; s < 1000; s += 100 {
		if d := p.Decide(&st, Observation{Now: at(s), Current: 1}); d.Target != 1 {
			t.Fatalf("at %vs: %+v", s, d)
		}
	}
}
