package logbench

import "syscall"

// sysProcAttr makes a server die with the benchmark (a crashed or killed
// bench must not leave replicas running).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
