package parse

import (
	"testing"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

func TestSplitAndSyntaxError(t *testing.T) {
	stmts, err := Parse("SELECT 1; CREATE TABLE t (a INT PRIMARY KEY);")
	if err != nil || len(stmts) != 2 || stmts[1].Text != " CREATE TABLE t (a INT PRIMARY KEY)" {
		t.Fatalf("got %v, %v", stmts, err)
	}
	_, err = Parse("SELECT 1; SELEC 2")
	e := sqlerr.As(err)
	if e == nil || e.Code != "42601" || e.Position != 11 {
		t.Fatalf("got %#v", err)
	}
	if Position("éa b", 4) != 4 {
		t.Fatal("Position must count characters, not bytes")
	}
}
