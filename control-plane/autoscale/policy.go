// Package autoscale sizes compute endpoints. Policy is a pure function from
// an endpoint's load and history to a target number of computes; Controller
// feeds it the load reports compute nodes publish on NATS
// (phantom.compute.<endpoint>.load), publishes each decision on
// phantom.scale.<endpoint> and carries it out through a
// provision.Provisioner.
//
// Policy, per endpoint:
//   - Target = ceil(total concurrency / TargetInFlight), clamped to
//     [max(Min, 1), Max] while the endpoint is active.
//   - Scale up at once to Target, at most once per ScaleUpCooldown.
//   - Scale down (straight to Target) only when ScaleDownCooldown has passed
//     since the last scaling in either direction.
//   - With Min 0 and an IdleTimeout, an endpoint with no sessions, no
//     in-flight queries and no queries for IdleTimeout goes to zero. A
//     compute whose load is unknown (no fresh report) counts as active.
//   - A wake (a client connecting through the proxy) asks for max(Min, 1)
//     immediately, cooldowns notwithstanding, and counts as activity.
package autoscale

import (
	"math"
	"time"
)

// Policy is an endpoint's scaling policy.
type Policy struct {
	// Min and Max bound the number of computes; Min 0 allows scale to zero.
	Min, Max int
	// TargetInFlight is the average concurrency per compute aimed for.
	TargetInFlight float64
	// ScaleUpCooldown is the least time between two scale-ups.
	ScaleUpCooldown time.Duration
	// ScaleDownCooldown is the least time after any scaling before a
	// scale-down.
	ScaleDownCooldown time.Duration
	// IdleTimeout, with Min 0, is the inactivity after which the endpoint
	// goes to zero; 0 never.
	IdleTimeout time.Duration
}

// Observation is the endpoint's load at one moment.
type Observation struct {
	// Now is the controller's clock.
	Now time.Time
	// Current is the number of computes running or starting (not
	// draining).
	Current int
	// Concurrency is the sum over computes of their average number of
	// executing queries.
	Concurrency float64
	// InFlight is the sum of queries executing at report time.
	InFlight int
	// Sessions is the sum of open sessions.
	Sessions int
	// QPS is the sum of query rates.
	QPS float64
	// Wake is set when a client is waiting for a compute.
	Wake bool
	// Unreported counts computes without a fresh load report; their load
	// is unknown, so they count as active (a compute that just became
	// ready must not be stopped as idle before its first report).
	Unreported int
}

// State is what the policy remembers about an endpoint between decisions.
// The zero State is a fresh endpoint.
type State struct {
	LastScaleUp   time.Time
	LastScaleDown time.Time
	// LastActive is the last time the endpoint had sessions, queries or a
	// wake.
	LastActive time.Time
}

// Decision is a policy's answer.
type Decision struct {
	// Target is the number of computes wanted.
	Target int
	// Reason says why Target differs from Current ("" when it does not).
	Reason string
}

// Decide answers the number of computes the endpoint should run and
// updates st.
func (p Policy) Decide(st *State, o Observation) Decision {
	if st.LastActive.IsZero() {
		st.LastActive = o.Now
	}
	active := o.Wake || o.Unreported > 0 || o.Sessions > 0 || o.InFlight > 0 || o.Concurrency > 0 || o.QPS > 0
	if active {
		st.LastActive = o.Now
	}
	maxN := max(p.Max, 0)
	floor := min(max(p.Min, 1), maxN)
	target := o.Current
	reason := ""
	switch {
	case o.Current == 0 && (o.Wake || p.Min > 0):
		target, reason = floor, "wake"
		if !o.Wake {
			reason = "min"
		}
	case o.Current == 0:
		return Decision{Target: 0}
	case p.Min == 0 && p.IdleTimeout > 0 && !active && o.Now.Sub(st.LastActive) >= p.IdleTimeout:
		target, reason = 0, "idle"
	default:
		want := floor
		if p.TargetInFlight > 0 {
			want = int(math.Ceil(o.Concurrency/p.TargetInFlight - 1e-9))
		}
		want = min(max(want, floor), maxN)
		if o.Current > maxN {
			want = maxN
		}
		switch {
		case o.Current < floor:
			target, reason = max(want, floor), "min"
		case want > o.Current && (st.LastScaleUp.IsZero() || o.Now.Sub(st.LastScaleUp) >= p.ScaleUpCooldown):
			target, reason = want, "load"
		case want < o.Current && o.Now.Sub(lastScale(st)) >= p.ScaleDownCooldown:
			target, reason = want, "load"
		}
	}
	switch {
	case target > o.Current:
		st.LastScaleUp = o.Now
	case target < o.Current:
		st.LastScaleDown = o.Now
	}
	return Decision{Target: target, Reason: reason}
}

func lastScale(st *State) time.Time {
	if st.LastScaleUp.After(st.LastScaleDown) {
		return st.LastScaleUp
	}
	return st.LastScaleDown
}
