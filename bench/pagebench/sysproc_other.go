//go:build !linux

package pagebench

import (
	"errors"
	"syscall"
	"time"
)

// sysProcAttr is empty off Linux (no parent-death signal).
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// runAs makes the process run as uid/gid (PostgreSQL refuses to run as root).
func runAs(attr *syscall.SysProcAttr, uid, gid uint32) {
	attr.Credential = &syscall.Credential{Uid: uid, Gid: gid}
}

// cpuTime is not measured off Linux.
func cpuTime(int) (time.Duration, error) {
	return 0, errors.New("pagebench: cpu time is only measured on Linux")
}
