package tui

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
	"github.com/dttui/dttui/tui/logbuf"
	"github.com/dttui/dttui/tui/theme"
)

var (
	update      = flag.Bool("update", false, "rewrite the golden views")
	screenshots = flag.String("screenshots", "", "write each golden state in colour as ANSI to this directory (scripts/screenshots.sh turns them into PNGs)")
)

var goldenSizes = []struct{ w, h int }{{80, 24}, {140, 40}}

// scenario builds a model in one of the states the goldens pin.
type scenario struct {
	name  string
	build func(t *testing.T, h *harness, b *fakeBackend, c *clock)
	// opts, when set, changes the options the model starts with.
	opts func(o *Options)
}

// traffic advances the clock in 100 ms steps, each published track
// sending at fps frames/s of size bytes (with a slow wobble, so the
// per-second history has shape), dropping drops frames per step, as the
// recorder sees a steady stream.
func traffic(h *harness, b *fakeBackend, c *clock, steps int, fps map[string]float64, size int, drops map[string]uint64) {
	for i := 0; i < steps; i++ {
		wobble := map[string]float64{}
		for k, v := range fps {
			wobble[k] = v * (1 + 0.5*math.Sin(float64(i)/15))
		}
		per := map[string]uint64{}
		for k, v := range drops {
			per[k] = v / uint64(steps)
		}
		b.advance(c, 100*time.Millisecond, wobble, size, per)
		h.send(tickMsg(c.t))
	}
}

// steady advances the clock in 100 ms steps as a generator does: each
// published track sends exactly fps frames/s of size bytes.
func steady(h *harness, b *fakeBackend, c *clock, steps int, fps map[string]float64, size int) {
	for range steps {
		b.advance(c, 100*time.Millisecond, fps, size, nil)
		h.send(tickMsg(c.t))
	}
}

// publishTracks publishes names and runs each one's generator as the
// traffic will describe it (so the screen says what the figures show),
// without letting it push: the fake's counters are the traffic.
func publishTracks(t *testing.T, h *harness, b *fakeBackend, rate float64, size int, names ...string) {
	for _, n := range names {
		publishNow(t, h, b, n)
	}
	for _, tu := range h.m.tracks {
		tu.rate, tu.size = rate, size
		g, err := probe.NewGenerator(tu.src, rate, size)
		if err != nil {
			t.Fatal(err)
		}
		tu.gen = g // not started: the fake's counters are its frames
	}
	b.mu.Lock()
	for _, fl := range b.locals {
		fl.latency = []time.Duration{500 * time.Microsecond, 600 * time.Microsecond, 700 * time.Microsecond, 2100 * time.Microsecond}
	}
	b.mu.Unlock()
	h.m.statusMsg = ""
}

// droppingScenario is a track pushed harder than its queue drains, for
// 15 s: queue-full drops all along, a transport error and pushes refused
// while it was republished after a reconnect (new SID), frames lost on
// the way, and the error history that left.
func droppingScenario(t *testing.T, h *harness, b *fakeBackend, c *clock) {
	publishTracks(t, h, b, 200, 64<<10, "video-meta")
	b.edit("video-meta", func(fl *fakeLocal) {
		at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
		fl.out.FramesPushed += 5
		fl.out.DroppedBy[outgoing.DropTransportError] = 2
		fl.out.DroppedBy[outgoing.DropRepublishing] = 3
		fl.out.FramesDropped += 5
		fl.out.PublishAttempts = 2
		fl.l.Timeline = append(fl.l.Timeline,
			outgoing.StateChange{At: at(4), State: outgoing.StateRepublishing, SID: "DTR_video-meta", Reason: "reconnecting; will republish"},
			outgoing.StateChange{At: at(5), State: outgoing.StatePublished, SID: "DTR_video-meta2", Reason: "republished after reconnect"})
		fl.l.Errors = []outgoing.ErrorEvent{
			{At: at(3), Cause: &outgoing.PushError{Track: "video-meta", Drop: outgoing.DropTransportError}, Err: `push to "video-meta": frame dropped: transport error`},
			{At: at(4), Cause: &outgoing.PushError{Track: "video-meta", Drop: outgoing.DropRepublishing}, Err: `push to "video-meta": frame dropped: republishing`},
		}
		fl.latency = []time.Duration{3 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond, 41 * time.Millisecond}
	})
	traffic(h, b, c, 150, map[string]float64{"video-meta": 200}, 64<<10, map[string]uint64{"video-meta": 1500})
	b.lose("video-meta", 4)
	b.edit("video-meta", func(fl *fakeLocal) {
		fl.l.Errors = append(fl.l.Errors, outgoing.ErrorEvent{At: c.t.Add(-time.Second),
			Cause: &outgoing.PushError{Track: "video-meta", Drop: outgoing.DropQueueFull}, Err: `push to "video-meta": frame dropped: queue full`})
	})
	h.send(tickMsg(c.t))
}

