package tpch

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// fmtMS spells a measure's time in milliseconds, or "-" without one.
func fmtMS(m *Measure) string {
	if !m.Ran || m.Err != "" {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(m.Best)/float64(time.Millisecond))
}

// fmtFirstMS spells the time of a measure's first run in milliseconds.
func fmtFirstMS(m *Measure) string {
	if !m.Ran || m.Err != "" {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(m.First)/float64(time.Millisecond))
}

// short cuts s to n runes on one line.
func short(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// ratio spells a/b for two measures that both answered correctly.
func ratio(a, b *Measure) string {
	if a == nil || b == nil || !a.OK() || !b.OK() || b.Best <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(a.Best)/float64(b.Best))
}

// yesNo is "yes" for a correct answer, "no" for a wrong one or a failure.
func yesNo(m *Measure) string {
	switch {
	case m == nil || !m.Ran:
		return "-"
	case m.OK():
		return "yes"
	default:
		return "no"
	}
}

// GeoMeans answers the geometric mean of each system's best times over the
// queries every one of systems answered correctly, and how many those are.
func (r *Report) GeoMeans(systems ...string) (map[string]time.Duration, int) {
	sums := map[string]float64{}
	n := 0
	for _, q := range r.Queries {
		all := true
		for _, s := range systems {
			if m := q.Systems[s]; m == nil || !m.OK() || m.Best <= 0 {
				all = false
			}
		}
		if !all {
			continue
		}
		n++
		for _, s := range systems {
			sums[s] += math.Log(float64(q.Systems[s].Best))
		}
	}
	out := map[string]time.Duration{}
	if n == 0 {
		return out, 0
	}
	for _, s := range systems {
		out[s] = time.Duration(math.Exp(sums[s] / float64(n)))
	}
	return out, n
}

func (r *Report) has(system string) bool {
	for _, s := range r.Systems {
		if s == system {
			return true
		}
	}
	return false
}

// WriteTable prints the report: data and loads, a row per query (times in
// ms, ratios, correctness with the first difference or the error), then
// the geometric means.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "TPC-H SF %g: %d rows (lineitem %d), generated in %s; best of %d run(s) per query\n\n",
		r.SF, r.TotalRows, r.Rows["lineitem"], r.GenTime.Round(time.Millisecond), r.Runs)
	for _, s := range r.Systems {
		l := r.Loads[s]
		switch {
		case l == nil:
		case l.Err != nil:
			fmt.Fprintf(w, "load %-8s failed: %s\n", s, short(l.Err.Error(), 200))
		case l.Reused:
			fmt.Fprintf(w, "load %-8s reused an earlier load of this scale factor (--phantom-data)\n", s)
		default:
			fmt.Fprintf(w, "load %-8s %d rows in %s: %.0f rows/s\n", s, l.Rows, l.Duration.Round(time.Millisecond), l.RowsPerSec())
		}
	}
	fmt.Fprintln(w)

	ph, pg := r.has(Phantom), r.has(Postgres)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"query"}
	if ph {
		head = append(head, "phantom ms")
		if r.Runs > 1 {
			head = append(head, "phantom first ms")
		}
	}
	head = append(head, "duckdb ms")
	if pg {
		head = append(head, "postgres ms")
	}
	if ph {
		head = append(head, "phantom/duckdb")
		if pg {
			head = append(head, "phantom/postgres")
		}
	}
	if pg {
		head = append(head, "postgres/duckdb")
	}
	for _, s := range r.Systems {
		if s != DuckDB {
			head = append(head, s+" correct")
		}
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, q := range r.Queries {
		m := q.Systems
		row := []string{fmt.Sprintf("Q%d", q.Query)}
		if ph {
			row = append(row, fmtMS(m[Phantom]))
			if r.Runs > 1 {
				row = append(row, fmtFirstMS(m[Phantom]))
			}
		}
		row = append(row, fmtMS(m[DuckDB]))
		if pg {
			row = append(row, fmtMS(m[Postgres]))
		}
		if ph {
			row = append(row, ratio(m[Phantom], m[DuckDB]))
			if pg {
				row = append(row, ratio(m[Phantom], m[Postgres]))
			}
		}
		if pg {
			row = append(row, ratio(m[Postgres], m[DuckDB]))
		}
		for _, s := range r.Systems {
			if s != DuckDB {
				row = append(row, yesNo(m[s]))
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nanswers checked against DuckDB's (first difference, or the error):")
	for _, q := range r.Queries {
		var parts []string
		for _, s := range r.Systems {
			if s == DuckDB {
				if m := q.Systems[s]; m.Err != "" {
					parts = append(parts, "duckdb failed: "+short(m.Err, 150))
				}
				continue
			}
			parts = append(parts, s+" "+short(q.Systems[s].Status(), 150))
		}
		fmt.Fprintf(w, "  Q%-3d %s\n", q.Query, strings.Join(parts, "; "))
	}

	fmt.Fprintln(w)
	r.writeGeoMeans(w, Phantom, DuckDB)
	if pg {
		r.writeGeoMeans(w, Phantom, Postgres)
		r.writeGeoMeans(w, Postgres, DuckDB)
	}
	return nil
}

// writeGeoMeans prints the geometric means of a and b over the queries
// both answered correctly, and their ratio.
func (r *Report) writeGeoMeans(w io.Writer, a, b string) {
	if !r.has(a) || !r.has(b) {
		return
	}
	gm, n := r.GeoMeans(a, b)
	if n == 0 {
		fmt.Fprintf(w, "geomean %s vs %s: no query answered correctly by both\n", a, b)
		return
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	fmt.Fprintf(w, "geomean over %d queries: %s %.1f ms, %s %.1f ms, %s/%s %.2f\n",
		n, a, ms(gm[a]), b, ms(gm[b]), a, b, float64(gm[a])/float64(gm[b]))
}
