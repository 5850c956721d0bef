package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
// /v1/sql, /v1/sql/batch, POST /v1/sessions and DELETE /v1/sessions/{id}
// forwarded to a compute. A session lives on one compute: the proxy hands
// out session ids "<compute id>.<compute's session id>" and sends every
// request naming one to that compute, even while it drains.
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
	mux.HandleFunc("POST /v1/sessions", func(w http.ResponseWriter, r *http.Request) { p.openSession(w, r, transport) })
	mux.HandleFunc("DELETE /v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) { p.closeSession(w, r, transport) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "42000", "no such route: "+r.Method+" "+r.URL.Path)
	})
	return mux
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
	changed := false
	if raw, ok := fields["database"]; ok {
		var db string
		if err := json.Unmarshal(raw, &db); err != nil {
			return t, body, errors.New(`"database" must be a string`)
		}
		if t.Database == "" {
			t.Database = db
		}
		if name, _, ok := strings.Cut(db, "@"); ok {
			fields["database"], _ = json.Marshal(name)
			changed = true
		}
	}
	// The body's "branch" routes too (to the branch's endpoint if it has
	// one, else to the database's), and a branch chosen by header or
	// "db@branch" is written into the body, so the compute runs the
	// statement on it whichever endpoint serves it.
	var bodyBranch string
	if raw, ok := fields["branch"]; ok {
		if err := json.Unmarshal(raw, &bodyBranch); err != nil {
			return t, body, errors.New(`"branch" must be a string`)
		}
	}
	if t.Branch == "" && bodyBranch != "" {
		t.Branch = bodyBranch
	}
	t = p.fill(t)
	if bodyBranch != "" && bodyBranch != t.Branch {
		return t, body, fmt.Errorf("the body's branch %q differs from the requested branch %q", bodyBranch, t.Branch)
	}
	if _, inSession := fields["session"]; bodyBranch == "" && !inSession && t.Branch != controlplane.DefaultBranch {
		fields["branch"], _ = json.Marshal(t.Branch)
		changed = true
	}
	if changed {
		b, err := json.Marshal(fields)
		if err != nil {
			return t, body, err
		}
		body = b
	}
	return t, body, nil
}

func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, transport http.RoundTripper) {
	start := time.Now()
	defer func() { httpDuration.Observe(time.Since(start).Seconds()) }()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		httpRequests.WithLabelValues("bad_request").Inc()
		if errors.As(err, &tooBig) {
			writeErr(w, http.StatusRequestEntityTooLarge, "54000", err.Error())
			return
		}
		writeErr(w, http.StatusBadRequest, "08P01", "read request body: "+err.Error())
		return
	}
	t, body, err := p.target(r, body)
	if err != nil {
		httpRequests.WithLabelValues("bad_request").Inc()
		writeErr(w, http.StatusBadRequest, "22P02", err.Error())
		return
	}
	computeID, body, err := sessionField(body)
	if err != nil {
		httpRequests.WithLabelValues("bad_request").Inc()
		writeErr(w, http.StatusBadRequest, "08003", err.Error())
		return
	}
	for attempt := 0; ; attempt++ {
		var c controlplane.Compute
		var release func()
		if computeID != "" {
			c, release, err = p.pickByID(r.Context(), t, computeID)
			attempt = 3 // a session's compute has no substitute
		} else {
			c, release, err = p.pick(r.Context(), t)
		}
		if err != nil {
			p.pickFailed(w, r, err)
			return
		}
		resp, err := p.send(r, transport, c, r.URL.RequestURI(), body)
		if err != nil {
			release()
			if r.Context().Err() != nil {
				return
			}
			// Connection refused or lost: keep new work away from the
			// compute (it is most likely dead) until the control plane's
			// view says otherwise.
			p.markUnreachable(c)
			if isDialError(err) && attempt < 3 {
				p.cfg.Logger.Warn("proxy: compute unreachable; trying another", "compute", c.ID, "err", err)
				retries.Inc()
				continue
			}
			// The request may have reached the compute: not retried (it
			// may have committed); the client decides.
			httpRequests.WithLabelValues("unreachable").Inc()
			writeErr(w, http.StatusBadGateway, "08006", "compute "+c.ID+": "+err.Error())
			return
		}
		httpRequests.WithLabelValues("forwarded").Inc()
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
	case errors.Is(err, ErrSessionGone):
		httpRequests.WithLabelValues("unknown").Inc()
		writeErr(w, http.StatusNotFound, "08003", err.Error())
	case errors.Is(err, ErrUnknown):
		httpRequests.WithLabelValues("unknown").Inc()
		writeErr(w, http.StatusNotFound, "3D000", err.Error())
	case errors.Is(err, ErrNotReady), errors.Is(err, context.DeadlineExceeded):
		httpRequests.WithLabelValues("not_ready").Inc()
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, "57P03", err.Error())
	case r.Context().Err() != nil:
	default:
		httpRequests.WithLabelValues("unreachable").Inc()
		writeErr(w, http.StatusBadGateway, "08006", err.Error())
	}
}

