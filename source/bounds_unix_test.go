//go:build unix

package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// An idle pipe (a writer that stays, sending nothing) gives way to the end
// of the context: Next returns its error within a moment (on main it
// waited for input forever, past --duration and the signal).
func TestIdlePipeAndFIFOAreCancellable(t *testing.T) {
	defer goleak.VerifyNone(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := Open(ctx, Spec{Path: "-"}, pr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if f, err := r.Next(); err != nil || string(f) != "one" {
		t.Fatalf("%q %v", f, err)
	}
	nextEnds(t, r, cancel)
	r.Close()

	// A FIFO with no writer: the open itself waits, and gives way.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		r, err := Open(ctx, Spec{Path: fifo}, nil)
		if err == nil {
			r.Close()
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // the open is waiting
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("open of a FIFO with no writer: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the open of a FIFO with no writer did not give way")
	}

	// A FIFO whose writer stays idle: Next gives way.
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		r, err := Open(ctx, Spec{Path: fifo}, nil)
		if err != nil {
			done <- err
			return
		}
		defer r.Close()
		_, err = r.Next()
		done <- err
	}()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	time.Sleep(50 * time.Millisecond) // Next is waiting
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("an idle FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next on an idle FIFO did not give way")
	}
}

// nextEnds checks that a Next waiting on idle input returns the context's
// error once cancel is called.
func nextEnds(t *testing.T, r Reader, cancel context.CancelFunc) {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, err := r.Next(); done <- err }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Next after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next on idle input did not give way to the context")
	}
}
