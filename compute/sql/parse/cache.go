package parse

import (
	"container/list"
	"sync"
)

// Parsing a statement through pg_query costs tens of microseconds (cgo
// plus decoding the protobuf tree), more than binding and running a
// point query; clients repeat the same texts (prepared statements, ORMs,
// pgbench), so Parse keeps the statements of recent query strings. The
// trees are shared: nothing after Parse may modify a parse tree.
const (
	cacheEntries = 4096
	// cacheMaxQuery: longer texts (multi-row INSERTs with literals) are
	// not kept. A COPY FROM's generated INSERT of 1,000 rows of $n
	// placeholders is ~100 KB and repeats for every batch, so it is.
	cacheMaxQuery = 1 << 20
	// cacheMaxWeight bounds the cache by size: an entry weighs its text's
	// length times treeBytesPerByte, about what its parse tree holds.
	cacheMaxWeight   = 64 << 20
	treeBytesPerByte = 32
)

type cacheEntry struct {
	query string
	stmts []Statement
}

// stmtCache is an LRU of query text -> statements.
type stmtCache struct {
	mu    sync.Mutex
	byKey map[string]*list.Element
	order *list.List // front: most recently used
	// weight is the sum of the entries' weights (see cacheMaxWeight).
	weight int
	hits   uint64
	miss   uint64
}

var cache = &stmtCache{byKey: map[string]*list.Element{}, order: list.New()}

func (c *stmtCache) get(query string) ([]Statement, bool) {
	if len(query) > cacheMaxQuery {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[query]
	if !ok {
		c.miss++
		return nil, false
	}
	c.hits++
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).stmts, true
}

func (c *stmtCache) put(query string, stmts []Statement) {
	if len(query) > cacheMaxQuery {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[query]; ok {
		return
	}
	c.byKey[query] = c.order.PushFront(&cacheEntry{query: query, stmts: stmts})
	c.weight += len(query) * treeBytesPerByte
	for c.order.Len() > cacheEntries || c.weight > cacheMaxWeight {
		old := c.order.Back()
		c.order.Remove(old)
		q := old.Value.(*cacheEntry).query
		delete(c.byKey, q)
		c.weight -= len(q) * treeBytesPerByte
	}
}

// CacheStats returns how many Parse calls were answered from the cache of
// recent statements and how many parsed.
func CacheStats() (hits, misses uint64) {
	cache.mu.Lock()
	defer cache.mu.Unlock()
	return cache.hits, cache.miss
}
