// Package phantomsql is a database/sql driver for Phantom-DB over its HTTP
// SQL API, registered as "phantom":
//
//	db, err := sql.Open("phantom", "phantom://key@127.0.0.1:8432/phantom?timeout=5s")
//
// Each driver connection owns one server session (POST /v1/sessions,
// DELETE on Close), so transactions (db.BeginTx) hold across statements.
// Placeholders are $1, $2, ...; arguments travel as JSON parameters
// (int64, float64, string, bool, NULL; time.Time as an RFC 3339 string,
// []byte as a string). Prepared statements are client-side: Prepare keeps
// the SQL text and each execution sends it.
package phantomsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/phantom-db/phantom/sdk/phantom"
)

// DriverName is the name the driver is registered under.
const DriverName = "phantom"

func init() { sql.Register(DriverName, &Driver{}) }

// ErrBranchUnsupported is returned for a DSN naming a branch other than
// main: the HTTP API does not serve branches yet.
var ErrBranchUnsupported = errors.New("phantomsql: branches other than main are not supported yet")

// Driver is the database/sql driver. It implements driver.DriverContext.
type Driver struct{}

// Open opens a connection for dsn (see ParseDSN).
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector parses dsn once for a pool of connections.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return NewConnector(cfg)
}

// Config is a parsed DSN.
type Config struct {
	// BaseURL is the HTTP API's address, e.g. "http://127.0.0.1:8432".
	BaseURL string
	// APIKey is sent as a bearer token; empty sends none.
	APIKey string
	// Database names the database; empty means the server's.
	Database string
	// Branch is the branch to use. Only "main" (the default) is supported.
	Branch string
	// Timeout overrides the server's statement timeout per request; 0 keeps
	// the server's default (30 s).
	Timeout time.Duration
	// HTTPClient sends the requests. Default http.DefaultClient.
	HTTPClient *http.Client
	// Retry is the client's retry policy. Default phantom.DefaultRetryPolicy.
	Retry phantom.RetryPolicy
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.Branch == "" {
		c.Branch = "main"
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	c.Retry.EnsureDefaults()
}

// Validate reports an unusable configuration.
func (c *Config) Validate() error {
	switch {
	case c.BaseURL == "":
		return errors.New("phantomsql: BaseURL is required")
	case c.Branch != "main":
		return fmt.Errorf("%w (branch %q)", ErrBranchUnsupported, c.Branch)
	case c.Timeout < 0:
		return errors.New("phantomsql: timeout must not be negative")
	}
	return c.Retry.Validate()
}

// ParseDSN parses "phantom://[key@]host:port[/db][?branch=main&timeout=5s&tls=true]".
// tls=true speaks HTTPS; timeout is a Go duration.
func ParseDSN(dsn string) (*Config, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("phantomsql: DSN: %w", err)
	}
	if u.Scheme != "phantom" {
		return nil, fmt.Errorf("phantomsql: DSN %q: scheme must be phantom://", redact(u))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("phantomsql: DSN %q has no host", redact(u))
	}
	scheme := "http"
	cfg := &Config{Database: trimSlash(u.Path)}
	if u.User != nil {
		cfg.APIKey = u.User.Username()
		if p, ok := u.User.Password(); ok { // key given as user:secret
			cfg.APIKey += ":" + p
		}
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "branch":
			cfg.Branch = v
		case "timeout":
			if cfg.Timeout, err = time.ParseDuration(v); err != nil {
				return nil, fmt.Errorf("phantomsql: DSN timeout %q: %w", v, err)
			}
		case "tls":
			on, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("phantomsql: DSN tls %q: %w", v, err)
			}
			if on {
				scheme = "https"
			}
		default:
			return nil, fmt.Errorf("phantomsql: DSN: unknown parameter %q", k)
		}
	}
	cfg.BaseURL = scheme + "://" + u.Host
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func trimSlash(p string) string {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	return p
}

// redact hides the API key of a DSN in messages.
func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("REDACTED")
	}
	return c.String()
}

// Connector opens sessions on one server; use it with sql.OpenDB to pass
// a Config (an HTTP client, a retry policy) that a DSN cannot carry.
type Connector struct {
	cfg    Config
	client *phantom.Client
}

// NewConnector returns a connector for cfg.
func NewConnector(cfg *Config) (*Connector, error) {
	c := *cfg
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []phantom.Option{phantom.WithHTTPClient(c.HTTPClient), phantom.WithRetry(c.Retry),
		phantom.WithStatementTimeout(c.Timeout)}
	if c.APIKey != "" {
		opts = append(opts, phantom.WithAPIKey(c.APIKey))
	}
	if c.Database != "" {
		opts = append(opts, phantom.WithDatabase(c.Database))
	}
	client, err := phantom.New(c.BaseURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("phantomsql: %w", err)
	}
	return &Connector{cfg: c, client: client}, nil
}

// Connect opens a server session for one connection.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	sess, err := c.client.OpenSession(ctx)
	if err != nil {
		return nil, fmt.Errorf("phantomsql: open session: %w", err)
	}
	return &conn{client: c.client, sess: sess}, nil
}

// Driver returns the phantom driver.
func (c *Connector) Driver() driver.Driver { return &Driver{} }
