package cluster

import (
	"strings"
	"testing"
	"time"
)

// LogCount returns how many times substr occurs in what the process printed
// so far (over every start of it).
func (p *Process) LogCount(substr string) int {
	return strings.Count(p.Log(), substr)
}

// WaitLogCount polls the process output until substr occurs at least n
// times, and reports whether it did before timeout passed or the process
// exited.
func (p *Process) WaitLogCount(t testing.TB, substr string, n int, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.LogCount(substr) >= n {
			return true
		}
		if p.Exited() {
			return p.LogCount(substr) >= n
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}
