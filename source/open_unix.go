//go:build unix

package source

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"
)

// openFile opens path for reading. The open of a FIFO blocks until a
// writer opens it: it runs aside, and the end of ctx ends the wait by
// opening the FIFO for writing itself (the one thing that wakes that
// open(2)), so no goroutine outlives the call.
func openFile(ctx context.Context, path string) (*os.File, error) {
	if st, err := os.Stat(path); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return os.Open(path)
	}
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		done <- opened{f, err}
	}()
	select {
	case o := <-done:
		return o.f, o.err
	case <-ctx.Done():
	}
	tick := time.NewTicker(fifoWakeRetry)
	defer tick.Stop()
	for {
		// ENXIO until our open(2) waits as a reader: try again.
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		select {
		case o := <-done:
			if o.f != nil {
				o.f.Close()
			}
			return nil, fmt.Errorf("open %s: %w", path, ctx.Err())
		case <-tick.C:
		}
	}
}

// fifoWakeRetry spaces the attempts to wake a FIFO's pending open.
const fifoWakeRetry = 10 * time.Millisecond

// openStdin returns what a source of path "-" reads. Standard input is a
// blocking descriptor whose reads nothing can interrupt; on Linux a pipe
// or terminal there is opened anew through /proc (a description of our
// own, non-blocking and so pollable, leaving the shell's as it was), so
// the end of the source's context interrupts an idle read. Anything else
// (a reader the caller built, a socket, another platform) is read as it
// is.
func openStdin(stdin io.Reader) io.ReadCloser {
	f, ok := stdin.(*os.File)
	if !ok {
		return io.NopCloser(stdin)
	}
	if runtime.GOOS != "linux" {
		return io.NopCloser(f)
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&(os.ModeNamedPipe|os.ModeCharDevice) == 0 {
		return io.NopCloser(f)
	}
	// The descriptor's number without f.Fd, which would make a pollable f
	// blocking.
	fd := -1
	if sc, err := f.SyscallConn(); err == nil {
		_ = sc.Control(func(u uintptr) { fd = int(u) })
	}
	if fd < 0 {
		return io.NopCloser(f)
	}
	// A socket (ENXIO) or no /proc: read it as it is.
	own, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return io.NopCloser(f)
	}
	if own.SetReadDeadline(time.Time{}) != nil { // not pollable after all
		own.Close()
		return io.NopCloser(f)
	}
	return own
}
