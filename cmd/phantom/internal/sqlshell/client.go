package sqlshell

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ErrNoURL is returned by NewClient when ClientConfig.URL is empty.
var ErrNoURL = errors.New("sqlshell: server URL is required")

// ClientConfig configures a Client of the HTTP SQL API.
type ClientConfig struct {
	// URL is the compute node's HTTP API, e.g. http://127.0.0.1:8432.
	// Required.
	URL string
	// Database is sent with every request; the server rejects a name other
	// than the database it serves. Default "" (the server's database).
	Database string
	// APIKey is sent as "Authorization: Bearer <key>"; empty sends none.
	APIKey string
	// HTTPClient sends the requests. Default: a client without a timeout
	// (the server bounds statements with its statement timeout).
	HTTPClient *http.Client
}

// EnsureDefaults fills unset fields with their defaults.
func (c *ClientConfig) EnsureDefaults() {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	c.URL = strings.TrimRight(c.URL, "/")
}

// Validate reports a configuration that cannot work.
func (c *ClientConfig) Validate() error {
	if c.URL == "" {
		return ErrNoURL
	}
	if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		return fmt.Errorf("sqlshell: URL %q: want http:// or https://", c.URL)
	}
	return nil
}

// Client talks to the HTTP SQL API (docs/http-api.md), inside one session
// once OpenSession succeeded. Statements are meant to run one at a time;
// Close may be called from another goroutine (a signal handler).
type Client struct {
	cfg ClientConfig

	mu      sync.Mutex
	session string // "" without a session
}

func (c *Client) sessionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// NewClient returns a client; it does not connect.
func NewClient(cfg ClientConfig) (*Client, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg}, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.cfg.URL }

// Column describes one result column.
type Column struct {
	Name string `json:"name"`
	// Type is the PostgreSQL type name (int4, text, ...).
	Type string `json:"type"`
}

// Result is the answer to one statement. Row values are nil, bool,
// string or json.Number (numbers keep the server's text).
type Result struct {
	Columns  []Column `json:"columns"`
	Rows     [][]any  `json:"rows"`
	Command  string   `json:"command"`
	RowCount int64    `json:"row_count"`
	Timing   struct {
		ElapsedMS float64 `json:"elapsed_ms"`
	} `json:"timing"`
}

// Error is a failure the server reported, with its SQLSTATE.
type Error struct {
	// Status is the HTTP status of the answer.
	Status   int    `json:"-"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Detail   string `json:"detail,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Position int    `json:"position,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s (SQLSTATE %s)", e.Message, e.Code) }

// InSession reports whether statements run in a server session.
func (c *Client) InSession() bool { return c.sessionID() != "" }

// OpenSession opens a server session (POST /v1/sessions) so a transaction
// can span statements. A server without sessions answers an *Error with
// code 0A000.
func (c *Client) OpenSession(ctx context.Context) error {
	var out struct {
		Session string `json:"session"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/sessions", nil, &out); err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	c.mu.Lock()
	c.session = out.Session
	c.mu.Unlock()
	return nil
}

// Close closes the session, if one is open (DELETE /v1/sessions/{id}),
// which rolls back a transaction left open.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	id := c.session
	c.session = ""
	c.mu.Unlock()
	if id == "" {
		return nil
	}
	if err := c.do(ctx, http.MethodDelete, "/v1/sessions/"+id, nil, nil); err != nil {
		return fmt.Errorf("close session: %w", err)
	}
	return nil
}

// Query runs one statement (POST /v1/sql) in the session if one is open.
func (c *Client) Query(ctx context.Context, query string) (*Result, error) {
	body := map[string]any{"query": query}
	if c.cfg.Database != "" {
		body["database"] = c.cfg.Database
	}
	if id := c.sessionID(); id != "" {
		body["session"] = id
	}
	var res Result
	if err := c.do(ctx, http.MethodPost, "/v1/sql", body, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// do sends one request and decodes a 2xx answer into out (if not nil) or
// an error answer into *Error.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("sqlshell: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.URL+path, rd)
	if err != nil {
		return fmt.Errorf("sqlshell: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("sqlshell: %w", err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if resp.StatusCode/100 != 2 {
		var eb struct {
			Error *Error `json:"error"`
		}
		if err := dec.Decode(&eb); err != nil || eb.Error == nil {
			return fmt.Errorf("sqlshell: %s %s: HTTP %s", method, path, resp.Status)
		}
		eb.Error.Status = resp.StatusCode
		return eb.Error
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("sqlshell: decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// closeTimeout bounds closing the session on the way out.
const closeTimeout = 5 * time.Second

// CloseWithTimeout closes the session with a fresh bounded context: the
// caller's context may already be cancelled when the shell exits.
func (c *Client) CloseWithTimeout() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return c.Close(ctx)
}
