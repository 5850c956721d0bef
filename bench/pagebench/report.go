package pagebench

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/phantom-db/phantom/test/pgserver"
)

// Neon's published GetPage@LSN latency (local), printed as a reference.
const (
	neonGetPageP50 = 49 * time.Microsecond
	neonGetPageP99 = 206 * time.Microsecond
)

// WriteTable prints the result.
func (r *Result) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	mb := func(n int64) float64 { return float64(n) / 1e6 }
	ew.printf("phantom bench pageserver: %d rows (key %d B, value %d B), %d CPUs, page server GOMAXPROCS=%d\n\n",
		r.Rows, r.KeySize, r.ValueSize, r.NumCPU, r.PageServerProcs)

	l := r.Load
	ew.printf("load      %d rows in %d commits of %d rows, %d concurrent committers through the log service:\n",
		r.Rows, l.Commits, r.CommitRows, r.Loaders)
	ew.printf("          committed in %s, applied by the page server after %s: %.0f rows/s, %.1f MB/s of keys+values\n\n",
		round(l.CommitElapsed), round(l.Elapsed), float64(r.Rows)/l.Elapsed.Seconds(), mb(l.KeyBytes+l.ValueBytes)/l.Elapsed.Seconds())

	ew.printf("point reads (one key at a timestamp: phantom Scan over gRPC; PostgreSQL: SELECT v FROM bench WHERE id = $1 via pgx)\n")
	if r.Postgres != nil {
		ew.printf("          PostgreSQL %s over %d rows (settings: %v), loaded in %s\n", r.Postgres.Version, r.Postgres.Rows, pgserver.NoFsyncSettings, round(r.Postgres.Load))
	} else {
		ew.printf("          PostgreSQL %s\n", r.PostgresSkipped)
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "clients\tphantom p50\tp99\treads/s\terrors\tpostgres p50\tp99\treads/s\tp50 ratio\tp99 ratio\t\n")
	for i, p := range r.Point {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.0f\t%d\t", p.Clients, us(p.P50), us(p.P99), p.PerSecond(), p.Errors)
		if r.Postgres != nil && i < len(r.Postgres.Point) {
			q := r.Postgres.Point[i]
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t\n", us(q.P50), us(q.P99), q.PerSecond(), ratio(p.P50, q.P50), ratio(p.P99, q.P99))
		} else {
			fmt.Fprintf(tw, "-\t-\t-\t-\t-\t\n")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ew.printf("          ratio = phantom / postgres (lower is better for phantom)\n")
	for _, p := range r.Point {
		if p.FirstErr != "" {
			ew.printf("          phantom, %d clients, first error: %s\n", p.Clients, p.FirstErr)
		}
	}
	ew.printf("reference Neon GetPage@LSN (published, local, not measured here): %s p50 / %s p99\n\n", us(neonGetPageP50), us(neonGetPageP99))

	s := r.Scan
	ew.printf("scan      full table in one Scan stream: %d rows in %s: %.0f rows/s, %.1f MB/s of rows (%.1f MB/s Arrow IPC)\n",
		s.Rows, round(s.Elapsed), float64(s.Rows)/s.Elapsed.Seconds(), mb(s.RowBytes)/s.Elapsed.Seconds(), mb(s.Bytes)/s.Elapsed.Seconds())
	if s.CPUErr == "" && s.CPU > 0 {
		ew.printf("          page server CPU %s (%.2f cores busy): per core-second %.0f rows, %.1f MB of rows\n",
			round(s.CPU), s.CPU.Seconds()/s.Elapsed.Seconds(), float64(s.Rows)/s.CPU.Seconds(), mb(s.RowBytes)/s.CPU.Seconds())
	} else if s.CPUErr == "" {
		ew.printf("          page server CPU below the kernel's clock tick: the scan is too short to measure per core\n")
	} else {
		ew.printf("          page server CPU not measured (%s)\n", s.CPUErr)
	}
	ew.printf("\ncheckpoint  SIGTERM to exit (final checkpoint) %s; object store (local directory) holds %d objects, %.1f MB\n",
		round(r.Checkpoint.Elapsed), r.Checkpoint.Objects, mb(r.Checkpoint.Bytes))
	ew.printf("cold start  empty disk, process start until the first point read answers:\n")
	for _, c := range r.Cold {
		ew.printf("          %-5s first read %s, every file local %s\n", c.Mode, round(c.FirstRead), round(c.AllLocal))
	}
	return ew.err
}

// us formats d in microseconds.
func us(d time.Duration) string {
	return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
}

// ratio formats a/b.
func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}

// round rounds d for printing.
func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}
