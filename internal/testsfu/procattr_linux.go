package testsfu

import "syscall"

// childProcAttr makes the kernel kill the server if the test binary dies
// (a panic, a -timeout, a kill): it must never outlive its test.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
