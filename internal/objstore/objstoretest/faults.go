package objstoretest

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"

	"github.com/phantom-db/phantom/internal/objstore"
)

// Fault is one kind of failure FaultyS3 injects into a request.
type Fault int

// The faults FaultyS3 injects.
const (
	// FaultNone lets the request through.
	FaultNone Fault = iota
	// Fault500 answers 500 InternalError without touching the data.
	Fault500
	// Fault503 answers 503 SlowDown without touching the data.
	Fault503
	// FaultDropBefore closes the connection without answering and without
	// touching the data.
	FaultDropBefore
	// FaultDropAfter serves the request (a PUT or DELETE takes effect) and
	// then closes the connection instead of sending the answer: a lost
	// response.
	FaultDropAfter
	numFaults
)

// String names the fault.
func (f Fault) String() string {
	return [...]string{"none", "500", "503", "drop-before", "drop-after"}[f]
}

// FaultyS3 is an in-process S3-compatible server (gofakes3 over s3mem) on a
// real 127.0.0.1 listener that fails a seeded random share of requests with
// 500/503 answers or dropped connections.
type FaultyS3 struct {
	srv *httptest.Server

	mu     sync.Mutex
	rng    *rand.Rand
	rate   float64
	counts [numFaults]int
}

// NewFaultyS3 starts a faulty S3 server, closed when the test ends. It
// injects no faults until SetFaultRate.
func NewFaultyS3(t testing.TB, seed uint64) *FaultyS3 {
	t.Helper()
	f := &FaultyS3{rng: rand.New(rand.NewPCG(seed, 7))}
	handler := gofakes3.New(s3mem.New()).Server()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch fault := f.pick(); fault {
		case Fault500, Fault503:
			_, _ = io.Copy(io.Discard, r.Body)
			code, s3code := http.StatusInternalServerError, "InternalError"
			if fault == Fault503 {
				code, s3code = http.StatusServiceUnavailable, "SlowDown"
			}
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(code)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+s3code+`</Code><Message>injected fault</Message></Error>`)
		case FaultDropBefore:
			hijackClose(w)
		case FaultDropAfter:
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, r)
			hijackClose(w)
		default:
			handler.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// hijackClose takes over the connection and closes it without an answer.
func hijackClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("objstoretest: response writer cannot hijack")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	_ = buf.Flush()
	_ = conn.Close()
}

// pick decides the fault of one request.
func (f *FaultyS3) pick() Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	fault := FaultNone
	if f.rate > 0 && f.rng.Float64() < f.rate {
		fault = Fault(1 + f.rng.IntN(int(numFaults)-1))
	}
	f.counts[fault]++
	return fault
}

// SetFaultRate makes a share p (0..1) of the following requests fail, each
// with a fault picked uniformly from Fault500..FaultDropAfter. 1 fails every
// request; 0 none.
func (f *FaultyS3) SetFaultRate(p float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rate = p
}

// Counts answers how many requests got each fault so far (FaultNone: served
// normally).
func (f *FaultyS3) Counts() map[Fault]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[Fault]int, numFaults)
	for i, n := range f.counts {
		m[Fault(i)] = n
	}
	return m
}

// Injected answers how many requests got a fault so far.
func (f *FaultyS3) Injected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for i := 1; i < int(numFaults); i++ {
		n += f.counts[i]
	}
	return n
}

// Config answers an S3Config for bucket on this server: path style, static
// credentials, bucket created, maxRetries attempts per request.
func (f *FaultyS3) Config(bucket string, maxRetries int) objstore.S3Config {
	return objstore.S3Config{
		Endpoint:     strings.TrimPrefix(f.srv.URL, "http://"),
		Bucket:       bucket,
		AccessKey:    "test-access",
		SecretKey:    "test-secret",
		Region:       "us-east-1",
		PathStyle:    true,
		CreateBucket: true,
		MaxRetries:   maxRetries,
	}
}

// FastRetries shrinks minio-go's retry backoff (a package variable) for the
// rest of the test, so fault tests do not sleep for seconds. Tests using it
// must not run in parallel with other S3 tests.
func FastRetries(t testing.TB) {
	t.Helper()
	unit, maxWait := minio.DefaultRetryUnit, minio.DefaultRetryCap
	minio.DefaultRetryUnit, minio.DefaultRetryCap = time.Millisecond, 10*time.Millisecond
	t.Cleanup(func() { minio.DefaultRetryUnit, minio.DefaultRetryCap = unit, maxWait })
}
