package phantom

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// RetryPolicy bounds how a request that failed in a safe way is retried.
//
// A request is retried only when retrying cannot run a statement twice:
//   - a transport error before any byte of the request was written;
//   - 503 with SQLSTATE 53000 (the server refused it before running it);
//   - outside a session, 503 with 57P03 (storage unavailable: the
//     request's transaction was rolled back);
//   - 429 with 53300 when opening a session.
//
// Never retried: 08007 (commit outcome unknown), any transport error after
// the request was written, and every other status.
type RetryPolicy struct {
	// MaxAttempts bounds the attempts, the first included; 1 disables
	// retries. Default 4.
	MaxAttempts int
	// InitialBackoff is the wait before the first retry; each later wait
	// doubles, with up to 50% random jitter added. Default 50 ms.
	InitialBackoff time.Duration
	// MaxBackoff caps one wait. Default 2 s.
	MaxBackoff time.Duration
}

// DefaultRetryPolicy is used when no WithRetry option is given.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 4, InitialBackoff: 50 * time.Millisecond, MaxBackoff: 2 * time.Second}

// NoRetry disables retries.
var NoRetry = RetryPolicy{MaxAttempts: 1}

// EnsureDefaults fills unset fields with their defaults.
func (p *RetryPolicy) EnsureDefaults() {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultRetryPolicy.MaxAttempts
	}
	if p.InitialBackoff == 0 {
		p.InitialBackoff = DefaultRetryPolicy.InitialBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = DefaultRetryPolicy.MaxBackoff
	}
}

// Validate reports an invalid policy.
func (p *RetryPolicy) Validate() error {
	if p.MaxAttempts < 1 || p.InitialBackoff < 0 || p.MaxBackoff < 0 {
		return errors.New("phantom: retry policy: MaxAttempts must be >= 1 and backoffs >= 0")
	}
	return nil
}

// wait sleeps before retry number attempt (1-based) or until ctx ends.
func (p *RetryPolicy) wait(ctx context.Context, attempt int) error {
	d := p.InitialBackoff
	for i := 1; i < attempt && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	if d > 0 {
		d += time.Duration(rand.Int64N(int64(d)/2 + 1))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryMode says which error answers of the server a request may retry.
type retryMode int

const (
	// retryAny: the request is its own transaction (or reads nothing), so
	// 57P03 and 53000 are safe to retry.
	retryAny retryMode = iota
	// retryNotStarted: only answers given before the statement ran (53000).
	retryNotStarted
	// retryOpenSession: opening a session; 53000 and 53300 are safe.
	retryOpenSession
)

func (m retryMode) allows(e *Error) bool {
	if e.Code == "08007" {
		return false
	}
	switch {
	case e.HTTPStatus == http.StatusServiceUnavailable && e.Code == "53000":
		return true
	case e.HTTPStatus == http.StatusServiceUnavailable && e.Code == "57P03":
		return m == retryAny
	case e.HTTPStatus == http.StatusTooManyRequests && e.Code == "53300":
		return m == retryOpenSession
	}
	return false
}

// traceSent instruments req so that sent reports whether the transport
// began writing it (after which a failure may have reached the server).
func traceSent(req *http.Request) (_ *http.Request, sent func() bool) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Store(true) },
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	}
	return req.WithContext(httptrace.WithClientTrace(req.Context(), trace)), wrote.Load
}
