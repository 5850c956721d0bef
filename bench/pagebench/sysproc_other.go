//go:build !linux

package pagebench

import (
	"errors"
	"syscall"
	"time"
)

// sysProcAttr is empty off Linux (no parent-death signal).
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// cpuTime is not measured off Linux.
func cpuTime(int) (time.Duration, error) {
	return 0, errors.New("pagebench: cpu time is only measured on Linux")
}
