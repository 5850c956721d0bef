package pgbench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Print writes the report as a table, one column per system, with the
// phantom/postgres ratio when both ran.
func (r *Report) Print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "pgbench TPC-B (built-in script): scale %d, %d clients, %d threads, %s, --max-tries %d\n",
		c.Scale, c.Clients, c.Threads, c.Duration, c.MaxTries)
	fmt.Fprintf(w, "machine: %s\n\n", r.Machine)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "\t"
	for _, s := range r.Systems {
		head += s.Name + "\t"
	}
	var ph, pg *SystemResult
	for i := range r.Systems {
		switch r.Systems[i].Name {
		case "phantom":
			ph = &r.Systems[i]
		case "postgres":
			pg = &r.Systems[i]
		}
	}
	both := ph != nil && pg != nil && ph.Err == "" && pg.Err == ""
	if both {
		head += "phantom/postgres\t"
	}
	fmt.Fprintln(tw, head)
	row := func(name string, f func(*SystemResult) float64, format string) {
		line := name + "\t"
		for i := range r.Systems {
			line += fmt.Sprintf(format, f(&r.Systems[i])) + "\t"
		}
		if both {
			if d := f(pg); d != 0 {
				line += fmt.Sprintf("%.2fx", f(ph)/d) + "\t"
			} else {
				line += "-\t"
			}
		}
		fmt.Fprintln(tw, line)
	}
	row("init (pgbench -i) s", func(s *SystemResult) float64 { return s.Init.Seconds() }, "%.1f")
	row("tps", func(s *SystemResult) float64 { return s.Stats.TPS }, "%.1f")
	row("latency avg ms", func(s *SystemResult) float64 { return s.Stats.LatencyAvgMs }, "%.2f")
	row("latency p50 ms", func(s *SystemResult) float64 { return s.Stats.P50Ms }, "%.2f")
	row("latency p99 ms", func(s *SystemResult) float64 { return s.Stats.P99Ms }, "%.2f")
	row("transactions", func(s *SystemResult) float64 { return float64(s.Stats.Processed) }, "%.0f")
	row("failed", func(s *SystemResult) float64 { return float64(s.Stats.Failed) }, "%.0f")
	row("retried", func(s *SystemResult) float64 { return float64(s.Stats.Retried) }, "%.0f")
	row("retries", func(s *SystemResult) float64 { return float64(s.Stats.Retries) }, "%.0f")
	tw.Flush()
	fmt.Fprintln(w)
	for _, s := range r.Systems {
		if s.Err != "" {
			fmt.Fprintf(w, "%s: FAILED: %s\n", s.Name, s.Err)
			continue
		}
		fmt.Fprintf(w, "%s: %d accounts, %d tellers, %d branches, %d history rows; balances = deltas = %d (TPC-B invariant holds)\n",
			s.Name, s.After.Accounts, s.After.Tellers, s.After.Branches, s.After.History, s.After.SumHistoryDelta)
	}
}

// OK reports whether every system ran and checked out.
func (r *Report) OK() bool {
	for _, s := range r.Systems {
		if s.Err != "" {
			return false
		}
	}
	return true
}
