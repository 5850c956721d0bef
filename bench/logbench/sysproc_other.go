//go:build !linux

package logbench

import "syscall"

// sysProcAttr is empty off Linux (no parent-death signal).
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
