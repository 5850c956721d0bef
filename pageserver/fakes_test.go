package pageserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/objstore"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// fakeLog is an in-memory LogSource. It records the fromIndex of every
// ReadLog call.
type fakeLog struct {
	mu      sync.Mutex
	entries []*wirepb.LogEntry
	changed chan struct{}
	froms   []uint64
}

func newFakeLog(entries ...*wirepb.LogEntry) *fakeLog {
	return &fakeLog{entries: entries, changed: make(chan struct{})}
}

// append adds entries and wakes followers.
func (l *fakeLog) append(entries ...*wirepb.LogEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, entries...)
	close(l.changed)
	l.changed = make(chan struct{})
}

// fromIndexes returns the fromIndex of every ReadLog call so far.
func (l *fakeLog) fromIndexes() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]uint64(nil), l.froms...)
}

func (l *fakeLog) ReadLog(ctx context.Context, fromIndex uint64, fn func(*wirepb.LogEntry) error) error {
	l.mu.Lock()
	l.froms = append(l.froms, fromIndex)
	l.mu.Unlock()
	next := fromIndex
	for {
		l.mu.Lock()
		var batch []*wirepb.LogEntry
		for _, e := range l.entries {
			if e.GetIndex() >= next {
				batch = append(batch, e)
			}
		}
		ch := l.changed
		l.mu.Unlock()
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
			next = e.GetIndex() + 1
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// memStore is an in-memory objstore.Store that counts puts per key and can
// inject Put errors.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	puts    map[string]int
	// failPut, when set, is consulted before every Put.
	failPut func(key string) error
}

func newMemStore() *memStore {
	return &memStore{objects: make(map[string][]byte), puts: make(map[string]int)}
}

func (m *memStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	m.mu.Lock()
	fail := m.failPut
	m.mu.Unlock()
	if fail != nil {
		if err := fail(key); err != nil {
			return err
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if int64(len(b)) != size {
		return fmt.Errorf("memstore: put %s: read %d bytes, size %d", key, len(b), size)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[key] = b
	m.puts[key]++
	return nil
}

func (m *memStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("memstore: get %s: %w", key, objstore.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memStore) List(ctx context.Context, prefix string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

func (m *memStore) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

func (m *memStore) setFailPut(f func(key string) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failPut = f
}

func (m *memStore) putCount(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.puts[key]
}

const testPrefix = "tenants/t1/databases/d1/shards/s1/"

// testConfig returns a config with periodic checkpoints off and short waits.
func testConfig(dir string, log LogSource, store objstore.Store) Config {
	return Config{
		DataDir:            dir,
		Log:                log,
		Store:              store,
		Prefix:             testPrefix,
		CheckpointInterval: -1,
		GCInterval:         -1,
		Retention:          -1,
		ReadWaitTimeout:    2 * time.Second,
		ScanBatchRows:      3,
		Logger:             slog.New(slog.DiscardHandler),
	}
}

// openServer opens a page server and closes it when the test ends (a
// second Close is a no-op).
func openServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitApplied waits (bounded) until s applied index.
func waitApplied(t *testing.T, s *Server, index uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitApplied(ctx, index); err != nil {
		t.Fatalf("WaitApplied(%d): %v", index, err)
	}
}

// put and del build mutations; entry builds a log entry.
func put(k, v string) *wirepb.Mutation { return &wirepb.Mutation{Key: []byte(k), Value: []byte(v)} }
func del(k string) *wirepb.Mutation    { return &wirepb.Mutation{Key: []byte(k), Delete: true} }
func entry(index, ts uint64, muts ...*wirepb.Mutation) *wirepb.LogEntry {
	return &wirepb.LogEntry{Index: index, CommitTs: ts, Mutations: muts}
}
