package bind

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/parse"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/*.txt with the actual plans")

type fakeCatalog map[string]*catalog.Table

func (f fakeCatalog) Table(_ context.Context, name string) (*catalog.Table, error) {
	return f[name], nil
}

var testCatalog = fakeCatalog{
	"t": {ID: 1, Name: "t", Version: 1, PrimaryKey: []int{0}, Columns: []catalog.Column{
		{Name: "a", Type: types.Int4, NotNull: true}, {Name: "b", Type: types.Int8}, {Name: "c", Type: types.Text}, {Name: "f", Type: types.Float8},
	}},
}

// TestPlans binds each query of testdata/*.txt and compares the plan (or
// the error) with the expected text. Blocks are "<sql>\n----\n<plan>\n\n".
// Run with -rewrite to regenerate the files after an intended change.
func TestPlans(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		for _, block := range strings.Split(strings.TrimSpace(string(data)), "\n\n") {
			query, want, _ := strings.Cut(block+"\n", "\n----\n")
			got := bindOne(query)
			if *rewrite {
				out.WriteString(query + "\n----\n" + got + "\n\n")
				continue
			}
			if strings.TrimSpace(got) != strings.TrimSpace(want) {
				t.Errorf("%s: %s\n--- want\n%s\n--- got\n%s", f, query, want, got)
			}
		}
		if *rewrite {
			if err := os.WriteFile(f, []byte(out.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func bindOne(query string) string {
	stmts, err := parse.Parse(query)
	if err != nil {
		return "error " + sqlerr.Code(err)
	}
	st, err := New(context.Background(), testCatalog, query, []any{"5"}).Bind(stmts[0].AST)
	if err != nil {
		e := sqlerr.Normalize(err)
		return "error " + e.Code + ": " + e.Message
	}
	return strings.TrimSpace(plan.Format(st))
}
