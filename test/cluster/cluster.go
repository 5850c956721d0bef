// Package cluster starts real phantom processes for end-to-end tests: it
// finds (or builds) the binary, picks free loopback ports, runs each service
// as its own OS process with its output captured to a file, and talks to the
// HTTP SQL API as a user would. Output of every process is printed when the
// test fails.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestAdminToken is the control plane admin token the tests that start
// the services separately pass to the control plane and compute.
const TestAdminToken = "phantom-test-admin-token-0123456789"

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// Binary returns the phantom binary to test: $PHANTOM_BIN when set (make e2e
// sets it), otherwise one built once per test process into a temp dir.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PHANTOM_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "phantom-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "phantom")
		cmd := exec.Command("go", "build", "-o", builtBin, "github.com/phantom-db/phantom/cmd/phantom")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// FreePortBase returns a port p such that p..p+n-1 are free on 127.0.0.1
// now; it is StablePortBase: below the kernel's ephemeral range when that
// is known, so no outgoing connection of the processes under test (which
// take ephemeral ports) can grab one of the ports before its service binds.
func FreePortBase(t testing.TB, n int) int {
	t.Helper()
	return StablePortBase(t, n)
}

// ephemeralPortBase finds p..p+n-1 free starting from a port the kernel
// hands out for ":0" (inside the ephemeral range).
func ephemeralPortBase(t testing.TB, n int) int {
	t.Helper()
	for try := 0; try < 100; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base+n > 65535 {
			continue
		}
		ok := true
		var ls []net.Listener
		for i := 0; i < n; i++ {
			li, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, li)
		}
		for _, li := range ls {
			li.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no run of free ports found")
	return 0
}

// FreeAddr returns a free 127.0.0.1 address.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePortBase(t, 1))
}

// Process is one running phantom process.
type Process struct {
	t       testing.TB
	Name    string
	Args    []string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// Start runs `phantom args...` with its output captured; the process is
// killed when the test ends if still running.
func Start(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	p := &Process{t: t, Name: name, Args: args, logPath: logPath}
	p.start()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			p.dumpLog()
		}
	})
	return p
}

func (p *Process) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	fmt.Fprintf(f, "=== start %s %v\n", p.Name, p.Args)
	p.cmd = exec.Command(Binary(p.t), p.Args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("start %s: %v", p.Name, err)
	}
	p.done = make(chan struct{})
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
}

// Restart starts the process again with the same arguments; it must have
// exited.
func (p *Process) Restart() {
	p.t.Helper()
	select {
	case <-p.done:
	default:
		p.t.Fatalf("restart %s: still running", p.Name)
	}
	p.start()
}

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGINT and waits up to timeout for a clean exit, then kills.
// It fails the test when the process exits with an error.
func (p *Process) Stop(timeout time.Duration) {
	p.t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		if p.err != nil {
			p.t.Errorf("%s exited with %v", p.Name, p.err)
		}
	case <-time.After(timeout):
		p.Kill()
		p.t.Errorf("%s did not stop within %s", p.Name, timeout)
	}
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Log returns what the process printed so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

func (p *Process) dumpLog() {
	p.t.Logf("---- output of %s ----\n%s", p.Name, p.Log())
}

// WaitHTTP polls url until it answers 200 or timeout passes. It fails fast
// when proc exits meanwhile.
func WaitHTTP(t testing.TB, url string, timeout time.Duration, procs ...*Process) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		for _, p := range procs {
			if p.Exited() {
				t.Fatalf("%s exited while waiting for %s:\n%s", p.Name, url, p.Log())
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready after %s", url, timeout)
}

// Result is a decoded answer of POST /v1/sql.
type Result struct {
	Status  int
	Columns []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"columns"`
	Rows     [][]any `json:"rows"`
	Command  string  `json:"command"`
	RowCount int64   `json:"row_count"`
	Error    *struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		Position int    `json:"position"`
		Hint     string `json:"hint"`
	} `json:"error"`
}

// SQL posts query (with params) to the HTTP SQL API at base and decodes the
// answer, whatever its status. Transport errors are returned.
func SQL(ctx context.Context, base, query string, params ...any) (*Result, error) {
	body, err := json.Marshal(map[string]any{"query": query, "params": params})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/sql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r Result
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode %s answer: %w", resp.Status, err)
	}
	r.Status = resp.StatusCode
	return &r, nil
}

// MustSQL runs query and fails the test unless it answers 200.
func MustSQL(t testing.TB, base, query string, params ...any) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := SQL(ctx, base, query, params...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("%s: status %d error %+v", query, r.Status, r.Error)
	}
	return r
}
