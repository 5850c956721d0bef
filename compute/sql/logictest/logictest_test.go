package logictest

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

// TestLogic runs every testdata file against a fresh in-memory database and
// checks that no Arrow buffer leaks.
func TestLogic(t *testing.T) {
	RunGlob(t, "testdata/*.test", func(t *testing.T) ExecFunc {
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
		return EngineExec(e)
	})
}
