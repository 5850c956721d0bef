package chaos

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runSeeds returns the seeds to run: PHANTOM_CHAOS_SEED alone when set,
// else 1..PHANTOM_CHAOS_RUNS (default def).
func runSeeds(t *testing.T, def int) []uint64 {
	t.Helper()
	if s := os.Getenv("PHANTOM_CHAOS_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PHANTOM_CHAOS_SEED: %v", err)
		}
		return []uint64{seed}
	}
	n := def
	if s := os.Getenv("PHANTOM_CHAOS_RUNS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("PHANTOM_CHAOS_RUNS=%q: want a positive count", s)
		}
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return seeds
}

// faultTime is how long the nemesis injects faults per run:
// PHANTOM_CHAOS_DURATION (a Go duration), default 8s.
func faultTime(t *testing.T) time.Duration {
	t.Helper()
	if s := os.Getenv("PHANTOM_CHAOS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("PHANTOM_CHAOS_DURATION=%q: want a positive duration", s)
		}
		return d
	}
	return 8 * time.Second
}

// faults returns the faults to inject: PHANTOM_CHAOS_FAULTS (a comma list
// of Fault names), default every fault.
func faults(t *testing.T) []Fault {
	t.Helper()
	s := os.Getenv("PHANTOM_CHAOS_FAULTS")
	if s == "" {
		return AllFaults
	}
	var out []Fault
	for name := range strings.SplitSeq(s, ",") {
		f := Fault(strings.TrimSpace(name))
		if !slices.Contains(AllFaults, f) {
			t.Fatalf("PHANTOM_CHAOS_FAULTS: unknown fault %q (have %v)", f, AllFaults)
		}
		out = append(out, f)
	}
	return out
}
