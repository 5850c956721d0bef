package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestHTTPSessionHundredRequests keeps one interactive HTTP session open
// across 100 requests with a ROLLBACK in the middle, against a real
// `phantom dev` with API keys: what the rolled-back block wrote is gone,
// the committed block is all there, uncommitted rows are invisible to
// other requests, and a session left idle past its timeout rolls back.
func TestHTTPSessionHundredRequests(t *testing.T) {
	d := startSecureDev(t, "--session-idle-timeout", "2s")
	base, key := d.info.SQLURL, d.info.APIKey
	sqlIn := func(session, query string) httpAnswer {
		b, _ := json.Marshal(map[string]any{"query": query, "session": session})
		return call(t, "POST", base+"/v1/sql", key, string(b))
	}
	count := func(session string) string {
		t.Helper()
		a := sqlIn(session, "SELECT count(*) FROM s100")
		var r struct{ Rows [][]any }
		if a.status != 200 || json.Unmarshal([]byte(a.body), &r) != nil || len(r.Rows) != 1 {
			t.Fatalf("count in session %q: %d %s", session, a.status, a.body)
		}
		return fmt.Sprint(r.Rows[0][0])
	}
	newSession := func() string {
		a := call(t, "POST", base+"/v1/sessions", key, "{}")
		var s struct{ Session string }
		if a.status != 201 || json.Unmarshal([]byte(a.body), &s) != nil || s.Session == "" {
			t.Fatalf("POST /v1/sessions: %d %s", a.status, a.body)
		}
		return s.Session
	}
	if a := sqlIn("", "CREATE TABLE s100 (i INT PRIMARY KEY, v INT)"); a.status != 200 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}

	s := newSession()
	for req := 1; req <= 100; req++ {
		var q string
		switch {
		case req == 1 || req == 51:
			q = "BEGIN"
		case req == 50:
			q = "ROLLBACK"
		case req == 100:
			q = "COMMIT"
		default:
			q = fmt.Sprintf("INSERT INTO s100 VALUES (%d, %d)", req, req*10)
		}
		if a := sqlIn(s, q); a.status != 200 {
			t.Fatalf("request %d (%s): %d %s", req, q, a.status, a.body)
		}
		switch req {
		case 25:
			if got := count(""); got != "0" {
				t.Fatalf("another request sees %s uncommitted rows", got)
			}
			if got := count(s); got != "24" {
				t.Fatalf("the session sees %s of its own 24 rows", got)
			}
		case 75:
			if got := count(s); got != "24" {
				t.Fatalf("after the rollback the session sees %s rows, want the 24 of its new block", got)
			}
		}
	}
	if got := count(""); got != "48" {
		t.Fatalf("after COMMIT %s rows are visible, want 48 (requests 52..99)", got)
	}
	a := sqlIn("", "SELECT min(i), max(i), sum(v) FROM s100")
	var r struct{ Rows [][]any }
	if err := json.Unmarshal([]byte(a.body), &r); err != nil || fmt.Sprint(r.Rows[0]) != "[52 99 36240]" {
		t.Fatalf("committed rows: %s", a.body)
	}

	// A session left idle inside a block is rolled back and closed.
	idle := newSession()
	for _, q := range []string{"BEGIN", "INSERT INTO s100 VALUES (1000, 0)"} {
		if a := sqlIn(idle, q); a.status != 200 {
			t.Fatalf("%s: %d %s", q, a.status, a.body)
		}
	}
	// Every probe uses the session and restarts its idle clock, so probe
	// after gaps longer than the timeout plus the reaper's period.
	closed := false
	for _, gap := range []time.Duration{3 * time.Second, 5 * time.Second, 8 * time.Second} {
		time.Sleep(gap)
		if a := sqlIn(idle, "SELECT 1"); a.status == 404 {
			closed = true
			break
		}
	}
	if !closed {
		t.Fatal("the idle session still answers after gaps of 3, 5 and 8 s (idle timeout 2s)")
	}
	if got := count(""); got != "48" {
		t.Fatalf("the idle session's insert is visible after its rollback: %s rows", got)
	}
	if a := call(t, "GET", base+"/healthz", "", ""); a.status != 200 {
		t.Fatalf("healthz: %d", a.status)
	}
}
