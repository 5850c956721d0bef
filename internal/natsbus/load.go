package natsbus

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// ComputeLoad is what a compute node of an endpoint publishes on
// ComputeLoadSubject(Endpoint), as JSON, every second. The autoscaler sums
// the reports of an endpoint's computes to decide how many it needs.
type ComputeLoad struct {
	// Endpoint is the compute endpoint the node serves; it must match the
	// subject's token.
	Endpoint string `json:"endpoint"`
	// NodeID identifies the compute node.
	NodeID string `json:"node_id"`
	// HTTPAddr is the node's HTTP SQL API address (host:port).
	HTTPAddr string `json:"http_addr"`
	// PGAddr is the node's PostgreSQL protocol address, "" when off.
	PGAddr string `json:"pg_addr,omitempty"`
	// ActiveSessions counts open sessions: PostgreSQL connections plus HTTP
	// sessions.
	ActiveSessions int `json:"active_sessions"`
	// InFlight is the number of queries executing when the report was made.
	InFlight int `json:"in_flight"`
	// Concurrency is the average number of queries executing over the last
	// interval (total busy query time divided by the interval).
	Concurrency float64 `json:"concurrency"`
	// QueriesPerSec is the completed-query rate over the last interval.
	QueriesPerSec float64 `json:"qps"`
	// P99Millis is the 99th-percentile query latency over the last
	// interval, in milliseconds (0 without queries).
	P99Millis float64 `json:"p99_ms"`
	// CPU is the process CPU use over the last interval, in cores.
	CPU float64 `json:"cpu"`
	// Draining is set once the node stopped accepting new work.
	Draining bool `json:"draining,omitempty"`
	// SentAt is when the report was made, on the sender's clock.
	SentAt time.Time `json:"sent_at"`
}

// Validate reports whether l can be published: valid ids, an address, and
// finite, non-negative gauges.
func (l *ComputeLoad) Validate() error {
	if err := ValidateID(l.Endpoint); err != nil {
		return fmt.Errorf("natsbus: compute load Endpoint: %w", err)
	}
	if err := ValidateID(l.NodeID); err != nil {
		return fmt.Errorf("natsbus: compute load NodeID: %w", err)
	}
	if l.HTTPAddr == "" {
		return fmt.Errorf("natsbus: compute load from %q: empty HTTPAddr", l.NodeID)
	}
	if l.ActiveSessions < 0 || l.InFlight < 0 {
		return fmt.Errorf("natsbus: compute load from %q: negative count", l.NodeID)
	}
	for _, v := range []float64{l.Concurrency, l.QueriesPerSec, l.P99Millis, l.CPU} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("natsbus: compute load from %q: gauge %v is not a finite non-negative number", l.NodeID, v)
		}
	}
	return nil
}

// DecodeComputeLoad parses and validates a load report received on subj;
// the subject's endpoint must match the message's.
func DecodeComputeLoad(subj string, data []byte) (ComputeLoad, error) {
	ep, err := EndpointFromComputeLoadSubject(subj)
	if err != nil {
		return ComputeLoad{}, err
	}
	var l ComputeLoad
	if err := json.Unmarshal(data, &l); err != nil {
		return ComputeLoad{}, fmt.Errorf("natsbus: compute load on %q: %w", subj, err)
	}
	if l.Endpoint != ep {
		return ComputeLoad{}, fmt.Errorf("natsbus: compute load on %q claims endpoint %q", subj, l.Endpoint)
	}
	if err := l.Validate(); err != nil {
		return ComputeLoad{}, err
	}
	return l, nil
}

// ScaleEvent is what the control plane publishes on ScaleSubject(Endpoint),
// as JSON, when it decides to change an endpoint's compute count or when the
// set of its computes changes (one started, became ready, began draining,
// stopped). Proxies refresh their view of the endpoint when they see one.
type ScaleEvent struct {
	// Endpoint is the compute endpoint; it must match the subject's token.
	Endpoint string `json:"endpoint"`
	// From is the number of computes before the decision.
	From int `json:"from"`
	// To is the number of computes decided (equal to From for a change of
	// one compute's state).
	To int `json:"to"`
	// Reason says why, e.g. "load", "idle", "wake", "min", "compute ready".
	Reason string `json:"reason"`
	// At is when the event happened, on the control plane's clock.
	At time.Time `json:"at"`
}

// Validate reports whether e can be published.
func (e *ScaleEvent) Validate() error {
	if err := ValidateID(e.Endpoint); err != nil {
		return fmt.Errorf("natsbus: scale event Endpoint: %w", err)
	}
	if e.From < 0 || e.To < 0 {
		return fmt.Errorf("natsbus: scale event for %q: negative count", e.Endpoint)
	}
	return nil
}

// DecodeScaleEvent parses and validates a scale event received on subj.
func DecodeScaleEvent(subj string, data []byte) (ScaleEvent, error) {
	ep, err := EndpointFromScaleSubject(subj)
	if err != nil {
		return ScaleEvent{}, err
	}
	var e ScaleEvent
	if err := json.Unmarshal(data, &e); err != nil {
		return ScaleEvent{}, fmt.Errorf("natsbus: scale event on %q: %w", subj, err)
	}
	if e.Endpoint != ep {
		return ScaleEvent{}, fmt.Errorf("natsbus: scale event on %q claims endpoint %q", subj, e.Endpoint)
	}
	if err := e.Validate(); err != nil {
		return ScaleEvent{}, err
	}
	return e, nil
}
