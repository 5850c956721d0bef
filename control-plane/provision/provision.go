// Package provision starts and stops the compute nodes of endpoints. The
// Provisioner interface is what the autoscaler drives; Local, the dev and
// test default, runs each compute as a `phantom compute` child process on
// free loopback ports.
//
// Invariants:
//   - Start returns an instance only once its /healthz answers; until then
//     it is listed as StateStarting and proxies do not route to it.
//   - Drain first marks the instance StateDraining (and reports the change)
//     so proxies stop routing new work to it, waits DrainGrace, then sends
//     SIGTERM: the compute stops accepting and finishes in-flight work (up to
//     its drain timeout) before exiting; SIGKILL only after StopTimeout.
//   - An instance that exits on its own (a crash, SIGKILL) is removed and
//     reported at once, so the autoscaler starts a replacement when the
//     endpoint falls below its minimum and proxies drop it.
package provision

import (
	"context"
	"errors"
	"time"
)

// Instance states.
const (
	StateStarting = "starting"
	StateReady    = "ready"
	StateDraining = "draining"
)

// ErrNotFound is wrapped when an instance id is unknown.
var ErrNotFound = errors.New("provision: no such instance")

// Spec says what a compute serves.
type Spec struct {
	// Endpoint is the endpoint id ("ep-<n>"); it names the compute's load
	// subject.
	Endpoint string
	// Tenant and Database name the database served.
	Tenant   string
	Database string
	// Branch is the branch served (informational until branches reach the
	// page server).
	Branch string
}

// Instance is one compute node.
type Instance struct {
	ID        string    `json:"id"`
	Endpoint  string    `json:"endpoint"`
	HTTPAddr  string    `json:"http_addr"`
	PGAddr    string    `json:"pg_addr"`
	State     string    `json:"state"`
	StartedAt time.Time `json:"started_at"`
	// ReadyAt is when /healthz first answered (zero while starting).
	ReadyAt time.Time `json:"ready_at"`
	// PID is the compute's process id on the control plane's host (Local
	// only; 0 otherwise).
	PID int `json:"pid,omitempty"`
}

// Provisioner runs compute nodes.
type Provisioner interface {
	// Start launches a compute for spec and returns once it is ready, or
	// an error (the half-started compute is stopped).
	Start(ctx context.Context, spec Spec) (Instance, error)
	// Drain stops routing new work to the instance, then stops it
	// gracefully; it returns once the compute has exited.
	Drain(ctx context.Context, id string) error
	// Instances lists the computes of an endpoint ("" lists all).
	Instances(endpoint string) []Instance
	// Close stops every compute.
	Close() error
}

// Killer is implemented by provisioners that can stop an instance at once
// (no drain): the autoscaler kills a compute the membership declared dead,
// which then counts as exited and is replaced.
type Killer interface {
	Kill(id string) error
}
