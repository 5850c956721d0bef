// Package failover sends HTTP requests to the first of several equivalent
// servers that accepts a connection: the replicas of the control plane,
// any of which answers every call (followers forward to the leader).
//
// Invariant: a request is sent to another server only when the one tried
// refused the connection (the dial failed), so the request never reached
// it and a write is never sent twice.
package failover

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// Parse splits a comma-separated list of base URLs (scheme://host:port,
// with no path) into URLs.
func Parse(list string) ([]*url.URL, error) {
	var out []*url.URL
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("failover: %q is not a base URL like http://host:port", s)
		}
		out = append(out, &url.URL{Scheme: u.Scheme, Host: u.Host})
	}
	if len(out) == 0 {
		return nil, errors.New("failover: no URL given")
	}
	return out, nil
}

// Transport is an http.RoundTripper that sends each request to one of
// Servers: the one that last accepted a connection, else the next in
// order. The request's own scheme and host are replaced.
type Transport struct {
	servers []*url.URL
	base    http.RoundTripper
	current atomic.Int32
}

// NewTransport returns a Transport over servers; base sends the requests
// (nil: http.DefaultTransport).
func NewTransport(servers []*url.URL, base http.RoundTripper) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{servers: servers, base: base}
}

// NewClient parses list and returns an http.Client with a Transport over
// it, and the first server's base URL (what callers build request URLs
// on: its host is replaced per request).
func NewClient(list string, client http.Client) (*http.Client, string, error) {
	servers, err := Parse(list)
	if err != nil {
		return nil, "", err
	}
	client.Transport = NewTransport(servers, client.Transport)
	return &client, servers[0].String(), nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := int(t.current.Load())
	var last error
	for i := range t.servers {
		k := (start + i) % len(t.servers)
		r := req.Clone(req.Context())
		u := *req.URL
		u.Scheme, u.Host = t.servers[k].Scheme, t.servers[k].Host
		r.URL, r.Host = &u, ""
		if i > 0 && req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, last
			}
			b, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("failover: rewind body: %w", err)
			}
			r.Body = b
		}
		resp, err := t.base.RoundTrip(r)
		if err == nil {
			t.current.Store(int32(k))
			return resp, nil
		}
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			return nil, err
		}
		last = err
	}
	return nil, fmt.Errorf("failover: no server of %d accepted a connection: %w", len(t.servers), last)
}
