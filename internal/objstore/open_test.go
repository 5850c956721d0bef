package objstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phantom-db/phantom/internal/objstore"
)

func TestOpenLocal(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()

	byURL, err := objstore.Open(ctx, "file://"+filepath.Join(dir, "viaurl"))
	if err != nil {
		t.Fatalf("Open(file URL): %v", err)
	}
	l, ok := byURL.(*objstore.Local)
	if !ok || l.Dir() != filepath.Join(dir, "viaurl") {
		t.Fatalf("Open(file URL) = %T %+v, want Local in viaurl", byURL, byURL)
	}
	if err := byURL.Put(ctx, "k", strings.NewReader("v"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "viaurl", "k")); err != nil {
		t.Fatalf("object not at the URL's path: %v", err)
	}

	byPath, err := objstore.Open(ctx, filepath.Join(dir, "viapath"))
	if err != nil {
		t.Fatalf("Open(plain path): %v", err)
	}
	if l, ok := byPath.(*objstore.Local); !ok || l.Dir() != filepath.Join(dir, "viapath") {
		t.Fatalf("Open(plain path) = %T, want Local in viapath", byPath)
	}

	localhost, err := objstore.Open(ctx, "file://localhost"+filepath.Join(dir, "lh"))
	if err != nil {
		t.Fatalf("Open(file://localhost/...): %v", err)
	}
	if l, ok := localhost.(*objstore.Local); !ok || l.Dir() != filepath.Join(dir, "lh") {
		t.Fatalf("Open(file://localhost/...) = %T, want Local in lh", localhost)
	}

	t.Chdir(dir)
	rel, err := objstore.Open(ctx, "relative/store")
	if err != nil {
		t.Fatalf("Open(relative path): %v", err)
	}
	if l := rel.(*objstore.Local); l.Dir() != filepath.Join(dir, "relative", "store") {
		t.Fatalf("relative Dir = %q", l.Dir())
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := ctxT(t)
	cases := map[string]string{
		"":                              "empty URL",
		"file://host/dir":               "host must be empty",
		"file:///dir?x=1":               "no query",
		"gs://bucket":                   "unsupported scheme",
		"s3:///prefix":                  "needs a bucket",
		"s3://b?endpoint=h:1&bogus=1":   "unknown query parameter",
		"s3://b?tls=maybe":              "want true or false",
		"s3://b?tls=true&tls=false":     "given 2 times",
		"s3://b?endpoint=http://h:1":    "without scheme",
		"s3://bkt?access_key=only":      "both AccessKey and SecretKey",
		"s3://b?secret_key=hunter2&x=1": "unknown query parameter",
		"s3://Bad_Bucket?endpoint=h:1":  "Bucket",
		"s3://bkt/a/../c?endpoint=h:1":  "Prefix",
	}
	for u, want := range cases {
		_, err := objstore.Open(ctx, u)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", u, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error leaks the secret key: %v", u, err)
		}
	}
}
