package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/phantom-db/phantom/internal/objstore"
	"github.com/phantom-db/phantom/internal/objstore/objstoretest"
)

// fakeS3 is an in-process S3-compatible server (gofakes3 over s3mem) on a
// real 127.0.0.1 listener. failNext makes the next requests answer 503.
type fakeS3 struct {
	srv      *httptest.Server
	failNext atomic.Int64
	mu       sync.Mutex
	auths    []string // every request's Authorization header, in arrival order
}

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	f := &fakeS3{}
	faker := gofakes3.New(s3mem.New())
	handler := faker.Server()
	// httptest.NewServer listens on 127.0.0.1:0.
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auths = append(f.auths, r.Header.Get("Authorization"))
		f.mu.Unlock()
		if f.failNext.Add(-1) >= 0 {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected</Message></Error>`)
			return
		}
		f.failNext.Store(0)
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeS3) endpoint() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fakeS3) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.auths)
}

func (f *fakeS3) lastAuth() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.auths) == 0 {
		return ""
	}
	return f.auths[len(f.auths)-1]
}

func (f *fakeS3) config(bucket, prefix string) objstore.S3Config {
	return objstore.S3Config{
		Endpoint:     f.endpoint(),
		Bucket:       bucket,
		Prefix:       prefix,
		Region:       "us-east-1",
		AccessKey:    "phantom",
		SecretKey:    "phantom-secret",
		PathStyle:    true,
		CreateBucket: true,
		Logger:       slog.New(slog.DiscardHandler),
	}
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newS3(t *testing.T, cfg objstore.S3Config) *objstore.S3 {
	t.Helper()
	s, err := objstore.NewS3(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

func TestS3Suite(t *testing.T) {
	f := newFakeS3(t)
	var n atomic.Int64
	objstoretest.RunSuite(t, func(t *testing.T) objstore.Store {
		return newS3(t, f.config(fmt.Sprintf("suite-%d", n.Add(1)), ""))
	})
}

func TestS3SuiteWithPrefix(t *testing.T) {
	f := newFakeS3(t)
	var n atomic.Int64
	objstoretest.RunSuite(t, func(t *testing.T) objstore.Store {
		// Every store shares one bucket; the prefix must isolate them.
		return newS3(t, f.config("shared", fmt.Sprintf("/tenant-%d/", n.Add(1))))
	})
}

func TestS3PrefixIsolatesAndMapsKeys(t *testing.T) {
	f := newFakeS3(t)
	a := newS3(t, f.config("bkt", "tenant-a"))
	b := newS3(t, f.config("bkt", "tenant-ab"))
	root := newS3(t, f.config("bkt", ""))
	ctx := ctxT(t)
	if err := a.Put(ctx, "k", strings.NewReader("A"), 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "k", strings.NewReader("B"), 1); err != nil {
		t.Fatal(err)
	}
	got, err := root.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"tenant-a/k", "tenant-ab/k"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("bucket keys = %q, want %q", got, want)
	}
	if keys, _ := a.List(ctx, ""); fmt.Sprint(keys) != "[k]" {
		t.Fatalf("a.List = %q, want [k]", keys)
	}
	rc, err := a.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if data, _ := io.ReadAll(rc); string(data) != "A" {
		t.Fatalf("a.Get(k) = %q, want A", data)
	}
}

func TestS3MissingBucket(t *testing.T) {
	f := newFakeS3(t)
	cfg := f.config("absent", "")
	cfg.CreateBucket = false
	_, err := objstore.NewS3(ctxT(t), cfg)
	if !errors.Is(err, objstore.ErrBucketNotFound) {
		t.Fatalf("NewS3 without CreateBucket = %v, want ErrBucketNotFound", err)
	}
	// Creating is idempotent: a second store on the same bucket works.
	cfg.CreateBucket = true
	newS3(t, cfg)
	newS3(t, cfg)
	cfg.CreateBucket = false
	newS3(t, cfg)
}

func TestS3RetriesTransientErrors(t *testing.T) {
	f := newFakeS3(t)
	s := newS3(t, f.config("retry", ""))
	ctx := ctxT(t)
	data := bytes.Repeat([]byte("retry me "), 1000)

	// A body that cannot seek is buffered so minio-go can replay it.
	f.failNext.Store(2)
	before := f.requests()
	if err := s.Put(ctx, "k", io.MultiReader(bytes.NewReader(data)), int64(len(data))); err != nil {
		t.Fatalf("Put through 2 injected 503s: %v", err)
	}
	if got := f.requests() - before; got != 3 {
		t.Fatalf("Put took %d requests, want 3 (2 failures + 1 success)", got)
	}

	f.failNext.Store(2)
	rc, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get through 2 injected 503s: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get read %d bytes, err %v; want %d bytes", len(got), err, len(data))
	}

	f.failNext.Store(2)
	if keys, err := s.List(ctx, ""); err != nil || len(keys) != 1 {
		t.Fatalf("List through 2 injected 503s = %q, %v", keys, err)
	}
}

func TestS3NoRetryWhenDisabled(t *testing.T) {
	f := newFakeS3(t)
	cfg := f.config("noretry", "")
	cfg.MaxRetries = 1
	s := newS3(t, cfg)
	f.failNext.Store(1)
	err := s.Put(ctxT(t), "k", strings.NewReader("x"), 1)
	if err == nil {
		t.Fatalf("Put with MaxRetries=1 through an injected 503 succeeded")
	}
	if !strings.Contains(err.Error(), "SlowDown") && !strings.Contains(err.Error(), "injected") {
		t.Fatalf("Put error = %v, want the injected SlowDown", err)
	}
	if _, err := s.Get(ctxT(t), "k"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Get after failed Put = %v, want ErrNotFound", err)
	}
}

func TestS3ConfigValidate(t *testing.T) {
	valid := func() objstore.S3Config {
		return objstore.S3Config{Endpoint: "127.0.0.1:9000", Bucket: "phantom", AccessKey: "a", SecretKey: "s"}
	}
	cases := []struct {
		name   string
		mutate func(*objstore.S3Config)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(*objstore.S3Config) {}, ""},
		{"scheme in endpoint", func(c *objstore.S3Config) { c.Endpoint = "http://127.0.0.1:9000" }, "without scheme"},
		{"path in endpoint", func(c *objstore.S3Config) { c.Endpoint = "host/x" }, "without scheme"},
		{"no bucket", func(c *objstore.S3Config) { c.Bucket = "" }, "empty Bucket"},
		{"bad bucket", func(c *objstore.S3Config) { c.Bucket = "Bad_Bucket" }, "Bucket"},
		{"bad prefix", func(c *objstore.S3Config) { c.Prefix = "a/../b" }, "Prefix"},
		{"half credentials", func(c *objstore.S3Config) { c.SecretKey = "" }, "both AccessKey and SecretKey"},
		{"token without keys", func(c *objstore.S3Config) { c.AccessKey, c.SecretKey, c.SessionToken = "", "", "t" }, "SessionToken"},
		{"negative retries", func(c *objstore.S3Config) { c.MaxRetries = -1 }, "MaxRetries"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := valid()
			c.mutate(&cfg)
			cfg.EnsureDefaults()
			err := cfg.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Validate = %v, want an error containing %q", err, c.want)
			}
		})
	}
	var cfg objstore.S3Config
	cfg.Prefix = "/a/b/"
	cfg.EnsureDefaults()
	if cfg.Endpoint != objstore.DefaultS3Endpoint || cfg.MaxRetries != objstore.DefaultS3MaxRetries ||
		cfg.BufferSize != objstore.DefaultS3BufferSize || cfg.Logger == nil || cfg.Prefix != "a/b" {
		t.Fatalf("EnsureDefaults left %+v", cfg)
	}
}

func TestS3EnvCredentials(t *testing.T) {
	f := newFakeS3(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "env-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	cfg := f.config("envcreds", "")
	cfg.AccessKey, cfg.SecretKey = "", ""
	s := newS3(t, cfg)
	if err := s.Put(ctxT(t), "k", strings.NewReader("v"), 1); err != nil {
		t.Fatal(err)
	}
	if got := f.lastAuth(); !strings.Contains(got, "Credential=env-key/") {
		t.Fatalf("Authorization = %q, want credentials from AWS_ACCESS_KEY_ID", got)
	}
}

func TestOpenS3URL(t *testing.T) {
	f := newFakeS3(t)
	q := url.Values{
		"endpoint":      {f.endpoint()},
		"region":        {"us-east-1"},
		"tls":           {"false"},
		"path_style":    {"true"},
		"create_bucket": {"true"},
		"access_key":    {"ak"},
		"secret_key":    {"sk"},
	}
	ctx := ctxT(t)
	st, err := objstore.Open(ctx, "s3://opened/some/prefix?"+q.Encode())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s3, ok := st.(*objstore.S3)
	if !ok {
		t.Fatalf("Open answered %T, want *objstore.S3", st)
	}
	if err := st.Put(ctx, "k", strings.NewReader("v"), 1); err != nil {
		t.Fatal(err)
	}
	// The object lands under the URL's prefix in the URL's bucket.
	root := newS3(t, f.config(s3.Bucket(), ""))
	keys, err := root.List(ctx, "")
	if err != nil || fmt.Sprint(keys) != "[some/prefix/k]" {
		t.Fatalf("bucket keys = %q, %v; want [some/prefix/k]", keys, err)
	}

	// Without create_bucket, a missing bucket fails.
	q.Del("create_bucket")
	if _, err := objstore.Open(ctx, "s3://other?"+q.Encode()); !errors.Is(err, objstore.ErrBucketNotFound) {
		t.Fatalf("Open of a missing bucket = %v, want ErrBucketNotFound", err)
	}
}
