// Package objstoretest is the conformance suite every objstore.Store backend
// must pass. A backend's tests call RunSuite with a constructor for an empty
// store; the suite checks the invariants documented on package objstore.
package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/objstore"
)

// largeSize is the size of the "large" object: above common 4 MiB buffer
// sizes, below minio-go's 16 MiB multipart threshold.
const largeSize = 5<<20 + 123

// RunSuite runs the conformance suite. newStore must answer a fresh, empty
// store for each call (each subtest gets its own).
func RunSuite(t *testing.T, newStore func(t *testing.T) objstore.Store) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, s objstore.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"RoundTripEmpty", testRoundTripEmpty},
		{"RoundTripLarge", testRoundTripLarge},
		{"Overwrite", testOverwrite},
		{"IdempotentRePut", testIdempotentRePut},
		{"GetMissing", testGetMissing},
		{"ShortReader", testShortReader},
		{"ReaderLongerThanSize", testReaderLongerThanSize},
		{"NonSeekableReader", testNonSeekableReader},
		{"List", testList},
		{"ListEmptyStore", testListEmptyStore},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"NestedKeys", testNestedKeys},
		{"ConcurrentPuts", testConcurrentPuts},
		{"InvalidKeys", testInvalidKeys},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, newStore(t))
		})
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// put stores data at key, failing the test on error.
func put(t *testing.T, s objstore.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(testCtx(t), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

// get reads the whole object at key, failing the test on error.
func get(t *testing.T, s objstore.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(testCtx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return data
}

func list(t *testing.T, s objstore.Store, prefix string) []string {
	t.Helper()
	keys, err := s.List(testCtx(t), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func wantBytes(t *testing.T, key string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes %q..., want %d bytes %q...", key, len(got), head(got), len(want), head(want))
	}
}

func head(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

func wantNotFound(t *testing.T, s objstore.Store, key string) {
	t.Helper()
	rc, err := s.Get(testCtx(t), key)
	if err == nil {
		rc.Close()
		t.Fatalf("Get(%q) succeeded, want an error wrapping ErrNotFound", key)
	}
	if !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Get(%q) = %v, want an error wrapping ErrNotFound", key, err)
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testRoundTrip(t *testing.T, s objstore.Store) {
	data := []byte("hello, phantom")
	put(t, s, "greeting", data)
	wantBytes(t, "greeting", get(t, s, "greeting"), data)
}

func testRoundTripEmpty(t *testing.T, s objstore.Store) {
	put(t, s, "empty", nil)
	if got := get(t, s, "empty"); len(got) != 0 {
		t.Fatalf("Get(empty) = %d bytes, want 0", len(got))
	}
	if keys := list(t, s, ""); !slices.Equal(keys, []string{"empty"}) {
		t.Fatalf("List = %q, want [empty]", keys)
	}
}

func testRoundTripLarge(t *testing.T, s objstore.Store) {
	data := randomBytes(largeSize, 1)
	put(t, s, "big/object", data)
	wantBytes(t, "big/object", get(t, s, "big/object"), data)
}

func testOverwrite(t *testing.T, s objstore.Store) {
	put(t, s, "k", []byte("first version, longer than the second"))
	put(t, s, "k", []byte("second"))
	wantBytes(t, "k", get(t, s, "k"), []byte("second"))
	if keys := list(t, s, ""); !slices.Equal(keys, []string{"k"}) {
		t.Fatalf("List after overwrite = %q, want [k]", keys)
	}
}

func testIdempotentRePut(t *testing.T, s objstore.Store) {
	data := randomBytes(4096, 2)
	for range 3 {
		put(t, s, "ckpt/000001", data)
	}
	wantBytes(t, "ckpt/000001", get(t, s, "ckpt/000001"), data)
	if keys := list(t, s, "ckpt/"); !slices.Equal(keys, []string{"ckpt/000001"}) {
		t.Fatalf("List = %q, want one key", keys)
	}
}

func testGetMissing(t *testing.T, s objstore.Store) {
	wantNotFound(t, s, "nope")
	wantNotFound(t, s, "no/such/nested/key")
	put(t, s, "dir/present", []byte("x"))
	// "dir" is a key prefix, not an object.
	wantNotFound(t, s, "dir")
	wantNotFound(t, s, "dir/absent")
}

func testShortReader(t *testing.T, s objstore.Store) {
	err := s.Put(testCtx(t), "short", strings.NewReader("abc"), 10)
	if err == nil {
		t.Fatalf("Put of 3 bytes declared as 10 succeeded")
	}
	err = s.Put(testCtx(t), "short", onlyReader{strings.NewReader("abc")}, 10)
	if err == nil {
		t.Fatalf("Put of 3 bytes declared as 10 through a non-seekable reader succeeded")
	}
	// The failed Put must not leave a partial object behind.
	wantNotFound(t, s, "short")
	if keys := list(t, s, ""); len(keys) != 0 {
		t.Fatalf("List after failed Put = %q, want none", keys)
	}
}

func testReaderLongerThanSize(t *testing.T, s objstore.Store) {
	if err := s.Put(testCtx(t), "prefix-only", strings.NewReader("abcdefgh"), 3); err != nil {
		t.Fatalf("Put: %v", err)
	}
	wantBytes(t, "prefix-only", get(t, s, "prefix-only"), []byte("abc"))
}

// onlyReader hides every method but Read.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func testNonSeekableReader(t *testing.T, s objstore.Store) {
	data := randomBytes(100_000, 3)
	if err := s.Put(testCtx(t), "stream", onlyReader{bytes.NewReader(data)}, int64(len(data))); err != nil {
		t.Fatalf("Put: %v", err)
	}
	wantBytes(t, "stream", get(t, s, "stream"), data)
}

func testList(t *testing.T, s objstore.Store) {
	keys := []string{
		"tenant-b/db/000002",
		"tenant-a/db/000010",
		"tenant-a/db/000002",
		"tenant-a/db-x",
		"tenant-a/dc",
		"tenant-a.meta",
		"z",
	}
	for i, k := range keys {
		put(t, s, k, []byte(fmt.Sprint(i)))
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"tenant-a.meta", "tenant-a/db-x", "tenant-a/db/000002", "tenant-a/db/000010", "tenant-a/dc", "tenant-b/db/000002", "z"}},
		{"tenant-a/", []string{"tenant-a/db-x", "tenant-a/db/000002", "tenant-a/db/000010", "tenant-a/dc"}},
		{"tenant-a", []string{"tenant-a.meta", "tenant-a/db-x", "tenant-a/db/000002", "tenant-a/db/000010", "tenant-a/dc"}},
		{"tenant-a/db", []string{"tenant-a/db-x", "tenant-a/db/000002", "tenant-a/db/000010"}},
		{"tenant-a/db/", []string{"tenant-a/db/000002", "tenant-a/db/000010"}},
		{"tenant-a/db/00001", []string{"tenant-a/db/000010"}},
		{"tenant-a/db/000002", []string{"tenant-a/db/000002"}},
		{"tenant-c/", []string{}},
		{"tenant-a/db/000002/", []string{}},
		{"zz", []string{}},
		{"a", []string{}},
	}
	for _, c := range cases {
		got := list(t, s, c.prefix)
		if !slices.Equal(got, c.want) {
			t.Errorf("List(%q) = %q, want %q", c.prefix, got, c.want)
		}
		if !slices.IsSorted(got) {
			t.Errorf("List(%q) = %q is not sorted", c.prefix, got)
		}
	}
}

func testListEmptyStore(t *testing.T, s objstore.Store) {
	for _, p := range []string{"", "a", "a/b/"} {
		if got := list(t, s, p); len(got) != 0 {
			t.Errorf("List(%q) on an empty store = %q, want none", p, got)
		}
	}
}

func testDelete(t *testing.T, s objstore.Store) {
	put(t, s, "a/1", []byte("one"))
	put(t, s, "a/2", []byte("two"))
	if err := s.Delete(testCtx(t), "a/1"); err != nil {
		t.Fatalf("Delete(a/1): %v", err)
	}
	wantNotFound(t, s, "a/1")
	wantBytes(t, "a/2", get(t, s, "a/2"), []byte("two"))
	if got := list(t, s, "a/"); !slices.Equal(got, []string{"a/2"}) {
		t.Fatalf("List(a/) after delete = %q, want [a/2]", got)
	}
	// A deleted key can be written again.
	put(t, s, "a/1", []byte("again"))
	wantBytes(t, "a/1", get(t, s, "a/1"), []byte("again"))
}

func testDeleteMissing(t *testing.T, s objstore.Store) {
	if err := s.Delete(testCtx(t), "never/existed"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	put(t, s, "x", []byte("x"))
	for range 2 {
		if err := s.Delete(testCtx(t), "x"); err != nil {
			t.Fatalf("Delete(x): %v", err)
		}
	}
	wantNotFound(t, s, "x")
}

func testNestedKeys(t *testing.T, s objstore.Store) {
	keys := []string{
		"t/1/db/main/timeline/00/manifest.json",
		"t/1/db/main/timeline/00/layers/000000000001-000000000100.layer",
		"t/1/db/main/timeline/01/manifest.json",
		"t/1/x",
	}
	for _, k := range keys {
		put(t, s, k, []byte(k))
	}
	for _, k := range keys {
		wantBytes(t, k, get(t, s, k), []byte(k))
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if got := list(t, s, "t/1/"); !slices.Equal(got, want) {
		t.Fatalf("List(t/1/) = %q, want %q", got, want)
	}
	if got := list(t, s, "t/1/db/main/timeline/00/"); len(got) != 2 {
		t.Fatalf("List(timeline/00/) = %q, want 2 keys", got)
	}
}

func testConcurrentPuts(t *testing.T, s objstore.Store) {
	const n = 16
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("concurrent/%02d/obj", i)
			data := randomBytes(10_000+i, uint64(i))
			if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
				errs <- fmt.Errorf("Put(%q): %w", key, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	keys := list(t, s, "concurrent/")
	if len(keys) != n {
		t.Fatalf("List = %d keys, want %d: %q", len(keys), n, keys)
	}
	for i := range n {
		key := fmt.Sprintf("concurrent/%02d/obj", i)
		wantBytes(t, key, get(t, s, key), randomBytes(10_000+i, uint64(i)))
	}
}

func testInvalidKeys(t *testing.T, s objstore.Store) {
	ctx := testCtx(t)
	for _, key := range []string{"", "/abs", "a/../b", "..", "a/./b", "a//b", "trailing/"} {
		if err := s.Put(ctx, key, strings.NewReader("x"), 1); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if got := list(t, s, ""); len(got) != 0 {
		t.Fatalf("List after rejected Puts = %q, want none", got)
	}
}