// chartsScenario is six minutes of two tracks, a second at a time, with
// what a chart is for: telemetry's rate wanders; at 3:00 its path slows
// for 20 s (queue-full drops, latency climbing, frames lost); at 4:00 the
// signal connection drops and resumes 2 s later, the track republished
// under a new SID meanwhile (its pushes dropped as republishing); the RTT
// wobbles. The chart pane shows by itself at 140x40 and is asked for (t)
// at 80x24.
func chartsScenario(t *testing.T, h *harness, b *fakeBackend, c *clock) {
	publishTracks(t, h, b, 500, 1024, "telemetry", "chat")
	h.m.tracks[2].rate = 50
	calm := []time.Duration{500 * time.Microsecond, 600 * time.Microsecond, 700 * time.Microsecond, 2100 * time.Microsecond}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for i := range 360 {
		fps := map[string]float64{"telemetry": 350 + 150*math.Sin(float64(i)/30), "chat": 50 + 10*math.Sin(float64(i)/7)}
		var drops map[string]uint64
		b.edit("telemetry", func(fl *fakeLocal) {
			fl.latency, fl.lossPerStep = calm, 0
			if i >= 180 && i < 200 {
				slow := time.Duration(i-179) * 2 * time.Millisecond
				fl.latency = []time.Duration{slow, slow + 3*time.Millisecond, 2 * slow}
				fl.lossPerStep = 3
				drops = map[string]uint64{"telemetry": uint64(20 * (i - 179))}
			}
			switch i {
			case 240:
				fl.l.State, fl.l.Since = outgoing.StateRepublishing, at(i)
				fl.out.PublishAttempts++
				fl.l.Timeline = append(fl.l.Timeline, outgoing.StateChange{At: at(i), State: outgoing.StateRepublishing, SID: "DTR_telemetry", Reason: "reconnecting; will republish"})
			case 242:
				fl.l.State, fl.l.Since = outgoing.StatePublished, at(i)
				fl.l.Timeline = append(fl.l.Timeline, outgoing.StateChange{At: at(i), State: outgoing.StatePublished, SID: "DTR_telemetry2", Reason: "republished after reconnect"})
			}
			if fl.l.State == outgoing.StateRepublishing {
				fl.out.FramesPushed += 300
				fl.out.DroppedBy[outgoing.DropRepublishing] += 300
				fl.out.FramesDropped += 300
			}
		})
		b.mu.Lock()
		b.status.RTT = 800*time.Microsecond + time.Duration(400*math.Sin(float64(i)/25))*time.Microsecond
		switch i {
		case 240:
			b.status.State, b.status.Since = session.StateReconnecting, at(i).Add(300*time.Millisecond)
		case 242:
			b.status.State, b.status.Since, b.status.Reconnects = session.StateConnected, at(i).Add(200*time.Millisecond), 1
		}
		b.mu.Unlock()
		b.advance(c, time.Second, fps, 1024, drops)
	}
	h.send(tickMsg(c.t))
	h.send(press("k")) // telemetry
	if !h.m.chartsShown() {
		h.send(press("t"))
	}
}

// poseFrame is what the JS publisher's pose track carries: JSON.
const poseFrame = `{"x":1.25,"y":-0.5,"theta":0.78,"frame":"map","ts":1795000000123}`

