package tpch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver
)

// duckSystem is an in-memory DuckDB in this process (duckdb-go, cgo): the
// reference every other system's answers are checked against.
type duckSystem struct {
	db *sql.DB
}

func openDuckDB() (*duckSystem, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("tpch: open duckdb: %w", err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("tpch: open duckdb: %w", err)
	}
	return &duckSystem{db: db}, nil
}

func (d *duckSystem) name() string { return "duckdb" }

// load creates the tables and reads the generated files with DuckDB's own
// COPY (its CSV reader, not the tpch extension).
func (d *duckSystem) load(ctx context.Context, ds *Dataset) error {
	for _, t := range tables {
		if _, err := d.db.ExecContext(ctx, t.ddl()); err != nil {
			return fmt.Errorf("duckdb: create %s: %w", t.name, err)
		}
		path := strings.ReplaceAll(ds.Path(t.name), "'", "''")
		q := fmt.Sprintf("COPY %s FROM '%s' (FORMAT csv, DELIMITER '|', HEADER false, QUOTE '')", t.name, path)
		if _, err := d.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("duckdb: load %s: %w", t.name, err)
		}
	}
	return nil
}

func (d *duckSystem) run(ctx context.Context, q Query) (*resultSet, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var res *resultSet
	for i, stmt := range q.Statements {
		if !returnsRows(stmt) {
			_, err = conn.ExecContext(ctx, stmt)
		} else {
			res, err = duckQuery(ctx, conn, stmt)
		}
		if err != nil {
			for _, drop := range cleanupStatements(q, i) {
				_, _ = conn.ExecContext(ctx, drop)
			}
			return nil, err
		}
	}
	if res == nil {
		return nil, errors.New("tpch: no statement returned rows")
	}
	return res, nil
}

func duckQuery(ctx context.Context, conn *sql.Conn, stmt string) (*resultSet, error) {
	rows, err := conn.QueryContext(ctx, stmt)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	res := &resultSet{cols: cols}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]cell, len(cols))
		for i, v := range vals {
			if row[i], err = valueCell(v); err != nil {
				return nil, err
			}
		}
		res.rows = append(res.rows, row)
	}
	return res, rows.Err()
}

func (d *duckSystem) close() { d.db.Close() }

// returnsRows reports whether stmt is a query (its answer is compared)
// rather than DDL around it.
func returnsRows(stmt string) bool {
	s := strings.ToLower(strings.TrimSpace(stmt))
	return strings.HasPrefix(s, "select") || strings.HasPrefix(s, "with")
}
