// Package sqlerr owns the error type every layer of the SQL engine returns to
// clients: a PostgreSQL SQLSTATE code, a message, an optional hint and an
// optional 1-based character position in the query text.
//
// Invariant: every error the engine hands back either is (or wraps) an *Error,
// or Code maps it to a well-defined SQLSTATE (context errors to 57014,
// storage conflicts to 40001, anything else to XX000).
package sqlerr

import (
	"context"
	"errors"
	"fmt"

	"github.com/phantom-db/phantom/compute/storage"
)

// SQLSTATE codes used by the engine. Names follow PostgreSQL's errcodes.txt.
const (
	CodeSuccessfulCompletion         = "00000"
	CodeFeatureNotSupported          = "0A000"
	CodeInvalidTextRep               = "22P02"
	CodeNumericValueOutOfRange       = "22003"
	CodeDivisionByZero               = "22012"
	CodeInvalidRowCountLimit         = "2201W"
	CodeInvalidRowCountOffset        = "2201X"
	CodeNotNullViolation             = "23502"
	CodeUniqueViolation              = "23505"
	CodeSerializationFailure         = "40001"
	CodeActiveSQLTransaction         = "25001"
	CodeReadOnlyTransaction          = "25006"
	CodeInFailedTransaction          = "25P02"
	CodeInvalidParameterValue        = "22023"
	CodeCantChangeRuntimeParam       = "55P02"
	CodeTransactionResolutionUnknown = "08007"
	CodeCannotConnectNow             = "57P03"
	CodeSyntaxError                  = "42601"
	CodeUndefinedTable               = "42P01"
	CodeUndefinedColumn              = "42703"
	CodeUndefinedFunction            = "42883"
	CodeAmbiguousFunction            = "42725"
	CodeUndefinedParameter           = "42P02"
	CodeUndefinedObject              = "42704"
	CodeUndefinedSchema              = "3F000"
	CodeDuplicateTable               = "42P07"
	CodeDuplicateColumn              = "42701"
	CodeAmbiguousColumn              = "42702"
	CodeDatatypeMismatch             = "42804"
	CodeCannotCoerce                 = "42846"
	CodeGroupingError                = "42803"
	CodeInvalidColumnReference       = "42P10"
	CodeInvalidTableDefinition       = "42P16"
	CodeProgramLimitExceeded         = "54000"
	CodeQueryCanceled                = "57014"
	CodeSnapshotTooOld               = "72000"
	CodeInternalError                = "XX000"
)

// Error is a SQL error as a client sees it.
type Error struct {
	// Code is the five-character SQLSTATE.
	Code string
	// Message is the primary, human-readable message.
	Message string
	// Detail is optional secondary information (PostgreSQL's DETAIL).
	Detail string
	// Hint is an optional suggestion for fixing the problem.
	Hint string
	// Position is the 1-based character position in the query string the
	// error refers to, 0 when unknown.
	Position int
}

// Error implements error.
func (e *Error) Error() string {
	return e.Message + " (SQLSTATE " + e.Code + ")"
}

// New returns an *Error with the given code and formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithHint sets the hint and returns e.
func (e *Error) WithHint(hint string) *Error {
	e.Hint = hint
	return e
}

// WithPosition sets the 1-based position and returns e.
func (e *Error) WithPosition(pos int) *Error {
	e.Position = pos
	return e
}

// NotSupported returns a 0A000 error naming the unsupported feature.
func NotSupported(feature string) *Error {
	return New(CodeFeatureNotSupported, "%s is not supported", feature)
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Code returns the SQLSTATE of err: the code of an *Error in its chain,
// 57014 for context cancellation or deadline, 40001 for a storage write
// conflict, 54000 for a commit above the log's size limit, 00000 for nil
// and XX000 for anything else.
func Code(err error) string {
	switch {
	case err == nil:
		return CodeSuccessfulCompletion
	case As(err) != nil:
		return As(err).Code
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return CodeQueryCanceled
	case errors.Is(err, storage.ErrConflict):
		return CodeSerializationFailure
	case errors.Is(err, storage.ErrUnknownOutcome):
		return CodeTransactionResolutionUnknown
	case errors.Is(err, storage.ErrUnavailable):
		return CodeCannotConnectNow
	case errors.Is(err, storage.ErrTooLarge):
		return CodeProgramLimitExceeded
	default:
		return CodeInternalError
	}
}

// Normalize returns err as an *Error, converting errors that are not SQL
// errors with the code Code assigns them. It returns nil for nil.
func Normalize(err error) *Error {
	if err == nil {
		return nil
	}
	if e := As(err); e != nil {
		return e
	}
	code := Code(err)
	msg := err.Error()
	switch code {
	case CodeQueryCanceled:
		msg = "canceling statement due to statement timeout or cancellation: " + msg
	case CodeSerializationFailure:
		msg = "could not serialize access due to concurrent update: " + msg
	}
	return &Error{Code: code, Message: msg}
}
