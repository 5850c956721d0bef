package pgbench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Stats are what one pgbench run reports.
type Stats struct {
	// Processed is "number of transactions actually processed" (committed).
	Processed int64
	// Failed transactions gave up (an error that is not retried, or
	// MaxTries reached).
	Failed int64
	// Retried transactions needed more than one try; Retries is the total
	// number of retries.
	Retried, Retries int64
	// TPS is committed transactions per second, without the initial
	// connection time.
	TPS float64
	// LatencyAvgMs is pgbench's average latency (failures included), ms.
	LatencyAvgMs float64
	// P50Ms and P99Ms are percentiles of the committed transactions'
	// latencies (retries included) from pgbench's per-transaction log, ms;
	// 0 when the log had none.
	P50Ms, P99Ms float64
}

var (
	reProcessed = regexp.MustCompile(`(?m)^number of transactions actually processed: (\d+)`)
	reFailed    = regexp.MustCompile(`(?m)^number of failed transactions: (\d+)`)
	reRetried   = regexp.MustCompile(`(?m)^number of transactions retried: (\d+)`)
	reRetries   = regexp.MustCompile(`(?m)^total number of retries: (\d+)`)
	reLatency   = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
	reTPS       = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
)

// parseOutput reads the summary pgbench prints at the end of a run.
// Processed, TPS and latency are required; failure and retry lines are
// printed only with --max-tries > 1 or on failures, so they default to 0.
func parseOutput(out string) (Stats, error) {
	var s Stats
	ints := []struct {
		re       *regexp.Regexp
		dst      *int64
		required bool
	}{{reProcessed, &s.Processed, true}, {reFailed, &s.Failed, false}, {reRetried, &s.Retried, false}, {reRetries, &s.Retries, false}}
	for _, f := range ints {
		m := f.re.FindStringSubmatch(out)
		if m == nil {
			if f.required {
				return s, fmt.Errorf("pgbench: no %q line in its output", f.re.String())
			}
			continue
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return s, fmt.Errorf("pgbench: parse %q: %w", m[0], err)
		}
		*f.dst = v
	}
	floats := []struct {
		re  *regexp.Regexp
		dst *float64
	}{{reLatency, &s.LatencyAvgMs}, {reTPS, &s.TPS}}
	for _, f := range floats {
		m := f.re.FindStringSubmatch(out)
		if m == nil {
			return s, fmt.Errorf("pgbench: no %q line in its output", f.re.String())
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return s, fmt.Errorf("pgbench: parse %q: %w", m[0], err)
		}
		*f.dst = v
	}
	return s, nil
}

// readLatencies reads the per-transaction logs pgbench -l wrote under
// prefix (prefix.<pid>[.<thread>]) and returns the latencies of committed
// transactions in ms. A log line is "client_id transaction_no time
// script_no time_epoch time_us [retries]"; time is the latency in µs, or
// "failed" for a transaction that gave up.
func readLatencies(prefix string) ([]float64, error) {
	files, err := filepath.Glob(prefix + ".*")
	if err != nil {
		return nil, fmt.Errorf("pgbench: find logs: %w", err)
	}
	var out []float64
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("pgbench: %w", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			us, err := strconv.ParseFloat(fields[2], 64)
			if err != nil { // "failed" (or "skipped")
				continue
			}
			out = append(out, us/1000)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("pgbench: read %s: %w", name, err)
		}
	}
	return out, nil
}

// percentile returns the p-th percentile (0..100, nearest rank) of v,
// sorting it; 0 for no values.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	i := int(p/100*float64(len(v))+0.5) - 1
	return v[min(max(i, 0), len(v)-1)]
}
