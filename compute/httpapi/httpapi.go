// Package httpapi serves the compute node's HTTP SQL API:
//
//	POST /v1/sql   {"query": "...", "params": [...], "database": "..."}
//	GET  /healthz
//
// A successful statement answers 200 with
// {"columns":[{"name","type"}], "rows":[[...]], "command", "row_count",
// "timing":{"elapsed_ms"}}; a failed one answers a 4xx/5xx status chosen from
// its SQLSTATE class with {"error":{"code","message","detail","position","hint"}}.
// When the query holds several statements they run in order, each in its
// own transaction, and the answer describes the last one.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Executor runs SQL text; *sql.Engine implements it.
type Executor interface {
	Execute(ctx context.Context, query string, params []any) ([]*sql.Result, error)
}

// Config configures the HTTP SQL API.
type Config struct {
	// Executor runs the statements. Required.
	Executor Executor
	// Database is the name of the database this compute serves; a request
	// naming another database answers 404. Default "phantom".
	Database string
	// MaxBodyBytes bounds a request body, in bytes. Default 1 MiB.
	MaxBodyBytes int64
	// StatementTimeout bounds one request's execution. Default 30 s.
	StatementTimeout time.Duration
	// MaxConcurrent bounds requests executing at once; more wait for a slot
	// until their timeout. Default 64.
	MaxConcurrent int
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.Database == "" {
		c.Database = "phantom"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.StatementTimeout == 0 {
		c.StatementTimeout = 30 * time.Second
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 64
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a configuration error.
func (c *Config) Validate() error {
	switch {
	case c.Executor == nil:
		return errors.New("httpapi: Executor is required")
	case c.MaxBodyBytes < 0, c.StatementTimeout < 0, c.MaxConcurrent < 0:
		return errors.New("httpapi: limits must not be negative")
	}
	return nil
}

// Server is the HTTP SQL API handler.
type Server struct {
	cfg   Config
	slots chan struct{}
	mux   *http.ServeMux
}

// New returns the API handler.
func New(cfg Config) (*Server, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, slots: make(chan struct{}, cfg.MaxConcurrent), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("POST /v1/sql", s.handleSQL)
	s.mux.HandleFunc("/v1/sql", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, &sqlerr.Error{Code: "08P01", Message: "use POST for /v1/sql"})
	})
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Request is the body of POST /v1/sql.
type Request struct {
	Query    string `json:"query"`
	Params   []any  `json:"params"`
	Database string `json:"database,omitempty"`
}

// Column describes one result column.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Response is the body of a successful POST /v1/sql.
type Response struct {
	Columns  []Column `json:"columns"`
	Rows     [][]any  `json:"rows"`
	Command  string   `json:"command"`
	RowCount int64    `json:"row_count"`
	Timing   Timing   `json:"timing"`
}

// Timing reports how long the request took on the server.
type Timing struct {
	ElapsedMS float64 `json:"elapsed_ms"`
}

// ErrorBody is the body of a failed request.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries a SQLSTATE and the message of a failure.
type ErrorDetail struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Detail   string `json:"detail,omitempty"`
	Position int    `json:"position,omitempty"`
	Hint     string `json:"hint,omitempty"`
}

func (s *Server) handleSQL(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	req, err := s.decode(w, r)
	if err != nil {
		status := http.StatusBadRequest
		if sqlerr.Code(err) == "54000" {
			status = http.StatusRequestEntityTooLarge
		}
		writeError(w, status, err)
		return
	}
	if req.Database != "" && req.Database != s.cfg.Database {
		writeError(w, http.StatusNotFound, &sqlerr.Error{Code: "3D000", Message: fmt.Sprintf("database %q does not exist", req.Database)})
		return
	}
	if strings.TrimSpace(req.Query) == "" {
		writeError(w, http.StatusBadRequest, &sqlerr.Error{Code: "42601", Message: "query is empty"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StatementTimeout)
	defer cancel()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		writeError(w, http.StatusServiceUnavailable, &sqlerr.Error{Code: "53000", Message: "too many concurrent requests"})
		return
	}
	results, err := s.cfg.Executor.Execute(ctx, req.Query, req.Params)
	defer func() {
		for _, res := range results {
			res.Release()
		}
	}()
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded && r.Context().Err() == nil {
			err = &sqlerr.Error{Code: "57014", Message: fmt.Sprintf("canceling statement due to statement timeout (%s)", s.cfg.StatementTimeout)}
		}
		status := statusFor(sqlerr.Code(err))
		if status >= 500 {
			s.cfg.Logger.Error("sql request failed", "err", err)
		}
		writeError(w, status, err)
		return
	}
	resp := Response{Columns: []Column{}, Rows: [][]any{}}
	if n := len(results); n > 0 {
		last := results[n-1]
		for _, c := range last.Columns {
			resp.Columns = append(resp.Columns, Column{Name: c.Name, Type: c.Type})
		}
		for _, row := range last.Rows() {
			for i, v := range row {
				row[i] = jsonSafe(v)
			}
			resp.Rows = append(resp.Rows, row)
		}
		resp.Command = last.Command
		resp.RowCount = last.RowCount
	}
	resp.Timing.ElapsedMS = float64(time.Since(start).Microseconds()) / 1000
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) decode(w http.ResponseWriter, r *http.Request) (*Request, error) {
	// The body is JSON whatever the Content-Type says: `curl -d` sends
	// application/x-www-form-urlencoded, and refusing it helps nobody.
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var req Request
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &sqlerr.Error{Code: "54000", Message: fmt.Sprintf("request body exceeds %d bytes", s.cfg.MaxBodyBytes)}
		}
		return nil, &sqlerr.Error{Code: "08P01", Message: "invalid JSON body: " + err.Error(),
			Hint: `send {"query": "...", "params": [...]}`}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &sqlerr.Error{Code: "08P01", Message: "invalid JSON body: trailing data after the request object"}
	}
	return &req, nil
}

// statusFor maps a SQLSTATE to an HTTP status.
func statusFor(code string) int {
	switch {
	case code == "57014":
		return http.StatusRequestTimeout
	case code == "40001", code == "40P01", strings.HasPrefix(code, "23"):
		return http.StatusConflict
	case code == "3D000":
		return http.StatusNotFound
	case code == "54000":
		return http.StatusRequestEntityTooLarge
	case strings.HasPrefix(code, "53"), strings.HasPrefix(code, "08"), code == "57P01", code == "57P03":
		return http.StatusServiceUnavailable
	case strings.HasPrefix(code, "XX"), strings.HasPrefix(code, "58"):
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

// jsonSafe turns values JSON cannot carry (NaN, ±Inf) into strings, as
// PostgreSQL prints them.
func jsonSafe(v any) any {
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return types.FormatText(f)
	}
	return v
}

func writeError(w http.ResponseWriter, status int, err error) {
	d := ErrorDetail{Code: sqlerr.Code(err), Message: err.Error()}
	var se *sqlerr.Error
	if errors.As(err, &se) {
		d.Message, d.Detail, d.Position, d.Hint = se.Message, se.Detail, se.Position, se.Hint
	}
	writeJSON(w, status, ErrorBody{Error: d})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
