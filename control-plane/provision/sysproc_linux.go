package provision

import "syscall"

// sysProcAttr puts a compute in its own process group (a Ctrl-C aimed at
// the parent's group does not reach it: the parent drains it) and has the
// kernel send it SIGTERM if the parent dies without draining it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
