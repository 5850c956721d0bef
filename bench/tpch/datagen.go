package tpch

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/phantom-db/phantom/bench/tpch/dbgen"
)

// Dataset is TPC-H data generated into a directory: one file per table,
// one row per line, fields separated by '|' (dbgen's .tbl format without
// the trailing separator, so PostgreSQL's and DuckDB's COPY read it as is).
type Dataset struct {
	// SF is the scale factor.
	SF float64
	// Dir holds <table>.tbl for every table.
	Dir string
	// Rows is the row count of each table.
	Rows map[string]int64
}

// Path is the file of table name.
func (d *Dataset) Path(name string) string { return filepath.Join(d.Dir, name+".tbl") }

// TotalRows is the row count of all tables together.
func (d *Dataset) TotalRows() int64 {
	var n int64
	for _, r := range d.Rows {
		n += r
	}
	return n
}

// genMu serialises generation: dbgen keeps its state in package variables.
var genMu sync.Mutex

// Generate writes the TPC-H data of scale factor sf into dir with dbgen
// (a port of the official generator, so the data is the specification's).
func Generate(dir string, sf float64) (*Dataset, error) {
	genMu.Lock()
	defer genMu.Unlock()
	if err := dbgen.InitDbGen(sf); err != nil {
		return nil, fmt.Errorf("tpch: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tpch: %w", err)
	}
	ds := &Dataset{SF: sf, Dir: dir, Rows: map[string]int64{}}
	w := &tblWriter{ds: ds, files: map[string]*tblFile{}}
	defer w.close()
	for _, t := range tables {
		f, err := os.Create(ds.Path(t.name))
		if err != nil {
			return nil, fmt.Errorf("tpch: %w", err)
		}
		w.files[t.name] = &tblFile{f: f, w: bufio.NewWriterSize(f, 1<<20)}
	}
	// Orders carry their lineitems and parts their partsupp rows, as the
	// official generator's combined order/lineitem and part/partsupp
	// passes do.
	loaders := map[dbgen.Table]dbgen.Loader{}
	order := []dbgen.Table{dbgen.TRegion, dbgen.TNation, dbgen.TSupp, dbgen.TCust, dbgen.TPart, dbgen.TOrder}
	for _, t := range order {
		loaders[t] = w
	}
	if err := dbgen.DbGen(loaders, order); err != nil {
		return nil, fmt.Errorf("tpch: generate: %w", err)
	}
	if err := w.close(); err != nil {
		return nil, err
	}
	return ds, nil
}

type tblFile struct {
	f *os.File
	w *bufio.Writer
}

// tblWriter is the dbgen.Loader of every table: it writes each generated
// item as lines of its table's file.
type tblWriter struct {
	ds     *Dataset
	files  map[string]*tblFile
	fields []string
	err    error
}

// Load implements dbgen.Loader.
func (w *tblWriter) Load(item any) error {
	switch it := item.(type) {
	case *dbgen.Region:
		w.row("region", itoa(int64(it.Code)), it.Text, it.Comment)
	case *dbgen.Nation:
		w.row("nation", itoa(int64(it.Code)), it.Text, itoa(int64(it.Join)), it.Comment)
	case *dbgen.Supp:
		w.row("supplier", itoa(int64(it.SuppKey)), it.Name, it.Address, itoa(int64(it.NationCode)), it.Phone,
			dbgen.FmtMoney(it.Acctbal), it.Comment)
	case *dbgen.Cust:
		w.row("customer", itoa(int64(it.CustKey)), it.Name, it.Address, itoa(int64(it.NationCode)), it.Phone,
			dbgen.FmtMoney(it.Acctbal), it.MktSegment, it.Comment)
	case *dbgen.Part:
		w.row("part", itoa(int64(it.PartKey)), it.Name, it.Mfgr, it.Brand, it.Type, itoa(int64(it.Size)),
			it.Container, dbgen.FmtMoney(it.RetailPrice), it.Comment)
		for _, ps := range it.S {
			w.row("partsupp", itoa(int64(ps.PartKey)), itoa(int64(ps.SuppKey)), itoa(int64(ps.Qty)),
				dbgen.FmtMoney(ps.SCost), ps.Comment)
		}
	case *dbgen.Order:
		w.row("orders", itoa(int64(it.OKey)), itoa(int64(it.CustKey)), string(it.Status), dbgen.FmtMoney(it.TotalPrice),
			it.Date, it.OrderPriority, it.Clerk, itoa(it.ShipPriority), it.Comment)
		for _, l := range it.Lines {
			w.row("lineitem", itoa(int64(l.OKey)), itoa(int64(l.PartKey)), itoa(int64(l.SuppKey)), itoa(int64(l.LCnt)),
				itoa(int64(l.Quantity)), dbgen.FmtMoney(l.EPrice), dbgen.FmtMoney(l.Discount), dbgen.FmtMoney(l.Tax),
				string(l.RFlag), string(l.LStatus), l.SDate, l.CDate, l.RDate, l.ShipInstruct, l.ShipMode, l.Comment)
		}
	default:
		return fmt.Errorf("tpch: unexpected generated item %T", item)
	}
	return w.err
}

// Flush implements dbgen.Loader; files are flushed once, by close.
func (w *tblWriter) Flush() error { return w.err }

func (w *tblWriter) row(name string, fields ...string) {
	if w.err != nil {
		return
	}
	for _, f := range fields {
		if strings.ContainsAny(f, "|\n\\") {
			w.err = fmt.Errorf("tpch: generated %s value %q holds a separator", name, f)
			return
		}
	}
	tf := w.files[name]
	if _, err := tf.w.WriteString(strings.Join(fields, "|")); err != nil {
		w.err = fmt.Errorf("tpch: write %s: %w", name, err)
		return
	}
	if err := tf.w.WriteByte('\n'); err != nil {
		w.err = fmt.Errorf("tpch: write %s: %w", name, err)
		return
	}
	w.ds.Rows[name]++
}

// close flushes and closes every file; it answers the first error.
func (w *tblWriter) close() error {
	for name, tf := range w.files {
		if tf.f == nil {
			continue
		}
		if err := tf.w.Flush(); err != nil && w.err == nil {
			w.err = fmt.Errorf("tpch: write %s: %w", name, err)
		}
		if err := tf.f.Close(); err != nil && w.err == nil {
			w.err = fmt.Errorf("tpch: close %s: %w", name, err)
		}
		tf.f = nil
	}
	return w.err
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
