package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

func (s *Server) handleSQL(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req Request
	if !s.decode(w, r, &req) || !s.checkDatabase(w, req.Database) {
		return
	}
	if strings.TrimSpace(req.Query) == "" {
		writeError(w, http.StatusBadRequest, &sqlerr.Error{Code: "42601", Message: "query is empty"})
		return
	}
	if req.AsOf != nil && !s.checkAsOf(w, req) {
		return
	}
	if req.Branch != "" && req.Session != "" {
		writeError(w, http.StatusBadRequest, &sqlerr.Error{Code: "22023", Message: `"branch" cannot be combined with "session"`,
			Hint: `open the session with {"branch": ...} or run SET phantom.branch = '...' in it`})
		return
	}
	if !s.checkBranch(w, req.Branch) {
		return
	}
	ctx, done, timeout, ok := s.admit(w, r, req.TimeoutMS)
	if !ok {
		return
	}
	defer done()

	var results []*sql.Result
	var err error
	if req.AsOf != nil || req.Branch != "" {
		results, err = s.executeFresh(ctx, req)
	} else if req.Session != "" {
		results, err = s.sessions.execute(ctx, principalOf(r.Context()).KeyID, req.Session, req.Query, req.Params)
	} else if principalOf(r.Context()).ReadOnly {
		sess := s.cfg.NewReadOnlySession()
		results, err = sess.Execute(ctx, req.Query, req.Params)
		sess.Close()
	} else {
		results, err = s.cfg.Executor.Execute(ctx, req.Query, req.Params)
	}
	defer releaseAll(results)
	if err != nil {
		s.fail(w, r, ctx, timeout, err)
		return
	}
	var last *sql.Result
	if n := len(results); n > 0 {
		last = results[n-1]
	}
	s.writeResult(w, r, last, start)
}

// checkAsOf answers the errors of an "as_of" request that can be told
// before running it.
func (s *Server) checkAsOf(w http.ResponseWriter, req Request) bool {
	if req.Session != "" {
		writeError(w, http.StatusBadRequest, &sqlerr.Error{Code: "22023", Message: `"as_of" cannot be combined with "session"`,
			Hint: "run SET phantom.as_of = '...' in the session instead"})
		return false
	}
	if _, err := asOfTS(req.AsOf); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return false
	}
	return s.sessionsEnabled(w)
}

// asOfTS parses the "as_of" field: an RFC 3339 string, or a hybrid
// timestamp as a JSON number or a string of digits.
func asOfTS(v any) (uint64, error) {
	var text string
	switch v := v.(type) {
	case string:
		text = v
	case json.Number:
		text = v.String()
	default:
		return 0, &sqlerr.Error{Code: "22023", Message: fmt.Sprintf(`"as_of" must be an RFC 3339 string or a timestamp number, not %v`, v)}
	}
	return sql.ParseAsOf(text)
}

// executeFresh runs the request in a fresh session (read-only for a
// read-only key) on its "branch", reading at its "as_of".
func (s *Server) executeFresh(ctx context.Context, req Request) ([]*sql.Result, error) {
	sess := s.newSessionFor(ctx)
	defer sess.Close()
	if req.AsOf != nil {
		ts, err := asOfTS(req.AsOf)
		if err != nil {
			return nil, err
		}
		set, err := sess.Execute(ctx, fmt.Sprintf("SET phantom.as_of = '%d'", ts), nil)
		releaseAll(set)
		if err != nil {
			return nil, err
		}
	}
	if err := useBranch(ctx, sess, req.Branch); err != nil {
		return nil, err
	}
	return sess.Execute(ctx, req.Query, req.Params)
}

