package sqlshell

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/phantom-db/phantom/sdk/phantom"
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

// Result is the answer to one statement; its row values are the server's
// JSON values (nil, bool, string, json.Number, or decoded jsonb), so the
// shell prints numbers exactly as the server wrote them.
type Result = phantom.Result

// Column describes one result column.
type Column = phantom.Column

// Error is a failure the server reported, with its SQLSTATE.
type Error = phantom.Error

// Client runs the shell's statements through the Go SDK (sdk/phantom),
// inside one server session once OpenSession succeeded. Statements are
// meant to run one at a time; Close may be called from another goroutine
// (a signal handler).
type Client struct {
	url string
	api *phantom.Client

	mu      sync.Mutex
	session *phantom.Session // nil without a session
}

// NewClient returns a client; it does not connect.
func NewClient(cfg ClientConfig) (*Client, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []phantom.Option{phantom.WithHTTPClient(cfg.HTTPClient), phantom.WithRawValues()}
	if cfg.APIKey != "" {
		opts = append(opts, phantom.WithAPIKey(cfg.APIKey))
	}
	if cfg.Database != "" {
		opts = append(opts, phantom.WithDatabase(cfg.Database))
	}
	api, err := phantom.New(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqlshell: %w", err)
	}
	return &Client{url: cfg.URL, api: api}, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.url }

func (c *Client) current() *phantom.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// InSession reports whether statements run in a server session.
func (c *Client) InSession() bool { return c.current() != nil }

// OpenSession opens a server session (POST /v1/sessions) so a transaction
// can span statements. A server without sessions answers an *Error with
// code 0A000.
func (c *Client) OpenSession(ctx context.Context) error {
	s, err := c.api.OpenSession(ctx)
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	c.mu.Lock()
	c.session = s
	c.mu.Unlock()
	return nil
}

// Close closes the session, if one is open (DELETE /v1/sessions/{id}),
// which rolls back a transaction left open.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	s := c.session
	c.session = nil
	c.mu.Unlock()
	if s == nil {
		return nil
	}
	if err := s.Close(ctx); err != nil {
		return fmt.Errorf("close session: %w", err)
	}
	return nil
}

// Query runs one statement (POST /v1/sql) in the session if one is open.
func (c *Client) Query(ctx context.Context, query string) (*Result, error) {
	if s := c.current(); s != nil {
		return s.Query(ctx, query)
	}
	return c.api.Query(ctx, query)
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
