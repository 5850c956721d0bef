package provision

import (
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// children are the processes a local provisioner of log replicas or page
// servers started, by id, with a channel closed when each exits.
type children struct {
	mu     sync.Mutex
	procs  map[string]*exec.Cmd
	exited map[string]chan struct{}
	closed bool
}

func newChildren() children {
	return children{procs: map[string]*exec.Cmd{}, exited: map[string]chan struct{}{}}
}

// stopAll refuses new children and stops every one with SIGTERM, SIGKILL
// after grace.
func (c *children) stopAll(grace time.Duration) {
	c.mu.Lock()
	c.closed = true
	type proc struct {
		cmd    *exec.Cmd
		exited chan struct{}
	}
	var ps []proc
	for id, cmd := range c.procs {
		ps = append(ps, proc{cmd, c.exited[id]})
	}
	c.mu.Unlock()
	for _, p := range ps {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range ps {
		select {
		case <-p.exited:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
}
