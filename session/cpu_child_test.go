package session

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/procstat"
	"github.com/dttui/dttui/internal/testsfu"
)

// A room monitor in a child process (the test binary run again for
// TestMonitorChild), so its CPU time is dttui's alone: in the test's own
// process the embedded SFU, the hostile publisher and the honest one
// would count too.
const monitorChildEnv = "DTTUI_MONITOR_CHILD"

// monitorChild is the child as the parent sees it.
type monitorChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// childReport is the child's account of the honest track when told to end.
type childReport struct {
	Received, Lost, FramesLost, PacketsLost uint64
	P99                                     time.Duration
}

// startMonitorChild runs a monitor in room and returns once it holds
// every track in sids.
func startMonitorChild(t *testing.T, srv *testsfu.Server, room, honest string, sids []string) *monitorChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMonitorChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), monitorChildEnv+"=1", "DTTUI_MC_URL="+srv.URL, "DTTUI_MC_KEY="+srv.APIKey,
		"DTTUI_MC_SECRET="+srv.APISecret, "DTTUI_MC_ROOM="+room, "DTTUI_MC_HONEST="+honest, "DTTUI_MC_SIDS="+strings.Join(sids, ","),
		"DTTUI_TEST_LOG=") // the child must not truncate the parent's log
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &monitorChild{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if !c.expect("held") {
		t.Fatal("the monitor child did not come to hold the tracks")
	}
	return c
}

// expect reads the child's output up to a line starting with prefix.
func (c *monitorChild) expect(prefix string) bool {
	for c.out.Scan() {
		if strings.HasPrefix(c.out.Text(), prefix) {
			return true
		}
	}
	return false
}

// cpu is the child's CPU time so far.
func (c *monitorChild) cpu(t *testing.T) time.Duration {
	t.Helper()
	d, err := procstat.CPU(c.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// end tells the child to report, and reads its report.
func (c *monitorChild) end(t *testing.T) childReport {
	t.Helper()
	_ = c.stdin.Close()
	for c.out.Scan() {
		if j, ok := strings.CutPrefix(c.out.Text(), "report "); ok {
			var r childReport
			if err := json.Unmarshal([]byte(j), &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatal("the monitor child ended without a report")
	return childReport{}
}

func TestMonitorChild(t *testing.T) {
	if os.Getenv(monitorChildEnv) == "" {
		t.Skip("only runs as a monitor child")
	}
	s, err := Connect(bounded(t, 20*time.Second), Config{URL: os.Getenv("DTTUI_MC_URL"), APIKey: os.Getenv("DTTUI_MC_KEY"),
		APISecret: os.Getenv("DTTUI_MC_SECRET"), Room: os.Getenv("DTTUI_MC_ROOM"), Monitor: true, Logger: testLog})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sids := strings.Split(os.Getenv("DTTUI_MC_SIDS"), ",")
	eventually(t, 60*time.Second, "the child holds every track", func() bool {
		for _, sid := range sids {
			if !s.MonitorHolds(sid) {
				return false
			}
		}
		return true
	})
	fmt.Println("held")
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	honest := os.Getenv("DTTUI_MC_HONEST")
	eventually(t, 15*time.Second, "the honest frames settled", func() bool {
		r, ok := remoteRow(s, honest, "honest")
		return ok && r.Probe != nil && r.Probe.InGrace == 0
	})
	r, _ := remoteRow(s, honest, "honest")
	b, _ := json.Marshal(childReport{Received: r.Probe.Received, Lost: r.Probe.Lost, FramesLost: r.Stats.FramesLost,
		PacketsLost: r.Stats.PacketsLost, P99: time.Duration(r.Probe.Latency.Quantile(.99))})
	fmt.Printf("report %s\n", b)
}