// roomScenario is our telemetry track and, for 15 s, the room: a
// browser publisher's typed JSON track (its last frame previewed), an
// E2EE track from a drone some of whose frames do not decrypt (another
// passphrase) and that loses packets, a track whose publisher left, and
// a track republished after its publisher reconnected (the old row
// replaced, the new one marked).
func roomScenario(t *testing.T, h *harness, b *fakeBackend, c *clock) {
	publishTracks(t, h, b, 100, 1024, "telemetry")
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	b.addRemote("bob", "chat", "DTR_bobchat", 10, 96)
	b.addRemote("drone-7", "cam-meta", "DTR_drcam", 60, 2048)
	b.addRemote("robot-js", "pose", "DTR_jspose", 30, len(poseFrame))
	b.addRemote("robot-js", "status", "DTR_jsstat1", 10, 64)
	b.editRemote("DTR_jspose", func(fr *fakeRemote) {
		fr.st.Type = schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON}}
		fr.latency = []time.Duration{11 * time.Millisecond, 12 * time.Millisecond, 14 * time.Millisecond, 31 * time.Millisecond}
	})
	b.editRemote("DTR_drcam", func(fr *fakeRemote) {
		fr.st.Encryption = incoming.EncryptionGCM
		fr.lossPerStep = 1
		fr.latency = []time.Duration{-time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}
	})
	for i := range 150 {
		switch i {
		case 40: // bob leaves the room
			b.editRemote("DTR_bobchat", func(fr *fakeRemote) {
				fr.st.Handle = 0
				fr.setState(incoming.StateUnpublished, c.t, "the publisher left the room")
			})
		case 90: // robot-js reconnects: status is republished under a new SID
			b.editRemote("DTR_jsstat1", func(fr *fakeRemote) {
				fr.st.Handle, fr.st.ReplacedBy = 0, "DTR_jsstat2"
				fr.setState(incoming.StateUnpublished, c.t, "unpublished: republished as DTR_jsstat2")
			})
			b.addRemote("robot-js", "status", "DTR_jsstat2", 10, 64)
			b.editRemote("DTR_jsstat2", func(fr *fakeRemote) { fr.st.Replaces = "DTR_jsstat1" })
		}
		if i%10 == 0 { // every second, a few frames of the drone's do not open
			b.editRemote("DTR_drcam", func(fr *fakeRemote) {
				fr.st.DecryptFailures[incoming.DecryptAuthFailed] += 3
				fr.st.FramesCompleted += 3
				fr.st.Errors = append(fr.st.Errors, incoming.ErrorEvent{At: c.t,
					Err: "decrypt failed: authentication failed (another passphrase or key index)"})
				if len(fr.st.Errors) > 3 {
					fr.st.Errors = fr.st.Errors[1:]
				}
			})
		}
		b.advance(c, 100*time.Millisecond, map[string]float64{"telemetry": 100}, 1024, nil)
		h.send(tickMsg(c.t))
	}
	b.editRemote("DTR_jspose", func(fr *fakeRemote) {
		fr.st.LastFrame = incoming.Preview{Number: uint16(fr.st.FramesCompleted), At: at(14.96), Size: len(poseFrame), Head: []byte(poseFrame)}
	})
	b.editRemote("DTR_drcam", func(fr *fakeRemote) {
		head := make([]byte, 2048)
		for i := range head {
			head[i] = byte(i * 7)
		}
		fr.st.LastFrame = incoming.Preview{Number: uint16(fr.st.FramesCompleted), At: at(14.98), Size: len(head), Head: head}
	})
	h.send(tickMsg(c.t))
	h.m.statusMsg = ""
}

// selectRow moves the selection to the first row whose name is name.
func selectRow(t *testing.T, h *harness, name string) {
	t.Helper()
	for range len(h.m.tbl.rows) {
		h.send(press("k"))
	}
	for range len(h.m.tbl.rows) + 1 {
		if r, ok := h.m.selectedRow(); ok && r.Name() == name {
			return
		}
		h.send(press("j"))
	}
	t.Fatalf("no row %q", name)
}

