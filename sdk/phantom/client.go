// Package phantom is the Go client of Phantom-DB's HTTP SQL API
// (docs/http-api.md): one-shot queries (POST /v1/sql), all-or-nothing
// batches (POST /v1/sql/batch), sessions that hold an interactive
// transaction (POST/DELETE /v1/sessions), and Arrow IPC results.
//
// Results are typed: every value of a row is decoded from JSON according to
// its column's PostgreSQL type (bool -> bool, int4/int8 -> int64, float8 ->
// float64, text -> string, NULL -> nil). Failures are *Error values carrying
// the SQLSTATE. Requests are retried only when retrying cannot run a
// statement twice (see RetryPolicy).
package phantom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Media types of the API's answers.
const (
	mediaJSON  = "application/json"
	mediaArrow = "application/vnd.apache.arrow.stream"
)

// ErrInvalidArg is returned (wrapped) for a query argument that cannot be
// sent as a JSON parameter.
var ErrInvalidArg = errors.New("phantom: unsupported argument type")

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for every request. Default: a
// client with no overall timeout (deadlines come from the context).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithAPIKey sends key as "Authorization: Bearer <key>" on every request.
// Keys are issued by the control plane (POST /v1/tenants/{t}/api-keys);
// `phantom dev` prints one.
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithDatabase names the database every request targets; the server answers
// 404 (3D000) when it serves another one. Default: the server's database.
func WithDatabase(db string) Option { return func(c *Client) { c.database = db } }

// WithRawValues keeps row values as the server sent them in JSON instead
// of typing them by column: numbers stay json.Number (the server's exact
// text, e.g. a NUMERIC's digits), other values string, bool, nil, or the
// decoded JSON of a jsonb. For tools that print results (`phantom sql`).
func WithRawValues() Option { return func(c *Client) { c.raw = true } }

// WithRetry sets the retry policy. Default: DefaultRetryPolicy.
func WithRetry(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// WithStatementTimeout sends timeout_ms on every request, overriding the
// server's statement timeout (capped by its --max-timeout). Default 0: the
// server's default.
func WithStatementTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// Client talks to one compute node's HTTP SQL API. It is safe for
// concurrent use.
type Client struct {
	base     *url.URL
	hc       *http.Client
	apiKey   string
	database string
	retry    RetryPolicy
	timeout  time.Duration
	raw      bool
}

// New returns a client of the API at baseURL (e.g. "http://127.0.0.1:8432").
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("phantom: base URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("phantom: base URL %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("phantom: base URL %q has no host", baseURL)
	}
	c := &Client{base: u, hc: http.DefaultClient, retry: DefaultRetryPolicy}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	c.retry.EnsureDefaults()
	if err := c.retry.Validate(); err != nil {
		return nil, err
	}
	if c.timeout < 0 {
		return nil, errors.New("phantom: statement timeout must not be negative")
	}
	return c, nil
}

// Column describes one result column.
type Column struct {
	// Name is the column's name.
	Name string `json:"name"`
	// Type is its PostgreSQL type name: bool, int4, int8, float8, text.
	Type string `json:"type"`
}

// Result is the answer to one statement.
type Result struct {
	// Columns describes the columns; empty for statements without rows.
	Columns []Column
	// Rows holds the values, typed per column: int64, float64, string, bool,
	// or nil for NULL.
	Rows [][]any
	// Command is the PostgreSQL command tag ("SELECT 2", "INSERT 0 1").
	Command string
	// RowCount is the number of rows returned or affected.
	RowCount int64
	// Elapsed is the server's execution time.
	Elapsed time.Duration
}

// ExecResult is the answer to a statement run for its effect.
type ExecResult struct {
	// Command is the PostgreSQL command tag ("UPDATE 3").
	Command string
	// RowsAffected is the number of rows inserted, updated or deleted (or
	// returned, for a SELECT).
	RowsAffected int64
}

// Statement is one statement of a batch.
type Statement struct {
	// Query is the SQL text of one statement.
	Query string
	// Args are the values of $1, $2, ...
	Args []any
}

// Query runs sql (one or more statements separated by ';') with args bound
// to $1, $2, ... and answers the last statement's result.
func (c *Client) Query(ctx context.Context, sql string, args ...any) (*Result, error) {
	return c.query(ctx, "", sql, args)
}

// Exec runs sql for its effect and answers its command tag and row count.
func (c *Client) Exec(ctx context.Context, sql string, args ...any) (ExecResult, error) {
	res, err := c.query(ctx, "", sql, args)
	if err != nil {
		return ExecResult{}, err
	}
	return ExecResult{Command: res.Command, RowsAffected: res.RowCount}, nil
}

