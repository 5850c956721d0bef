package logictest

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

func newEngine(t *testing.T) *sql.Engine {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	kv, err := memkv.New(memkv.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	// Small batches so multi-batch paths run on small tables too.
	e, err := sql.New(sql.Config{KV: kv, DatabaseID: 1, Allocator: mem, BatchRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestLogic runs every testdata file against a fresh in-memory database and
// checks that no Arrow buffer leaks. Each record runs in a fresh session,
// as over the HTTP API (which runs the same files end to end).
func TestLogic(t *testing.T) {
	RunGlob(t, "testdata/*.test", func(t *testing.T) ExecFunc { return EngineExec(newEngine(t)) })
}

// TestLogicSession runs the files of testdata/session, whose records depend
// on session state (transaction blocks, settings), in one session per file.
// The HTTP API has no sessions, so the end-to-end runner does not run them.
func TestLogicSession(t *testing.T) {
	RunGlob(t, "testdata/session/*.test", func(t *testing.T) ExecFunc {
		s := newEngine(t).NewSession()
		t.Cleanup(s.Close)
		return SessionExec(s)
	})
}
