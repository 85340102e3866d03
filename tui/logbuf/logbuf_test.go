package logbuf

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestTailKeepsNewestInOrder(t *testing.T) {
	b := New(3)
	for i := range 5 {
		fmt.Fprintf(b, "line %d\n", i)
	}
	if got := strings.Join(b.Tail(10), ","); got != "line 2,line 3,line 4" {
		t.Fatalf("Tail = %q", got)
	}
	if got := strings.Join(b.Tail(2), ","); got != "line 3,line 4" {
		t.Fatalf("Tail(2) = %q", got)
	}
	if b.Total() != 5 {
		t.Fatalf("Total %d", b.Total())
	}
}

func TestPartialLinesWait(t *testing.T) {
	b := New(4)
	b.Write([]byte("hel"))
	if len(b.Tail(4)) != 0 {
		t.Fatal("partial line shown")
	}
	b.Write([]byte("lo\nwor"))
	if got := b.Tail(4); len(got) != 1 || got[0] != "hello" {
		t.Fatalf("%q", got)
	}
}

func TestConcurrentWritersAndLogger(t *testing.T) {
	b := New(1000)
	l := b.Logger(slog.LevelInfo, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				l.Info("msg", "g", g, "i", i)
			}
		}()
	}
	wg.Wait()
	if b.Total() != 400 || !strings.Contains(b.Tail(1)[0], "msg=msg") {
		t.Fatalf("total %d, last %q", b.Total(), b.Tail(1))
	}
}
