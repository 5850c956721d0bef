package failover

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestFailsOverOnRefusedConnection(t *testing.T) {
	var hits int
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
	}))
	defer live.Close()
	dead := "http://" + deadAddr(t)
	c, first, err := NewClient(dead+", "+live.URL, http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if first != dead {
		t.Fatalf("first = %q, want %q", first, dead)
	}
	for range 2 {
		resp, err := c.Post(first+"/v1/x", "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "POST /v1/x body" {
			t.Fatalf("answer %q", b)
		}
	}
	if hits != 2 {
		t.Fatalf("live server got %d requests, want 2", hits)
	}
	// Every server down: an error naming the failover, not a hang.
	c2, first2, err := NewClient("http://"+deadAddr(t)+",http://"+deadAddr(t), http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Get(first2 + "/healthz"); err == nil || !strings.Contains(err.Error(), "no server of 2") {
		t.Fatalf("all down: %v", err)
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{"", " , ", "127.0.0.1:1", "ftp://h:1", "http://h:1/v1"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	us, err := Parse("http://a:1, https://b:2/")
	if err != nil || len(us) != 2 || us[1].String() != "https://b:2" {
		t.Fatalf("Parse: %v %v", us, err)
	}
}
