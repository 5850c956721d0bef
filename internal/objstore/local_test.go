package objstore_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/phantom-db/phantom/internal/objstore"
	"github.com/phantom-db/phantom/internal/objstore/objstoretest"
)

func newLocal(t *testing.T) *objstore.Local {
	t.Helper()
	l, err := objstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	return l
}

func TestLocalSuite(t *testing.T) {
	objstoretest.RunSuite(t, func(t *testing.T) objstore.Store { return newLocal(t) })
}

func TestLocalLayoutAndTempFiles(t *testing.T) {
	l := newLocal(t)
	ctx := ctxT(t)
	if err := l.Put(ctx, "a/b/c", strings.NewReader("data"), 4); err != nil {
		t.Fatal(err)
	}
	// The object is a plain file at the key's path.
	got, err := os.ReadFile(filepath.Join(l.Dir(), "a", "b", "c"))
	if err != nil || string(got) != "data" {
		t.Fatalf("file a/b/c = %q, %v; want data", got, err)
	}
	// A leftover temp file (a crashed Put) is neither listed nor gettable,
	// and its name cannot be used as a key.
	tmp := filepath.Join(l.Dir(), "a", "b", ".phantom-tmp-123")
	if err := os.WriteFile(tmp, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := l.List(ctx, "")
	if err != nil || !slices.Equal(keys, []string{"a/b/c"}) {
		t.Fatalf("List = %q, %v; want [a/b/c]", keys, err)
	}
	if _, err := l.Get(ctx, "a/b/.phantom-tmp-123"); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Fatalf("Get of a temp file name = %v, want ErrInvalidKey", err)
	}
	// A successful Put leaves no temp file behind.
	entries, err := os.ReadDir(filepath.Join(l.Dir(), "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("a/b holds %d entries, want c and the planted temp file", len(entries))
	}
}

func TestLocalFailedPutLeavesNoTempFile(t *testing.T) {
	l := newLocal(t)
	ctx := ctxT(t)
	if err := l.Put(ctx, "d/k", strings.NewReader("v1"), 2); err != nil {
		t.Fatal(err)
	}
	// A short body fails and must keep the old object intact.
	if err := l.Put(ctx, "d/k", strings.NewReader("v"), 5); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short Put = %v, want io.ErrUnexpectedEOF", err)
	}
	entries, err := os.ReadDir(filepath.Join(l.Dir(), "d"))
	if err != nil || len(entries) != 1 || entries[0].Name() != "k" {
		t.Fatalf("d holds %v (%v), want only k", entries, err)
	}
	rc, err := l.Get(ctx, "d/k")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "v1" {
		t.Fatalf("Get after failed overwrite = %q, want v1", b)
	}
}

func TestLocalCanceledContext(t *testing.T) {
	l := newLocal(t)
	ctx, cancel := contextWithCancel(t)
	cancel()
	if err := l.Put(ctx, "k", strings.NewReader("x"), 1); err == nil {
		t.Fatal("Put with a canceled context succeeded")
	}
	if _, err := l.List(ctx, ""); err == nil {
		t.Fatal("List with a canceled context succeeded")
	}
}

// TestLocalReadersSeeWholeObjects overwrites a key with two distinct large
// payloads while readers read it: every read must be exactly one payload.
func TestLocalReadersSeeWholeObjects(t *testing.T) {
	l := newLocal(t)
	ctx := ctxT(t)
	a := bytes.Repeat([]byte{'a'}, 1<<20)
	b := bytes.Repeat([]byte{'b'}, 1<<19)
	if err := l.Put(ctx, "hot", bytes.NewReader(a), int64(len(a))); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		defer close(stop)
		for i := range 20 {
			data := a
			if i%2 == 0 {
				data = b
			}
			if err := l.Put(ctx, "hot", bytes.NewReader(data), int64(len(data))); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				rc, err := l.Get(ctx, "hot")
				if err != nil {
					t.Error(err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
					t.Errorf("read a torn object of %d bytes", len(got))
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestLocalObjectVersusDirectory(t *testing.T) {
	l := newLocal(t)
	ctx := ctxT(t)
	if err := l.Put(ctx, "a", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	// A directory tree cannot hold both "a" and "a/b": a clear error, not a
	// silent overwrite.
	if err := l.Put(ctx, "a/b", strings.NewReader("y"), 1); err == nil {
		t.Fatal(`Put("a/b") over the object "a" succeeded`)
	}
	if _, err := l.Get(ctx, "a/b"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf(`Get("a/b") = %v, want ErrNotFound`, err)
	}
	if err := l.Delete(ctx, "a/b"); err != nil {
		t.Fatalf(`Delete("a/b") = %v, want nil`, err)
	}
}

func TestNewLocalErrors(t *testing.T) {
	if _, err := objstore.NewLocal(""); err == nil {
		t.Fatal("NewLocal(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := objstore.NewLocal(file); err == nil {
		t.Fatal("NewLocal over a regular file succeeded")
	}
	// Reopening a store sees the objects written before.
	dir := filepath.Join(t.TempDir(), "nested", "root")
	l1, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l1.Put(ctxT(t), "k", strings.NewReader("v"), 1); err != nil {
		t.Fatal(err)
	}
	l2, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := l2.List(ctxT(t), ""); err != nil || !slices.Equal(keys, []string{"k"}) {
		t.Fatalf("reopened List = %q, %v", keys, err)
	}
}
