package tpch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// OIDs of the PostgreSQL types whose text is a number.
var numericOIDs = map[uint32]bool{
	20: true, 21: true, 23: true, 26: true, // int8, int2, int4, oid
	700: true, 701: true, 1700: true, // float4, float8, numeric
}

// pgRun runs q's statements over the PostgreSQL protocol (extended query,
// text results) and answers the last result with rows.
func pgRun(ctx context.Context, conn *pgconn.PgConn, q Query) (*resultSet, error) {
	var res *resultSet
	for i, stmt := range q.Statements {
		rr := conn.ExecParams(ctx, stmt, nil, nil, nil, nil)
		fds := rr.FieldDescriptions()
		var rs *resultSet
		if len(fds) > 0 {
			rs = &resultSet{cols: make([]string, len(fds))}
			for i, fd := range fds {
				rs.cols[i] = fd.Name
			}
			for rr.NextRow() {
				vals := rr.Values()
				row := make([]cell, len(vals))
				for i, v := range vals {
					row[i] = textCell(v, numericOIDs[fds[i].DataTypeOID])
				}
				rs.rows = append(rs.rows, row)
			}
		}
		if _, err := rr.Close(); err != nil {
			for _, drop := range cleanupStatements(q, i) {
				_ = conn.Exec(ctx, drop).Close()
			}
			return nil, err
		}
		if rs != nil {
			res = rs
		}
	}
	if res == nil {
		return nil, errors.New("tpch: no statement returned rows")
	}
	return res, nil
}

// cleanupStatements are the DROP statements after statement i of q, run
// (errors ignored) when statement i failed, so that the next run of q can
// create its view again.
func cleanupStatements(q Query, i int) []string {
	var out []string
	for _, s := range q.Statements[i+1:] {
		if strings.HasPrefix(strings.ToLower(s), "drop") {
			out = append(out, s)
		}
	}
	return out
}

// pgConnect connects to dsn, retrying for up to wait: a server accepts TCP
// a moment before it accepts sessions.
func pgConnect(ctx context.Context, dsn string, wait time.Duration) (*pgconn.PgConn, error) {
	deadline := time.Now().Add(wait)
	for {
		c, err := pgconn.Connect(ctx, dsn)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("tpch: connect: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// describeError spells a failure for the report: SQLSTATE and message for
// a server error.
func describeError(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Sprintf("SQLSTATE %s: %s", pe.Code, pe.Message)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout: " + err.Error()
	}
	return err.Error()
}