var scenarios = []scenario{
	{name: "empty", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {}},
	{name: "pending", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		// Connected for 5 s, then a publish the SFU has not answered for
		// 2.3 s; the charts on their 1-minute window, as the real
		// screenshots.
		h.send(press("w"))
		h.send(press("w"))
		steady(h, b, c, 50, nil, 0)
		h.send(press("p"))
		h.m.prompt.SetValue("telemetry")
		h.send(press("enter"))
		<-b.started
		h.until("the pending row", 5*time.Second, func(m Model) bool { return len(m.pending) == 1 })
		steady(h, b, c, 23, nil, 0)
		h.m.statusMsg = ""
	}},
	{name: "traffic", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		publishTracks(t, h, b, 500, 1024, "telemetry", "chat")
		h.m.tracks[2].rate = 50
		traffic(h, b, c, 150, map[string]float64{"telemetry": 500, "chat": 50}, 1024, nil)
		h.send(press("d"))
	}},
	{name: "dropping", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		droppingScenario(t, h, b, c)
	}},
	{name: "dropping_detail", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		droppingScenario(t, h, b, c)
		h.send(press("d"))
	}},
	{name: "charts", build: chartsScenario},
	{name: "prompt", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		publishTracks(t, h, b, 100, 1024, "telemetry")
		traffic(h, b, c, 30, map[string]float64{"telemetry": 100}, 1024, nil)
		h.send(press("p"))
		h.m.prompt.SetValue("sensors/lidar-front")
	}},
	{name: "republishing", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		// 12 s of a steady 100/s; the signal connection drops (the track
		// republishing from then, its pushes dropped), comes back 2 s later
		// as a new session, and the republish is still unanswered 1.5 s on.
		// The charts on their 1-minute window, as the real screenshots.
		publishTracks(t, h, b, 100, 512, "telemetry")
		steady(h, b, c, 120, map[string]float64{"telemetry": 100}, 512)
		b.mu.Lock()
		b.status.State, b.status.Since = session.StateReconnecting, c.t
		b.mu.Unlock()
		b.edit("telemetry", func(fl *fakeLocal) {
			fl.l.State, fl.l.Since = outgoing.StateRepublishing, c.t
			fl.out.PublishAttempts = 2
			fl.l.Timeline = append(fl.l.Timeline, outgoing.StateChange{At: c.t, State: outgoing.StateRepublishing, SID: "DTR_telemetry", Reason: "reconnecting; will republish"})
		})
		for i := range 35 {
			if i == 20 {
				b.mu.Lock()
				b.status.State, b.status.Since, b.status.Reconnects = session.StateConnected, c.t, 1
				b.mu.Unlock()
			}
			b.edit("telemetry", func(fl *fakeLocal) {
				fl.out.FramesPushed += 10
				fl.out.DroppedBy[outgoing.DropRepublishing] += 10
				fl.out.FramesDropped += 10
			})
			b.advance(c, 100*time.Millisecond, nil, 512, nil)
			h.send(tickMsg(c.t))
		}
		h.send(press("w"))
		h.send(press("w"))
		h.send(press("d"))
	}},
	{name: "failed", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		b.answers <- publishAnswer{err: &outgoing.PublishError{Reason: outgoing.ReasonTimeout, Name: "telemetry", Timeout: 10 * time.Second}}
		h.send(press("p"))
		h.m.prompt.SetValue("telemetry")
		h.send(press("enter"))
		h.until("the failed row", 5*time.Second, func(m Model) bool { return len(m.failed) == 1 })
		h.send(press("d")) // the full reason, which the table abbreviates
	}},
	{name: "connecting", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		reconnectWith(h, c, func(ctx context.Context, _ string) (Backend, error) { <-ctx.Done(); return nil, ctx.Err() })
		c.t = t0.Add(1200 * time.Millisecond)
		h.send(tickMsg(c.t))
	}},
	{name: "connect_error", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		reconnectWith(h, c, func(context.Context, string) (Backend, error) {
			return nil, errors.New(`connect to ws://127.0.0.1:7880: websocket: bad handshake (HTTP 401): invalid token: token is expired (exp 2026-11-24T11:00:00Z)`)
		})
	}},
	{name: "room_picker", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		pickWith(h, c, pickerRooms)
	}},
	{name: "room_picker_new", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		pickWith(h, c, pickerRooms)
		h.send(press("/"))
		h.send(press("o"))
		h.send(press("enter"))
		h.send(press("down"))
		h.send(press("n"))
		h.send(press("sensor-lab"))
	}},
	{name: "help", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		h.send(press("?"))
	}},
	{name: "logs", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		// Following, library INFO hidden, the join details pinned.
		openLogs(t, h, b)
	}},
	{name: "logs_search", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		// Every level, on the match before the newest of "ice conn",
		// scrolled there.
		openLogs(t, h, b)
		h.send(press("v"))
		h.send(press("/"))
		h.send(press("ice conn"))
		h.send(press("enter"))
		h.send(press("N"))
	}},
	{name: "room_table", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		roomScenario(t, h, b, c)
		selectRow(t, h, "cam-meta")
	}},
	{name: "room_detail", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		roomScenario(t, h, b, c)
		selectRow(t, h, "pose")
		h.send(press("d"))
	}},
	{name: "room_schema_detail", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		roomScenario(t, h, b, c)
		b.editRemote("DTR_jspose", func(fr *fakeRemote) {
			fr.st.Type.Schema = schema.ID{Name: "pose", Encoding: schema.SchemaEncoding{WellKnown: schema.EncodingJSONSchema}}
			fr.schemaDef = []byte(`{"type":"object","required":["x","y"]}`)
			fr.schemaCheck = report.SchemaCheck{Checked: 448, NotChecked: 2, Mismatches: 2,
				First: &validate.Mismatch{Path: "/y", Reason: "missing property 'y'"}}
		})
		b.advance(c, 100*time.Millisecond, nil, 1024, nil)
		h.send(tickMsg(c.t))
		selectRow(t, h, "pose")
		h.send(press("d"))
	}},
	{name: "room_e2ee_detail", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		roomScenario(t, h, b, c)
		selectRow(t, h, "cam-meta")
		h.send(press("d"))
	}},
	{name: "subscribe_only", opts: func(o *Options) { o.SubscribeOnly = true }, build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		b.addRemote("robot-js", "pose", "DTR_jspose", 30, len(poseFrame))
		b.addRemote("robot-js", "status", "DTR_jsstat1", 10, 64)
		traffic(h, b, c, 100, nil, 0, nil)
	}},
	{name: "subscribe_only_empty", opts: func(o *Options) { o.SubscribeOnly = true }, build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		h.send(tickMsg(c.t))
	}},
	{name: "source", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		publishTracks(t, h, b, 100, 1024, "telemetry")
		traffic(h, b, c, 30, map[string]float64{"telemetry": 100}, 1024, nil)
		h.send(press("g")) // generator off: the file's frames only
		h.send(press("o"))
		h.m.source.SetValue("testdata/telemetry.ndjson")
		h.send(press("enter"))
		h.until("the file pushed", 5*time.Second, func(m Model) bool {
			return m.tracks[1].source != nil && m.tracks[1].source.finished()
		})
		b.advance(c, 100*time.Millisecond, nil, 1024, nil)
		h.send(tickMsg(c.t))
		h.m.statusMsg = ""
		h.send(press("d"))
	}},
	{name: "recording", opts: func(o *Options) {
		o.Recorder = &fakeRecorder{file: "/home/robot/recordings/dttui-lab-20261206-204700.mcap"}
	},
		build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
			roomScenario(t, h, b, c)
			selectRow(t, h, "pose")
			h.send(press("R"))
		}},
	{name: "replay", opts: func(o *Options) {
		o.Player = &fakePlayer{st: record.PlayState{Position: 83 * time.Second, Duration: 10 * time.Minute, Speed: 2, Paused: true}}
	}, build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		publishTracks(t, h, b, 30, 512, "pose", "imu")
		// Each at the rate its generator runs, as a replay's tracks are.
		traffic(h, b, c, 30, map[string]float64{"pose": 30, "imu": 30}, 512, nil)
	}},
	{name: "logs_filtered", build: func(t *testing.T, h *harness, b *fakeBackend, c *clock) {
		// Every level, pion off, no wrap, back on the table: the pane
		// keeps its state and the table has the keys.
		openLogs(t, h, b)
		h.send(press("v3w"))
		h.send(press("esc"))
	}},
}

