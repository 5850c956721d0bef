package objstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/objstore"
	"github.com/phantom-db/phantom/internal/objstore/objstoretest"
)

// TestS3SurvivesInjectedFaults runs puts (seekable and not), gets, lists and
// deletes against a server that fails 30% of requests with 500, 503 or a
// dropped connection (before or after serving): every call must succeed
// through minio-go's retries and the data must be intact.
func TestS3SurvivesInjectedFaults(t *testing.T) {
	objstoretest.FastRetries(t)
	f := objstoretest.NewFaultyS3(t, 1)
	s, err := objstore.NewS3(ctxT(t), f.Config("faults", 12))
	if err != nil {
		t.Fatal(err)
	}
	f.SetFaultRate(0.3)
	ctx := ctxT(t)
	const n = 40
	data := func(i int) []byte { return bytes.Repeat(fmt.Appendf(nil, "object %d;", i), 50+i*37) }
	for i := range n {
		var body io.Reader = bytes.NewReader(data(i))
		if i%2 == 1 {
			body = io.MultiReader(body) // not seekable: Put buffers it
		}
		if err := s.Put(ctx, fmt.Sprintf("k/%03d", i), body, int64(len(data(i)))); err != nil {
			t.Fatalf("Put %d under faults: %v", i, err)
		}
	}
	keys, err := s.List(ctx, "k/")
	if err != nil || len(keys) != n {
		t.Fatalf("List under faults = %d keys, %v; want %d", len(keys), err, n)
	}
	for i := range n {
		rc, err := s.Get(ctx, fmt.Sprintf("k/%03d", i))
		if err != nil {
			t.Fatalf("Get %d under faults: %v", i, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data(i)) {
			t.Fatalf("Get %d read %d bytes, err %v; want %d bytes", i, len(got), err, len(data(i)))
		}
	}
	for i := 0; i < n; i += 2 {
		if err := s.Delete(ctx, fmt.Sprintf("k/%03d", i)); err != nil {
			t.Fatalf("Delete %d under faults: %v", i, err)
		}
	}
	f.SetFaultRate(0)
	if keys, err := s.List(ctx, "k/"); err != nil || len(keys) != n/2 {
		t.Fatalf("List after deletes = %d keys, %v; want %d", len(keys), err, n/2)
	}
	counts := f.Counts()
	t.Logf("requests by fault: %v", counts)
	for fault := objstoretest.Fault500; fault <= objstoretest.FaultDropAfter; fault++ {
		if counts[fault] == 0 {
			t.Errorf("no request got fault %v; the test does not cover it", fault)
		}
	}
}

// TestS3PersistentFaultsSurface checks that when every request fails the
// calls give up after MaxRetries attempts with an error naming the
// operation and key, and that a failed Put left no object behind.
func TestS3PersistentFaultsSurface(t *testing.T) {
	objstoretest.FastRetries(t)
	f := objstoretest.NewFaultyS3(t, 2)
	s, err := objstore.NewS3(ctxT(t), f.Config("down", 3))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f.SetFaultRate(1)
	before := f.Injected()
	err = s.Put(ctx, "a/b", strings.NewReader("payload"), 7)
	if err == nil || !strings.Contains(err.Error(), `put "a/b"`) {
		t.Fatalf("Put with every request failing = %v, want an error naming the put and key", err)
	}
	if got := f.Injected() - before; got != 3 {
		t.Fatalf("Put made %d attempts, want MaxRetries = 3", got)
	}
	if _, err := s.Get(ctx, "a/b"); err == nil || !strings.Contains(err.Error(), `get "a/b"`) {
		t.Fatalf("Get with every request failing = %v, want an error naming the get and key", err)
	}
	if _, err := s.List(ctx, ""); err == nil || !strings.Contains(err.Error(), "list") {
		t.Fatalf("List with every request failing = %v, want an error", err)
	}
	if err := s.Delete(ctx, "a/b"); err == nil || !strings.Contains(err.Error(), `delete "a/b"`) {
		t.Fatalf("Delete with every request failing = %v, want an error", err)
	}
	t.Logf("errors look like: %v", err)
	f.SetFaultRate(0)
	// Drop-after faults may have stored the object; anything stored must
	// be whole.
	if rc, err := s.Get(ctx, "a/b"); err == nil {
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != "payload" {
			t.Fatalf("object after failed puts = %q, want the whole payload or none", got)
		}
	}
}
