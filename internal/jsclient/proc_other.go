//go:build !linux

package jsclient

import (
	"os"
	"syscall"
)

const terminate = os.Interrupt

func driverProcAttr() *syscall.SysProcAttr { return nil }

type proc struct{ pid int }

// descendants: only Linux is checked for leftover Chromium processes.
func descendants(int) []proc { return nil }

func killAll([]proc) []int { return nil }