// openLogs publishes a track and opens the log pane on a session's first
// records.
func openLogs(t *testing.T, h *harness, b *fakeBackend) {
	publishTracks(t, h, b, 30, 1024, "telemetry")
	seedLogs(h.m.opts.Logs)
	h.send(press("l"))
}

// Every fixture the goldens and screenshots show obeys the identities a
// real report keeps, in the report and as the detail pane prints it: no
// screenshot can show an impossible state.
func TestScenarioFiguresAddUp(t *testing.T) {
	shown := 0 // scenarios whose detail pane prints a local track's counters
	defer func() {
		if !t.Failed() && shown == 0 {
			t.Fatal("no scenario shows a local track's counters: the screen check checked nothing")
		}
	}()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			b := newFakeBackend()
			c := &clock{t: t0}
			b.now = c.now
			o := Options{Theme: theme.Plain(), Now: c.now, Logs: logbuf.New(100), Tick: time.Hour}
			if sc.opts != nil {
				sc.opts(&o)
			}
			h := newHarness(t, New(b, o))
			h.send(tea.WindowSizeMsg{Width: 140, Height: 40})
			sc.build(t, h, b, c)
			checkIdentities(t, b.Report(nil, report.Scope{}))
			screen := plain(h.m)
			ok, err := screenIdentities(screen)
			if err != nil {
				t.Fatalf("%v\n%s", err, screen)
			}
			if ok {
				shown++
			}
			for _, r := range h.m.tbl.rows {
				if r.ui != nil && r.ui.gen != nil && r.L.Rate.SentFPS > 0 {
					// The generator the screen names is the traffic it shows.
					if got, want := r.L.Rate.SentFPS, r.ui.rate; got < want/3 || got > want*3 {
						t.Fatalf("%s: %.0f frames/s on screen, generator at %.0f/s", r.L.Name, got, want)
					}
				}
			}
		})
	}
}

