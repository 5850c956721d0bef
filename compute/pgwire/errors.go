package pgwire

import (
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// SQLSTATEs the protocol layer raises itself (PostgreSQL errcodes.txt).
const (
	codeProtocolViolation      = "08P01"
	codeTooManyConnections     = "53300"
	codeInvalidParameterValue  = "22023"
	codeInvalidBinaryRep       = "22P03"
	codeInvalidSQLStatementNam = "26000"
	codeInvalidCursorName      = "34000"
	codeDuplicatePreparedStmt  = "42P05"
	codeDuplicateCursor        = "42P03"
	codeInvalidCatalogName     = "3D000"
)

// Severities of ErrorResponse.
const (
	severityError = "ERROR"
	severityFatal = "FATAL"
)

// errorResponse converts any error into the ErrorResponse a client sees.
func errorResponse(severity string, err error) *pgproto3.ErrorResponse {
	e := sqlerr.Normalize(err)
	return &pgproto3.ErrorResponse{
		Severity:            severity,
		SeverityUnlocalized: severity,
		Code:                e.Code,
		Message:             e.Message,
		Detail:              e.Detail,
		Hint:                e.Hint,
		Position:            int32(e.Position),
	}
}
