package phantom

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Error is a failure answered by the server. Code is the PostgreSQL
// SQLSTATE ("42601" syntax error, "23505" unique violation, "40001"
// serialization failure, "08003" session gone, "08007" commit outcome
// unknown, ...).
type Error struct {
	// Code is the SQLSTATE; empty when the answer was not an API error body
	// (e.g. a proxy's error page).
	Code string
	// Message is the primary message.
	Message string
	// Detail is optional secondary detail.
	Detail string
	// Position is the 1-based character offset of the error in the query;
	// 0 when unknown.
	Position int
	// Hint is an optional suggestion.
	Hint string
	// Statement is the 0-based index of the failed statement of a batch;
	// -1 otherwise.
	Statement int
	// HTTPStatus is the HTTP status of the answer.
	HTTPStatus int
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("phantom: ")
	if e.Code != "" {
		fmt.Fprintf(&b, "%s: ", e.Code)
	}
	b.WriteString(e.Message)
	if e.Position > 0 {
		fmt.Fprintf(&b, " (position %d)", e.Position)
	}
	if e.Statement >= 0 {
		fmt.Fprintf(&b, " (batch statement %d)", e.Statement)
	}
	return b.String()
}

// Retryable reports whether running the whole transaction again may
// succeed: serialization failures (40001), deadlocks (40P01), and storage
// unavailable or overload (57P03, 53000). 08007 is not retryable: the
// commit may have happened.
func (e *Error) Retryable() bool {
	switch e.Code {
	case "40001", "40P01", "57P03", "53000":
		return true
	}
	return false
}

// Code answers the SQLSTATE of err, or "" when err is not an *Error.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// readError turns a non-2xx answer into an *Error, consuming its body.
func readError(resp *http.Response) *Error {
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Error *struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			Detail    string `json:"detail"`
			Position  int    `json:"position"`
			Hint      string `json:"hint"`
			Statement *int   `json:"statement"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &body) != nil || body.Error == nil {
		msg := strings.TrimSpace(string(raw))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return &Error{Message: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, msg), Statement: -1, HTTPStatus: resp.StatusCode}
	}
	d := body.Error
	e := &Error{Code: d.Code, Message: d.Message, Detail: d.Detail, Position: d.Position, Hint: d.Hint,
		Statement: -1, HTTPStatus: resp.StatusCode}
	if d.Statement != nil {
		e.Statement = *d.Statement
	}
	return e
}
