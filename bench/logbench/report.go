package logbench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes the result as an aligned plain-text table: one row per
// concurrency level with both systems side by side and the phantom/etcd
// ratios, then the failover row.
func (r *Result) WriteTable(w io.Writer) error {
	c := r.Config
	fmt.Fprintf(w, "log service commit path: 3 replicas per system on 127.0.0.1, fsync on, payload %d B, %s per level\n",
		c.Payload, c.Duration)
	fmt.Fprintln(w, "phantom op = GetTimestamp + Commit of one key (logclient); etcd op = Put of one key (clientv3)")
	if r.Etcd == nil {
		fmt.Fprintf(w, "etcd: %s\n", r.EtcdSkipped)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"clients", "phantom ops/s", "p50", "p99"}
	if r.Etcd != nil {
		head = append(head, "etcd ops/s", "p50", "p99", "ops/s ratio", "p50 ratio", "p99 ratio")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for i, p := range r.Phantom.Levels {
		row := []string{strconv.Itoa(p.Clients), fmt.Sprintf("%.0f", p.PerSecond()), fmtDur(p.P50), fmtDur(p.P99)}
		if r.Etcd != nil && i < len(r.Etcd.Levels) {
			e := r.Etcd.Levels[i]
			row = append(row, fmt.Sprintf("%.0f", e.PerSecond()), fmtDur(e.P50), fmtDur(e.P99),
				ratio(p.PerSecond(), e.PerSecond()), ratio(p.P50.Seconds(), e.P50.Seconds()), ratio(p.P99.Seconds(), e.P99.Seconds()))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("logbench: write table: %w", err)
	}
	if errs := r.errorCounts(); errs != "" {
		fmt.Fprintf(w, "failed writes: %s\n", errs)
	}
	if pf := r.Phantom.Failover; pf != nil {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "failover (leader SIGKILL -> first acknowledged write), %d kills:\n", len(pf.Samples))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "system\tp50\tp99\tmax\t")
		fmt.Fprintf(tw, "phantom\t%s\t%s\t%s\t\n", fmtDur(pf.P50), fmtDur(pf.P99), fmtDur(maxDur(pf.Samples)))
		if r.Etcd != nil && r.Etcd.Failover != nil {
			ef := r.Etcd.Failover
			fmt.Fprintf(tw, "etcd\t%s\t%s\t%s\t\n", fmtDur(ef.P50), fmtDur(ef.P99), fmtDur(maxDur(ef.Samples)))
			fmt.Fprintf(tw, "ratio\t%s\t%s\t%s\t\n", ratio(pf.P50.Seconds(), ef.P50.Seconds()),
				ratio(pf.P99.Seconds(), ef.P99.Seconds()), ratio(maxDur(pf.Samples).Seconds(), maxDur(ef.Samples).Seconds()))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("logbench: write table: %w", err)
		}
	}
	return nil
}

// errorCounts lists levels with failed writes ("" when none failed).
func (r *Result) errorCounts() string {
	var parts []string
	for _, s := range []*SystemResult{&r.Phantom, r.Etcd} {
		if s == nil {
			continue
		}
		for _, l := range s.Levels {
			if l.Errors > 0 {
				parts = append(parts, fmt.Sprintf("%s %d clients: %d", s.Name, l.Clients, l.Errors))
			}
		}
	}
	return strings.Join(parts, "; ")
}

// ratio formats a/b ("-" when b is 0).
func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// fmtDur formats d with 3 significant-ish digits in a fitting unit.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	}
}

func maxDur(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
