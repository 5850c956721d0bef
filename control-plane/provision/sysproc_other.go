//go:build !linux

package provision

import "syscall"

// sysProcAttr puts a compute in its own process group: a Ctrl-C aimed at
// the parent's group does not reach it (the parent drains it).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