// BatchRequest is the body of POST /v1/sql/batch: the statements run in one
// transaction, all or nothing.
type BatchRequest struct {
	Statements []Statement `json:"statements"`
	Database   string      `json:"database,omitempty"`
	// Branch runs the batch on this branch of the database.
	Branch string `json:"branch,omitempty"`
	// TimeoutMS bounds the whole batch, in milliseconds.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// Statement is one statement of a batch.
type Statement struct {
	Query  string `json:"query"`
	Params []any  `json:"params"`
}

// BatchResponse answers a committed batch: one result per statement.
type BatchResponse struct {
	Results []Response `json:"results"`
	Timing  Timing     `json:"timing"`
}

func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req BatchRequest
	if !s.decode(w, r, &req) || !s.checkDatabase(w, req.Database) || !s.sessionsEnabled(w) || !s.checkBranch(w, req.Branch) {
		return
	}
	if len(req.Statements) == 0 {
		writeError(w, http.StatusBadRequest, &sqlerr.Error{Code: "42601", Message: "batch has no statements"})
		return
	}
	ctx, done, timeout, ok := s.admit(w, r, req.TimeoutMS)
	if !ok {
		return
	}
	defer done()

	sess := s.newSessionFor(r.Context())
	defer sess.Close() // rolls back unless committed
	run := func(query string, params []any) ([]*sql.Result, error) {
		return sess.Execute(ctx, query, params)
	}
	if err := useBranch(ctx, sess, req.Branch); err != nil {
		s.fail(w, r, ctx, timeout, err)
		return
	}
	if _, err := run("BEGIN", nil); err != nil {
		s.fail(w, r, ctx, timeout, err)
		return
	}
	resp := BatchResponse{Results: make([]Response, 0, len(req.Statements))}
	for i, st := range req.Statements {
		results, err := run(st.Query, st.Params)
		if err == nil && len(results) != 1 {
			err = &sqlerr.Error{Code: "42601", Message: fmt.Sprintf("batch statement %d holds %d statements; send one per entry", i, len(results))}
		}
		if err != nil {
			releaseAll(results)
			idx := i
			s.failStatement(w, r, ctx, timeout, err, &idx)
			return
		}
		resp.Results = append(resp.Results, jsonResponse(results[0]))
		releaseAll(results)
	}
	results, err := run("COMMIT", nil)
	defer releaseAll(results)
	if err == nil && len(results) == 1 && results[0].Command != "COMMIT" {
		err = &sqlerr.Error{Code: "40001", Message: "batch transaction was rolled back"}
	}
	if err != nil {
		s.fail(w, r, ctx, timeout, err)
		return
	}
	resp.Timing.ElapsedMS = elapsedMS(start)
	writeJSON(w, http.StatusOK, resp)
}

// admit bounds the request by its timeout_ms (capped) or the configured
// statement timeout, then takes an execution slot, waiting for one until
// that bound. When it answers false it has written the error; otherwise done
// releases the slot and the context.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, timeoutMS int64) (ctx context.Context, done func(), timeout time.Duration, ok bool) {
	if timeoutMS < 0 {
		writeError(w, http.StatusBadRequest, &sqlerr.Error{Code: "22023", Message: "timeout_ms must not be negative"})
		return nil, nil, 0, false
	}
	timeout = s.cfg.StatementTimeout
	if timeoutMS > 0 {
		timeout = min(time.Duration(timeoutMS)*time.Millisecond, s.cfg.MaxTimeout)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	select {
	case s.slots <- struct{}{}:
		return ctx, func() { <-s.slots; cancel() }, timeout, true
	case <-ctx.Done():
		cancel()
		writeError(w, http.StatusServiceUnavailable, &sqlerr.Error{Code: "53000", Message: "too many concurrent requests"})
		return nil, nil, 0, false
	}
}

func (s *Server) checkDatabase(w http.ResponseWriter, db string) bool {
	if db != "" && db != s.cfg.Database {
		writeError(w, http.StatusNotFound, &sqlerr.Error{Code: "3D000", Message: fmt.Sprintf("database %q does not exist", db)})
		return false
	}
	return true
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, ctx context.Context, timeout time.Duration, err error) {
	s.failStatement(w, r, ctx, timeout, err, nil)
}

func (s *Server) failStatement(w http.ResponseWriter, r *http.Request, ctx context.Context, timeout time.Duration, err error, stmt *int) {
	if errors.Is(err, errSessionNotFound) {
		writeErrorAt(w, http.StatusNotFound, &sqlerr.Error{Code: "08003", Message: err.Error()}, stmt)
		return
	}
	if errors.Is(err, errTooManySessions) {
		writeErrorAt(w, http.StatusTooManyRequests, &sqlerr.Error{Code: "53300", Message: err.Error()}, stmt)
		return
	}
	if timedOut(ctx) && r.Context().Err() == nil {
		err = &sqlerr.Error{Code: "57014", Message: fmt.Sprintf("canceling statement due to statement timeout (%s)", timeout)}
	}
	status := statusFor(sqlerr.Code(err))
	if status >= 500 {
		s.cfg.Logger.Error("sql request failed", "err", err)
	}
	writeErrorAt(w, status, err, stmt)
}

// timedOut reports whether ctx's deadline has passed. The clock is read
// too: a gRPC call can fail with DeadlineExceeded a moment before ctx's own
// timer marks ctx done, and the storage layer reports that as 57P03.
func timedOut(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// decode reads a JSON body into v, answering the error itself when it
// cannot. The body is JSON whatever the Content-Type says: `curl -d` sends
// application/x-www-form-urlencoded, and refusing it helps nobody.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	dec.UseNumber()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the request object")
		}
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, &sqlerr.Error{Code: "54000", Message: fmt.Sprintf("request body exceeds %d bytes", s.cfg.MaxBodyBytes)})
		return false
	}
	writeError(w, http.StatusBadRequest, &sqlerr.Error{Code: "08P01", Message: "invalid JSON body: " + err.Error(),
		Hint: `send {"query": "...", "params": [...]}`})
	return false
}

func releaseAll(results []*sql.Result) {
	for _, res := range results {
		res.Release()
	}
}

func elapsedMS(start time.Time) float64 {
	return float64(time.Since(start).Microseconds()) / 1000
}
