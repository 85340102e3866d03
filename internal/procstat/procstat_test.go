package procstat

import (
	"os"
	"testing"
	"time"
)

// This process's own figures: resident memory and a high-water mark at
// least as large, CPU time that grows with work, and zeros for a process
// that does not exist.
func TestOwnProcess(t *testing.T) {
	pid := os.Getpid()
	rss, hwm := RSS(pid), StatusKB(pid, "VmHWM")
	if rss <= 0 || hwm < rss {
		t.Fatalf("RSS %d, VmHWM %d", rss, hwm)
	}
	c0, err := CPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c1, err := CPU(pid)
		if err != nil {
			t.Fatal(err)
		}
		if c1 >= c0+20*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stood at %v through 10 s of spinning", c1)
		}
	}
	if _, err := CPU(1 << 30); err == nil {
		t.Fatal("a CPU time for a process that does not exist")
	}
	if RSS(1<<30) != 0 || StatusKB(pid, "NoSuchField") != 0 {
		t.Fatal("figures for what does not exist")
	}
}
