//go:build !linux

package jsclient

import (
	"errors"
	"os"
	"syscall"
	"time"
)

const terminate = os.Interrupt

func driverProcAttr() *syscall.SysProcAttr { return nil }

type proc struct{ pid int }

// descendants: only Linux is checked for leftover Chromium processes.
func descendants(int) []proc { return nil }

func killAll([]proc) []int { return nil }

// treeCPU: only Linux's /proc is read.
func treeCPU(int) (time.Duration, error) {
	return 0, errors.New("jsclient: CPU time is only read on Linux")
}
