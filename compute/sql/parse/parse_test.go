package parse

import (
	"strconv"
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

func TestParseCacheSharesTreesAndEvicts(t *testing.T) {
	q := "SELECT a FROM cache_probe WHERE b = $1"
	first, err := Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	h0, _ := CacheStats()
	again, err := Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	if h1, _ := CacheStats(); h1 != h0+1 || again[0].AST != first[0].AST {
		t.Fatalf("second Parse of the same text was not answered from the cache (hits %d -> %d)", h0, h1)
	}
	for i := 0; i <= cacheEntries; i++ {
		if _, err := Parse("SELECT " + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := cache.get(q); ok {
		t.Fatal("the least recently used entry survived more than cacheEntries newer texts")
	}
	if n := cache.order.Len(); n > cacheEntries {
		t.Fatalf("cache holds %d entries, limit %d", n, cacheEntries)
	}
	if _, err := Parse("SELEC 1"); err == nil {
		t.Fatal("a syntax error must not be cached as success")
	}
	if _, err := Parse("SELEC 1"); err == nil {
		t.Fatal("a syntax error must stay an error")
	}
}
