// Package natsbus is Phantom-DB's event bus over NATS: the one place that
// names and builds every subject, an embedded nats-server for `phantom dev`
// and tests, node heartbeats, and the heartbeat-driven membership (failure
// detector) the control plane runs.
//
// Subjects (all under SubjectRoot, "phantom.>"):
//
//	phantom.node.<id>.heartbeat     every node, every heartbeat interval: a
//	                                Heartbeat (role, address, load) as JSON
//	phantom.compute.<endpoint>.load compute endpoints: load reports (active
//	                                sessions, queries/s, CPU, p99 latency)
//	phantom.scale.<endpoint>        the control plane: scaling decisions for
//	                                a compute endpoint
//	phantom.catalog.<db>.changed    compute nodes: a database's schema changed;
//	                                drop cached catalog entries
//
// Invariants:
//   - Every subject is built by a function of this file; no other package
//     formats "phantom." strings.
//   - An id inside a subject (node, endpoint, database) is one subject token:
//     non-empty, at most MaxIDLen bytes, printable, and free of '.', '*', '>'
//     and whitespace. Builders reject anything else with ErrInvalidID, so a
//     crafted id can never widen a subscription or address another subject.
//   - Membership judges liveness by when it received heartbeats on its own
//     clock, never by the sender's clock.
package natsbus

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidID is wrapped by errors for ids that cannot be a subject token.
var ErrInvalidID = errors.New("natsbus: invalid id")

// ErrInvalidSubject is wrapped by errors for subjects a parser does not
// recognise.
var ErrInvalidSubject = errors.New("natsbus: invalid subject")

// MaxIDLen is the longest id, in bytes, a subject builder accepts.
const MaxIDLen = 128

// Subject wildcards, for subscribers.
const (
	// SubjectRoot matches every Phantom-DB subject.
	SubjectRoot = "phantom.>"
	// HeartbeatWildcard matches the heartbeats of every node.
	HeartbeatWildcard = "phantom.node.*.heartbeat"
	// ComputeLoadWildcard matches the load reports of every compute endpoint.
	ComputeLoadWildcard = "phantom.compute.*.load"
	// ScaleWildcard matches the scaling decisions for every compute endpoint.
	ScaleWildcard = "phantom.scale.*"
	// CatalogChangedWildcard matches schema-change events of every database.
	CatalogChangedWildcard = "phantom.catalog.*.changed"
)

// ValidateID reports whether id can be a single subject token, answering an
// error wrapping ErrInvalidID if not.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidID)
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidID, len(id), MaxIDLen)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidID, id)
	}
	for _, r := range id {
		switch {
		case r == '.':
			return fmt.Errorf("%w: %q contains a dot", ErrInvalidID, id)
		case r == '*' || r == '>':
			return fmt.Errorf("%w: %q contains a wildcard %q", ErrInvalidID, id, r)
		case unicode.IsSpace(r):
			return fmt.Errorf("%w: %q contains whitespace", ErrInvalidID, id)
		case !unicode.IsPrint(r):
			return fmt.Errorf("%w: %q contains a non-printable character", ErrInvalidID, id)
		}
	}
	return nil
}

// subject joins validated tokens: prefix, id, suffix (suffix may be empty).
func subject(kind, prefix, id, suffix string) (string, error) {
	if err := ValidateID(id); err != nil {
		return "", fmt.Errorf("natsbus: %s subject: %w", kind, err)
	}
	if suffix == "" {
		return prefix + "." + id, nil
	}
	return prefix + "." + id + "." + suffix, nil
}

// HeartbeatSubject answers "phantom.node.<nodeID>.heartbeat", where the node
// publishes its Heartbeat.
func HeartbeatSubject(nodeID string) (string, error) {
	return subject("heartbeat", "phantom.node", nodeID, "heartbeat")
}

// ComputeLoadSubject answers "phantom.compute.<endpoint>.load", where a
// compute endpoint publishes its load (active sessions, queries/s, CPU, p99).
func ComputeLoadSubject(endpoint string) (string, error) {
	return subject("compute load", "phantom.compute", endpoint, "load")
}

// ScaleSubject answers "phantom.scale.<endpoint>", where the control plane
// publishes scaling decisions for a compute endpoint.
func ScaleSubject(endpoint string) (string, error) {
	return subject("scale", "phantom.scale", endpoint, "")
}

// CatalogChangedSubject answers "phantom.catalog.<db>.changed", published
// when a database's schema changes so compute nodes drop cached catalog
// entries.
func CatalogChangedSubject(db string) (string, error) {
	return subject("catalog changed", "phantom.catalog", db, "changed")
}

// parse extracts the id of a subject "<prefix>.<id>[.<suffix>]".
func parse(subj, prefix, suffix string) (string, error) {
	rest, ok := strings.CutPrefix(subj, prefix+".")
	if ok && suffix != "" {
		rest, ok = strings.CutSuffix(rest, "."+suffix)
	}
	if !ok {
		pattern := prefix + ".<id>"
		if suffix != "" {
			pattern += "." + suffix
		}
		return "", fmt.Errorf("%w: %q does not match %s", ErrInvalidSubject, subj, pattern)
	}
	if err := ValidateID(rest); err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrInvalidSubject, subj, err)
	}
	return rest, nil
}

// NodeIDFromHeartbeatSubject answers the node id of a heartbeat subject.
func NodeIDFromHeartbeatSubject(subj string) (string, error) {
	return parse(subj, "phantom.node", "heartbeat")
}

// EndpointFromComputeLoadSubject answers the endpoint of a compute load
// subject.
func EndpointFromComputeLoadSubject(subj string) (string, error) {
	return parse(subj, "phantom.compute", "load")
}

// EndpointFromScaleSubject answers the endpoint of a scale subject.
func EndpointFromScaleSubject(subj string) (string, error) {
	return parse(subj, "phantom.scale", "")
}

// DBFromCatalogChangedSubject answers the database of a catalog-changed
// subject.
func DBFromCatalogChangedSubject(subj string) (string, error) {
	return parse(subj, "phantom.catalog", "changed")
}