func (p *Proxy) send(r *http.Request, transport http.RoundTripper, c controlplane.Compute, uri string, body []byte) (*http.Response, error) {
	u := "http://" + c.HTTPAddr + uri
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

// sessionField splits a request's "<compute>.<session>" session id: it
// answers the compute id and the body with the compute's own session id.
func sessionField(body []byte) (string, []byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return "", body, nil
	}
	raw, ok := fields["session"]
	if !ok {
		return "", body, nil
	}
	var sess string
	if err := json.Unmarshal(raw, &sess); err != nil || sess == "" {
		return "", body, nil // the compute answers a malformed session
	}
	compute, inner, ok := strings.Cut(sess, ".")
	if !ok || compute == "" || inner == "" {
		return "", body, fmt.Errorf("session %q was not opened through this proxy", sess)
	}
	fields["session"], _ = json.Marshal(inner)
	b, err := json.Marshal(fields)
	return compute, b, err
}

// openSession opens an HTTP session on a compute and answers its id
// prefixed with the compute's.
func (p *Proxy) openSession(w http.ResponseWriter, r *http.Request, transport http.RoundTripper) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxBodyBytes))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "08P01", "read request body: "+err.Error())
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	t, body, err := p.target(r, body)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "22P02", err.Error())
		return
	}
	c, release, err := p.pick(r.Context(), t)
	if err != nil {
		p.pickFailed(w, r, err)
		return
	}
	defer release()
	resp, err := p.send(r, transport, c, "/v1/sessions", body)
	if err != nil {
		writeErr(w, http.StatusBadGateway, "08006", "compute "+c.ID+": "+err.Error())
		return
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		writeErr(w, http.StatusBadGateway, "08006", "compute "+c.ID+": "+err.Error())
		return
	}
	if resp.StatusCode == http.StatusCreated {
		var fields map[string]json.RawMessage
		var sess string
		if json.Unmarshal(out, &fields) == nil && json.Unmarshal(fields["session"], &sess) == nil && sess != "" {
			fields["session"], _ = json.Marshal(c.ID + "." + sess)
			out, _ = json.Marshal(fields)
		}
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.Header().Set(HeaderCompute, c.ID)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// closeSession forwards DELETE /v1/sessions/{id} to the session's compute.
func (p *Proxy) closeSession(w http.ResponseWriter, r *http.Request, transport http.RoundTripper) {
	compute, inner, ok := strings.Cut(r.PathValue("id"), ".")
	if !ok || compute == "" || inner == "" {
		writeErr(w, http.StatusNotFound, "08003", "session not found")
		return
	}
	t := p.fill(Target{Tenant: r.Header.Get(HeaderTenant), Database: r.Header.Get(HeaderDatabase),
		Branch: r.Header.Get(HeaderBranch), Endpoint: r.Header.Get(HeaderEndpoint)})
	c, release, err := p.pickByID(r.Context(), t, compute)
	if err != nil {
		p.pickFailed(w, r, err)
		return
	}
	defer release()
	resp, err := p.send(r, transport, c, "/v1/sessions/"+url.PathEscape(inner), nil)
	if err != nil {
		writeErr(w, http.StatusBadGateway, "08006", "compute "+c.ID+": "+err.Error())
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}
