//go:build !linux

package testsfu

import "syscall"

// childProcAttr: only Linux can tie the child's life to ours; elsewhere
// t.Cleanup and Close are all there is.
func childProcAttr() *syscall.SysProcAttr { return nil }
