package cluster

import (
	"fmt"
	"syscall"
)

// Signal sends sig to the running process (e.g. SIGSTOP, SIGCONT). It fails
// when the process has exited.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("cluster: signal %s to %s: exited", sig, p.Name)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("cluster: signal %s to %s: %w", sig, p.Name, err)
	}
	return nil
}

// Pid returns the OS process id of the current run.
func (p *Process) Pid() int { return p.cmd.Process.Pid }
