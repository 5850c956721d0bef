package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	controlplane "github.com/phantom-db/phantom/control-plane"
)

// HTTP headers that choose the target of an HTTP request.
const (
	HeaderTenant   = "Phantom-Tenant"
	HeaderDatabase = "Phantom-Database"
	HeaderBranch   = "Phantom-Branch"
	HeaderEndpoint = "Phantom-Endpoint"
	// HeaderCompute is set on responses: the compute that served the
	// request.
	HeaderCompute = "Phantom-Compute"
)

// hopHeaders are not forwarded (RFC 9110 section 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// Handler answers the HTTP side of the proxy: GET /healthz, and POST
// /v1/sql and /v1/sql/batch forwarded to a compute. HTTP sessions
// (/v1/sessions) are not routed yet: they answer 501.
func (p *Proxy) Handler() http.Handler {
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: p.cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	fwd := func(w http.ResponseWriter, r *http.Request) { p.forward(w, r, transport) }
	mux.HandleFunc("POST /v1/sql", fwd)
	mux.HandleFunc("POST /v1/sql/batch", fwd)
	mux.HandleFunc("/v1/sessions", notRouted)
	mux.HandleFunc("/v1/sessions/", notRouted)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "42000", "no such route: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

func notRouted(w http.ResponseWriter, r *http.Request) {
	writeErr(w, http.StatusNotImplemented, "0A000", "HTTP sessions are not routed by the proxy yet; use /v1/sql, /v1/sql/batch or the PostgreSQL protocol")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr answers the HTTP SQL API's error shape.
func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// target reads the routing fields of r and answers the body to forward
// (with a "db@branch" database rewritten to "db").
func (p *Proxy) target(r *http.Request, body []byte) (Target, []byte, error) {
	t := Target{Tenant: r.Header.Get(HeaderTenant), Database: r.Header.Get(HeaderDatabase),
		Branch: r.Header.Get(HeaderBranch), Endpoint: r.Header.Get(HeaderEndpoint)}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return t, body, errors.New("invalid JSON body: " + err.Error())
	}
	raw, ok := fields["database"]
	if !ok {
		return p.fill(t), body, nil
	}
	var db string
	if err := json.Unmarshal(raw, &db); err != nil {
		return t, body, errors.New(`"database" must be a string`)
	}
	if t.Database == "" {
		t.Database = db
	}
	if name, _, ok := strings.Cut(db, "@"); ok {
		fields["database"], _ = json.Marshal(name)
		b, err := json.Marshal(fields)
		if err != nil {
			return t, body, err
		}
		body = b
	}
	return p.fill(t), body, nil
}

func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, transport http.RoundTripper) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeErr(w, http.StatusRequestEntityTooLarge, "54000", err.Error())
			return
		}
		writeErr(w, http.StatusBadRequest, "08P01", "read request body: "+err.Error())
		return
	}
	t, body, err := p.target(r, body)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "22P02", err.Error())
		return
	}
	for attempt := 0; ; attempt++ {
		c, release, err := p.pick(r.Context(), t)
		if err != nil {
			p.pickFailed(w, r, err)
			return
		}
		resp, err := p.send(r, transport, c, body)
		if err != nil {
			release()
			if isDialError(err) && attempt < 3 {
				p.cfg.Logger.Warn("proxy: compute unreachable; trying another", "compute", c.ID, "err", err)
				p.markUnreachable(c)
				continue
			}
			if r.Context().Err() != nil {
				return
			}
			writeErr(w, http.StatusBadGateway, "08006", "compute "+c.ID+": "+err.Error())
			return
		}
		for _, h := range hopHeaders {
			resp.Header.Del(h)
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.Header().Set(HeaderCompute, c.ID)
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(flushWriter{w}, resp.Body)
		resp.Body.Close()
		release()
		return
	}
}

func (p *Proxy) pickFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrUnknown):
		writeErr(w, http.StatusNotFound, "3D000", err.Error())
	case errors.Is(err, ErrNotReady), errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, "57P03", err.Error())
	case r.Context().Err() != nil:
	default:
		writeErr(w, http.StatusBadGateway, "08006", err.Error())
	}
}

func (p *Proxy) send(r *http.Request, transport http.RoundTripper, c controlplane.Compute, body []byte) (*http.Response, error) {
	u := "http://" + c.HTTPAddr + r.URL.RequestURI()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	for _, h := range append(hopHeaders, HeaderTenant, HeaderDatabase, HeaderBranch, HeaderEndpoint) {
		req.Header.Del(h)
	}
	req.ContentLength = int64(len(body))
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		req.Header.Add("X-Forwarded-For", host)
	}
	return transport.RoundTrip(req)
}

// isDialError reports whether err happened before the request reached the
// compute (connecting failed), so retrying elsewhere cannot run it twice.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// flushWriter flushes after each write so streamed (NDJSON) results reach
// the client as they come.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
