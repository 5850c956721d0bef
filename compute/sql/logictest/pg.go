package logictest

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// PGExec adapts a PostgreSQL protocol connection, to a real PostgreSQL or
// to a Phantom-DB compute node, to an ExecFunc with text results: what a
// client reads in the text format. Records without parameters go through
// the simple query protocol (several statements allowed, the last one's
// result is kept), records with parameters through the extended protocol.
// Server errors come back as *sqlerr.Error with code and position.
func PGExec(conn *pgconn.PgConn) ExecFunc {
	return func(ctx context.Context, query string, params []any) (Result, error) {
		var results []*pgconn.Result
		var err error
		if len(params) == 0 {
			results, err = conn.Exec(ctx, query).ReadAll()
		} else {
			vals := make([][]byte, len(params))
			for i, p := range params {
				if p != nil {
					vals[i] = []byte(types.FormatText(p))
				}
			}
			r := conn.ExecParams(ctx, query, vals, nil, nil, nil).Read()
			results, err = []*pgconn.Result{r}, r.Err
		}
		if err != nil {
			return Result{}, pgError(err)
		}
		out := Result{Text: true}
		if len(results) == 0 {
			return out, nil
		}
		last := results[len(results)-1]
		for _, fd := range last.FieldDescriptions {
			out.Columns = append(out.Columns, fd.Name)
		}
		for _, row := range last.Rows {
			vals := make([]any, len(row))
			for i, v := range row {
				if v != nil {
					vals[i] = string(v)
				}
			}
			out.Rows = append(out.Rows, vals)
		}
		return out, nil
	}
}

// pgError turns a server error into an *sqlerr.Error; other errors (a
// broken connection) pass through wrapped.
func pgError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return &sqlerr.Error{Code: pe.Code, Message: pe.Message, Detail: pe.Detail, Hint: pe.Hint, Position: int(pe.Position)}
	}
	return fmt.Errorf("logictest: %w", err)
}
