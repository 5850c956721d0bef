package pgwire

import (
	"fmt"
	"strings"
	"testing"
)

// TestCopyFreezeIntoTableWithoutPrimaryKey loads a table as pgbench -i
// does: created without a primary key, truncated and copied WITH (FREEZE
// ON) in one block, then keyed by ALTER TABLE ADD PRIMARY KEY.
func TestCopyFreezeIntoTableWithoutPrimaryKey(t *testing.T) {
	c := copyConn(t)
	ctx := testCtx(t)
	for _, q := range []string{
		"create table acc(aid int not null,bid int,abalance int,filler char(84)) with (fillfactor=100)",
		"begin",
		"truncate table acc",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var in strings.Builder
	const n = 2100
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&in, "%d\t%d\t0\t\n", i, (i-1)/1000+1)
	}
	tag, err := c.PgConn().CopyFrom(ctx, strings.NewReader(in.String()), "copy acc from stdin with (freeze on)")
	if err != nil || tag.String() != fmt.Sprintf("COPY %d", n) {
		t.Fatalf("copy: %q %v", tag, err)
	}
	for _, q := range []string{"commit", "vacuum analyze acc", "alter table acc add primary key (aid)"} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var rows, branches int
	if err := c.QueryRow(ctx, "SELECT count(*), max(bid) FROM acc").Scan(&rows, &branches); err != nil || rows != n || branches != 3 {
		t.Fatalf("count %d, max(bid) %d, %v; want %d, 3", rows, branches, err, n)
	}
	_, err = c.Exec(ctx, "insert into acc (aid) values (5)")
	wantPgError(t, err, "23505")
}
