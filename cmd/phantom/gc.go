package main

import (
	"math"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"github.com/phantom-db/phantom/compute/sql"
)

// defaultGCPercent is the garbage collector's target heap growth when GOGC
// is not set. Query execution allocates Arrow buffers at a high rate and
// keeps little of it live, so Go's default of 100 spends a large share of
// the CPU marking (a quarter of a TPC-H scan's CPU at SF 0.1); 400 trades
// heap headroom for that CPU, and the soft memory limit below keeps the
// headroom from growing past the machine.
const defaultGCPercent = 400

// memLimitRatio is the share of the container's (cgroup) or else the
// machine's memory the Go heap is softly limited to when GOMEMLIMIT is not
// set: near it the collector runs as often as it must, whatever GOGC says.
const memLimitRatio = 0.8

// tuneGC sets the collector's defaults for a database process; the GOGC,
// GOMEMLIMIT and AUTOMEMLIMIT environment variables override them.
func tuneGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(defaultGCPercent)
	}
	// Errors leave the runtime's default (no limit) in place; there is no
	// logger yet and nothing to do about it.
	_, _ = memlimit.Set(
		memlimit.WithRatio(memLimitRatio),
		memlimit.WithProvider(memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)),
	)
}

// defaultScanCacheBytes is the compute's scan cache default: a quarter of
// the soft memory limit tuneGC set (so a TPC-H SF 1 lineitem's columns fit
// on a 24 GiB machine), or sql.DefaultScanCacheBytes without a limit.
func defaultScanCacheBytes() int64 {
	lim := debug.SetMemoryLimit(-1)
	if lim <= 0 || lim == math.MaxInt64 {
		return sql.DefaultScanCacheBytes
	}
	return lim / 4
}