// Batch runs the statements in one transaction, all or nothing, and answers
// one result per statement. A failed statement rolls the whole batch back;
// the *Error's Statement field names it (0-based).
func (c *Client) Batch(ctx context.Context, stmts []Statement) ([]*Result, error) {
	type wireStmt struct {
		Query  string `json:"query"`
		Params []any  `json:"params"`
	}
	body := struct {
		Statements []wireStmt `json:"statements"`
		Database   string     `json:"database,omitempty"`
		TimeoutMS  int64      `json:"timeout_ms,omitempty"`
	}{Statements: make([]wireStmt, len(stmts)), Database: c.database, TimeoutMS: c.timeout.Milliseconds()}
	for i, s := range stmts {
		params, err := encodeArgs(s.Args)
		if err != nil {
			return nil, fmt.Errorf("phantom: batch statement %d: %w", i, err)
		}
		body.Statements[i] = wireStmt{Query: s.Query, Params: params}
	}
	var out struct {
		Results []wireResult `json:"results"`
	}
	// A batch is one transaction: a 503 57P03/53000 means it rolled back, so
	// retrying it cannot apply it twice.
	if err := c.do(ctx, http.MethodPost, "/v1/sql/batch", body, mediaJSON, retryAny, &out); err != nil {
		return nil, err
	}
	results := make([]*Result, len(out.Results))
	for i := range out.Results {
		r, err := out.Results[i].decode(c.raw)
		if err != nil {
			return nil, err
		}
		results[i] = r
	}
	return results, nil
}

// Ping checks that the server answers GET /healthz.
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, mediaJSON, retryAny, nil)
}

// sqlRequest is the body of POST /v1/sql.
type sqlRequest struct {
	Query     string `json:"query"`
	Params    []any  `json:"params"`
	Database  string `json:"database,omitempty"`
	Session   string `json:"session,omitempty"`
	TimeoutMS int64  `json:"timeout_ms,omitempty"`
}

func (c *Client) newSQLRequest(session, sql string, args []any) (sqlRequest, error) {
	params, err := encodeArgs(args)
	if err != nil {
		return sqlRequest{}, err
	}
	return sqlRequest{Query: sql, Params: params, Database: c.database, Session: session,
		TimeoutMS: c.timeout.Milliseconds()}, nil
}

func (c *Client) query(ctx context.Context, session, sql string, args []any) (*Result, error) {
	req, err := c.newSQLRequest(session, sql, args)
	if err != nil {
		return nil, err
	}
	var out wireResult
	if err := c.do(ctx, http.MethodPost, "/v1/sql", req, mediaJSON, retryModeFor(session), &out); err != nil {
		return nil, err
	}
	return out.decode(c.raw)
}

// retryModeFor picks which server answers may be retried. Outside a session
// each request is its own transaction, which a 57P03 or 53000 rolled back.
// Inside a session a failed statement may have aborted the open
// transaction, so only 53000 (refused before it ran) is retried.
func retryModeFor(session string) retryMode {
	if session != "" {
		return retryNotStarted
	}
	return retryAny
}

// do sends one API request (retrying per policy and mode) and decodes a
// successful JSON answer into out (when non-nil).
func (c *Client) do(ctx context.Context, method, path string, body any, accept string, mode retryMode, out any) error {
	resp, err := c.send(ctx, method, path, body, accept, mode)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("phantom: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// send sends one request, retrying it as the policy and mode allow, and
// answers the first successful (2xx) response; a failure is an *Error or a
// transport error.
func (c *Client) send(ctx context.Context, method, path string, body any, accept string, mode retryMode) (*http.Response, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("phantom: encode request: %w", err)
		}
	}
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(payload))
		if err != nil {
			return nil, fmt.Errorf("phantom: %s %s: %w", method, path, err)
		}
		if body != nil {
			req.Header.Set("Content-Type", mediaJSON)
		}
		req.Header.Set("Accept", accept)
		if c.apiKey != "" {
			req.Header.Set("Authorization", "Bearer "+c.apiKey)
		}
		req, sent := traceSent(req)
		resp, err := c.hc.Do(req)
		var retry bool
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("phantom: %s %s: %w", method, path, ctx.Err())
			}
			err = fmt.Errorf("phantom: %s %s: %w", method, path, err)
			retry = !sent()
		} else if resp.StatusCode < 200 || resp.StatusCode > 299 {
			apiErr := readError(resp)
			err, retry = apiErr, mode.allows(apiErr)
		} else {
			return resp, nil
		}
		if !retry || attempt >= c.retry.MaxAttempts {
			return nil, err
		}
		if werr := c.retry.wait(ctx, attempt); werr != nil {
			return nil, fmt.Errorf("%w (retry abandoned: %v)", err, werr)
		}
	}
}