var (
	pushedLine   = regexp.MustCompile(`frames pushed (\d+) · sent (\d+) · queued (\d+) · dropped (\d+)`)
	loopbackLine = regexp.MustCompile(`loopback: received (\d+) · .*? · lost (\d+) · in grace (\d+) .*? · unfollowed (\d+) · foreign \d+(?: · |\s+)data (\d+)`)
)

// screenIdentities checks the identities on the figures the detail pane
// prints, read back from the screen; shown says whether it had them.
func screenIdentities(screen string) (shown bool, err error) {
	flat := strings.Join(strings.Fields(strings.ReplaceAll(screen, "│", " ")), " ")
	p := pushedLine.FindStringSubmatch(flat)
	if p == nil {
		return false, nil
	}
	n := func(s string) uint64 { v, _ := strconv.ParseUint(s, 10, 64); return v }
	pushed, sent, queued, dropped := n(p[1]), n(p[2]), n(p[3]), n(p[4])
	if pushed != sent+queued+dropped {
		return true, fmt.Errorf("on screen: pushed %d != sent %d + queued %d + dropped %d", pushed, sent, queued, dropped)
	}
	r := loopbackLine.FindStringSubmatch(flat)
	switch {
	case r != nil:
		if got := n(r[1]) + n(r[2]) + n(r[3]) + n(r[4]) + n(r[5]); got != sent {
			return true, fmt.Errorf("on screen: received %s + lost %s + in grace %s + unfollowed %s + data %s = %d != sent %d",
				r[1], r[2], r[3], r[4], r[5], got, sent)
		}
	case strings.Contains(flat, "loopback: received"):
		return true, errors.New("the loopback line no longer reads as the check expects")
	}
	return true, nil
}

