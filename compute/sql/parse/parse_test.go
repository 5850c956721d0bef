package parse

import (
	"strconv"
	"strings"
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

// TestParseCacheBoundedByWeight fills the cache with large texts (the
// INSERTs a COPY FROM generates) and checks it keeps them, evicting by
// weight rather than growing past cacheMaxWeight.
func TestParseCacheBoundedByWeight(t *testing.T) {
	insert := func(rows, salt int) string {
		var sb strings.Builder
		sb.WriteString("INSERT INTO t" + strconv.Itoa(salt) + " (a, b) VALUES ")
		for r := range rows {
			if r > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("($" + strconv.Itoa(2*r+1) + ", $" + strconv.Itoa(2*r+2) + ")")
		}
		return sb.String()
	}
	big := insert(5000, 0) // ~80 KB: above the old 8 KiB bound, below cacheMaxQuery
	if _, err := Parse(big); err != nil {
		t.Fatal(err)
	}
	if _, ok := cache.get(big); !ok {
		t.Fatal("a repeated COPY-sized INSERT text is not cached")
	}
	for i := 1; i <= cacheMaxWeight/(len(big)*treeBytesPerByte)+2; i++ {
		if _, err := Parse(insert(5000, i)); err != nil {
			t.Fatal(err)
		}
	}
	cache.mu.Lock()
	w := cache.weight
	cache.mu.Unlock()
	if w > cacheMaxWeight {
		t.Fatalf("cache weighs %d, limit %d", w, cacheMaxWeight)
	}
	if _, ok := cache.get(big); ok {
		t.Fatal("the oldest large entry survived a cache full of newer large ones")
	}
}
