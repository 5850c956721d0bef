package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/logservice"
	"github.com/phantom-db/phantom/test/cluster"
)

// postSQL posts a raw /v1/sql request body (any JSON object) and decodes
// the answer, whatever its status.
func postSQL(t *testing.T, url string, body map[string]any) *cluster.Result {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/sql", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%v: %v", body, err)
	}
	defer resp.Body.Close()
	var r cluster.Result
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%v: decode %s answer: %v", body, resp.Status, err)
	}
	r.Status = resp.StatusCode
	return &r
}

// mustPost is postSQL that fails the test unless the answer is 200.
func mustPost(t *testing.T, url string, body map[string]any) *cluster.Result {
	t.Helper()
	r := postSQL(t, url, body)
	if r.Status != http.StatusOK {
		t.Fatalf("%v: status %d error %+v", body, r.Status, r.Error)
	}
	return r
}

// wantError asserts r failed with status and SQLSTATE code.
func wantError(t *testing.T, what string, r *cluster.Result, status int, code string) {
	t.Helper()
	if r.Status != status || r.Error == nil || r.Error.Code != code {
		t.Fatalf("%s: status %d error %+v, want %d %s", what, r.Status, r.Error, status, code)
	}
}

// rowsText renders rows as "id=v,...".
func rowsText(r *cluster.Result) string {
	var parts []string
	for _, row := range r.Rows {
		parts = append(parts, fmt.Sprintf("%v=%v", row[0], row[1]))
	}
	return strings.Join(parts, ",")
}

// TestTimeTravel writes a short history through `phantom dev`, takes each
// commit's timestamp from SHOW phantom.last_commit_ts, and reads the table
// back as of each of them over HTTP ("as_of": number, digit string and
// RFC 3339) and in an HTTP session with SET phantom.as_of. Writes as of a
// past timestamp, future timestamps and timestamps below the page server's
// retention window are refused.
func TestTimeTravel(t *testing.T) {
	base := cluster.FreePortBase(t, 11)
	p, url := startDev(t, t.TempDir(), base)
	defer p.Stop(30 * time.Second)

	var open struct {
		Session string `json:"session"`
	}
	resp, err := http.Post(url+"/v1/sessions", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&open); err != nil || open.Session == "" {
		t.Fatalf("open session: %v %+v", err, open)
	}
	resp.Body.Close()
	sess := func(query string) *cluster.Result {
		t.Helper()
		return postSQL(t, url, map[string]any{"session": open.Session, "query": query})
	}
	mustSess := func(query string) *cluster.Result {
		t.Helper()
		r := sess(query)
		if r.Status != http.StatusOK {
			t.Fatalf("session %s: status %d error %+v", query, r.Status, r.Error)
		}
		return r
	}
	lastCommit := func() uint64 {
		t.Helper()
		v := fmt.Sprint(mustSess("SHOW phantom.last_commit_ts").Rows[0][0])
		ts, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("last_commit_ts %q: %v", v, err)
		}
		return ts
	}

	mustSess("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
	steps := []string{
		"INSERT INTO t VALUES (1, 'a'), (2, 'b')",
		"UPDATE t SET v = 'b2' WHERE id = 2",
		"BEGIN; INSERT INTO t VALUES (3, 'c'); DELETE FROM t WHERE id = 1; COMMIT",
		"UPDATE t SET v = 'z'",
	}
	want := []string{"1=a,2=b", "1=a,2=b2", "2=b2,3=c", "2=z,3=z"}
	var at []uint64
	for _, q := range steps {
		// Commits a few milliseconds apart, so each one's wall-clock
		// millisecond (RFC 3339 as_of) excludes the next.
		time.Sleep(5 * time.Millisecond)
		mustSess(q)
		at = append(at, lastCommit())
	}

	for i, ts := range at {
		rfc := sql.FormatHybridTS(ts)
		for _, asOf := range []any{ts, strconv.FormatUint(ts, 10), rfc} {
			r := mustPost(t, url, map[string]any{"query": "SELECT id, v FROM t ORDER BY id", "as_of": asOf})
			if got := rowsText(r); got != want[i] {
				t.Fatalf("as_of %v (step %d, commit %s): %s, want %s", asOf, i, logservice.PhysicalTime(ts).UTC(), got, want[i])
			}
		}
		mustSess(fmt.Sprintf("SET phantom.as_of = '%d'", ts))
		if got := rowsText(mustSess("SELECT id, v FROM t ORDER BY id")); got != want[i] {
			t.Fatalf("session as of %d: %s, want %s", ts, got, want[i])
		}
		wantError(t, "session write as of the past", sess("INSERT INTO t VALUES (9, 'x')"), http.StatusForbidden, "25006")
	}
	mustSess("RESET phantom.as_of")
	if got := rowsText(mustSess("SELECT id, v FROM t ORDER BY id")); got != want[len(want)-1] {
		t.Fatalf("after RESET: %s", got)
	}

	wantError(t, "HTTP write as of the past",
		postSQL(t, url, map[string]any{"query": "DELETE FROM t", "as_of": at[0]}), http.StatusForbidden, "25006")
	wantError(t, "the future",
		postSQL(t, url, map[string]any{"query": "SELECT * FROM t", "as_of": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}),
		http.StatusBadRequest, "22023")
	tooOld := postSQL(t, url, map[string]any{"query": "SELECT * FROM t", "as_of": "2000-01-01T00:00:00Z"})
	wantError(t, "below retention", tooOld, http.StatusBadRequest, "72000")
	t.Logf("below retention: %s (hint: %s)", tooOld.Error.Message, tooOld.Error.Hint)
	if !strings.Contains(tooOld.Error.Message, "retention window") {
		t.Fatalf("below retention: message %q", tooOld.Error.Message)
	}
	wantError(t, "as_of with session",
		postSQL(t, url, map[string]any{"query": "SELECT 1", "session": open.Session, "as_of": at[0]}), http.StatusBadRequest, "22023")

	// The PostgreSQL protocol, in every pgx execution mode (prepared
	// statements included): SET phantom.as_of on the connection.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://tester@127.0.0.1:%d/phantom?sslmode=disable", base+8))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for i, ts := range at {
		if _, err := conn.Exec(ctx, fmt.Sprintf("SET phantom.as_of = '%d'", ts)); err != nil {
			t.Fatal(err)
		}
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeSimpleProtocol} {
			rows, err := conn.Query(ctx, "SELECT id, v FROM t WHERE id > $1 ORDER BY id", mode, 0)
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for rows.Next() {
				var id int32
				var v string
				if err := rows.Scan(&id, &v); err != nil {
					t.Fatal(err)
				}
				parts = append(parts, fmt.Sprintf("%d=%s", id, v))
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("pgwire as of %d (%v): %v", ts, mode, err)
			}
			if got := strings.Join(parts, ","); got != want[i] {
				t.Fatalf("pgwire as of %d (%v): %s, want %s", ts, mode, got, want[i])
			}
		}
	}
	var pgErr *pgconn.PgError
	if _, err := conn.Exec(ctx, "DELETE FROM t"); !errors.As(err, &pgErr) || pgErr.Code != "25006" {
		t.Fatalf("pgwire write as of the past: %v, want 25006", err)
	}

	// Nothing refused was written.
	if got := rowsText(cluster.MustSQL(t, url, "SELECT id, v FROM t ORDER BY id")); got != want[len(want)-1] {
		t.Fatalf("final table: %s", got)
	}
}