// The screen check catches what an old dropping_detail.png showed
// (pushed 4700, sent 3200, dropped 1505), and a loopback line that does
// not add up to the frames sent.
func TestScreenIdentitiesCatchAnImpossibleScreen(t *testing.T) {
	screen := func(pushed, lost int) string {
		return fmt.Sprintf("│ frames pushed %d · sent 3200 · queued 0 · dropped 1505 · packets 16000 │\n"+
			"│ loopback: received 3196 · 200 MiB · lost %d · in grace 0 (3.0s) · incomplete 0 · duplicates 0 · late 0 · unfollowed 0 · foreign 0 │\n"+
			"│ data 0 · latency p50 4.0ms │", pushed, lost)
	}
	if shown, err := screenIdentities(screen(4705, 4)); !shown || err != nil {
		t.Fatalf("a screen that adds up: shown %v, %v", shown, err)
	}
	if _, err := screenIdentities(screen(4700, 4)); err == nil || !strings.Contains(err.Error(), "pushed 4700") {
		t.Fatalf("pushed 4700 = sent 3200 + dropped 1505 passed: %v", err)
	}
	if _, err := screenIdentities(screen(4705, 0)); err == nil || !strings.Contains(err.Error(), "received 3196") {
		t.Fatalf("received 3196 + lost 0 = sent 3200 passed: %v", err)
	}
}

// reconnectWith replaces the scenario's model by one that connects with
// connect, as the app does, and runs its start.
func reconnectWith(h *harness, c *clock, connect func(context.Context, string) (Backend, error)) {
	w, ht := h.m.width, h.m.height
	h.m = New(nil, Options{Theme: h.m.th, Now: c.now, Logs: h.m.opts.Logs, Tick: time.Hour,
		URL: "ws://127.0.0.1:7880", Connect: connect, LocalSFU: h.m.opts.LocalSFU})
	h.send(tea.WindowSizeMsg{Width: w, Height: ht})
	h.init()
}

// buildScenario returns the model of a scenario at a size.
func buildScenario(t *testing.T, sc scenario, w, hgt int, th theme.Theme) Model {
	b := newFakeBackend()
	c := &clock{t: t0}
	b.now = c.now
	o := Options{Theme: th, Now: c.now, Logs: logbuf.New(100), Tick: time.Hour,
		LocalSFU: &LocalSFU{URL: "ws://127.0.0.1:7880", APIKey: "dttuiab12cd34", EnvFile: "~/.cache/dttui/local-sfu.env"}}
	if sc.opts != nil {
		sc.opts(&o)
	}
	h := newHarness(t, New(b, o))
	h.send(tea.WindowSizeMsg{Width: w, Height: hgt})
	sc.build(t, h, b, c)
	return h.m
}

func TestGoldenViews(t *testing.T) {
	for _, sc := range scenarios {
		for _, sz := range goldenSizes {
			name := fmt.Sprintf("%s_%dx%d", sc.name, sz.w, sz.h)
			t.Run(name, func(t *testing.T) {
				m := buildScenario(t, sc, sz.w, sz.h, theme.Plain())
				got := plain(m)
				lines := strings.Split(got, "\n")
				if len(lines) != sz.h {
					t.Fatalf("view has %d lines, want %d", len(lines), sz.h)
				}
				assertFits(t, m.View(), sz.w, sz.h)
				path := filepath.Join("testdata", "golden", name+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./tui -run TestGoldenViews -update)", err)
				}
				if got != string(want) {
					t.Fatalf("view differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
				}
			})
		}
	}
}

// fixtureShots are the states whose PNG comes from a fixture: a real run
// cannot reach them on demand (a publish the SFU has not answered yet, a
// republish after a reconnect). scripts/screenshots.sh captures every
// other state from the real binary.
var fixtureShots = []string{"pending", "republishing"}

// TestWriteScreenshots renders the fixtureShots states in true colour at
// 140x40 for the PNGs in screenshots/. It does nothing without -screenshots.
func TestWriteScreenshots(t *testing.T) {
	if *screenshots == "" {
		t.Skip("pass -screenshots DIR (see scripts/screenshots.sh)")
	}
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range fixtureShots {
		i := slices.IndexFunc(scenarios, func(sc scenario) bool { return sc.name == name })
		if i < 0 {
			t.Fatalf("no scenario %q", name)
		}
		sc := scenarios[i]
		m := buildScenario(t, sc, 140, 40, theme.Color())
		path := filepath.Join(*screenshots, sc.name+".ansi")
		if err := os.WriteFile(path, []byte(m.View()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
