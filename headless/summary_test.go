package headless

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/localsfu"
)

// syncBuffer is out for a run whose lines the test reads while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// whenLine runs f once out has a line containing sub (within ctx).
func whenLine(ctx context.Context, out *syncBuffer, sub string, f func()) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !strings.Contains(out.String(), sub) {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		f()
	}()
	return done
}

// A track the SFU unpublishes on its own (here: the publisher loses
// canPublishData) is in the Result, with the reason, and the run goes on.
func TestResultListsTracksUnpublishedBySFU(t *testing.T) {
	srv := sfu(t)
	s := connect(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	var out syncBuffer
	revoked := whenLine(ctx, &out, `"state":"published"`, func() {
		st := s.Report(nil).Connection
		rc := lksdk.NewRoomServiceClient("http"+strings.TrimPrefix(srv.URL, "ws"), srv.APIKey, srv.APISecret)
		if _, err := rc.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: st.Room, Identity: st.Identity,
			Permission: &livekit.ParticipantPermission{CanSubscribe: true, CanPublish: true, CanPublishData: false}}); err != nil {
			t.Errorf("revoke: %v", err)
		}
	})
	res, err := Run(ctx, s, []Track{{Name: "kicked", Rate: 50, Size: 64}}, &out, Options{Interval: 200 * time.Millisecond})
	<-revoked
	if err != nil || len(res.Failed) != 0 || len(res.Unpublished) != 1 || res.Unpublished[0].Name != "kicked" ||
		res.Unpublished[0].Error != "unpublished by the SFU" || res.Connection.State != report.Connected {
		t.Fatalf("result %+v, err %v", res, err)
	}
}

// When the session gives up reconnecting, the run ends at once (on main
// it printed dead lines until a signal) and says why.
func TestRunEndsWhenSessionGivesUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := localsfu.Start(ctx, localsfu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, ReconnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	var stopped time.Time
	stopper := whenLine(ctx, &out, `"state":"connected"`, func() { stopped = time.Now(); _ = srv.Close() })
	res, err := Run(ctx, s, []Track{{Name: "a", Rate: 20, Size: 64}}, &out, Options{Interval: 100 * time.Millisecond})
	<-stopper
	if err != nil || ctx.Err() != nil || res.Connection.State != report.Disconnected || res.Connection.Err == nil || len(res.Unpublished) != 1 {
		t.Fatalf("result %+v, err %v", res, err)
	}
	lines := parseLines(t, &out.buf)
	if last := lines[len(lines)-1]; !last.Final || last.Connection.State != "disconnected" {
		t.Fatalf("last line %+v", last)
	}
	t.Logf("ended %v after the server stopped: %v", time.Since(stopped).Round(100*time.Millisecond), res.Connection.Err)
}

// closingWriter is a pipe whose reader goes away after n lines.
type closingWriter struct {
	mu sync.Mutex
	n  int
}

func (w *closingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 {
		return 0, syscall.EPIPE
	}
	w.n--
	return len(p), nil
}

// A closed stdout stops the run as cleanly as a signal: generators
// stopped, queues flushed, the session closed (tracks unpublished, room
// left), no final line.
func TestRunStopsCleanlyWhenOutputCloses(t *testing.T) {
	s := connect(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, s, []Track{{Name: "piped", Rate: 50, Size: 64}}, &closingWriter{n: 2}, Options{Interval: 100 * time.Millisecond})
	if !errors.Is(err, syscall.EPIPE) || ctx.Err() != nil {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	c := res.Final.Connection
	// Closed by us: disconnected with no error, its track unpublished.
	if c.State != report.Disconnected || c.Err != nil || len(res.Final.Local) != 1 || res.Final.Local[0].State != outgoing.StateUnpublished {
		t.Fatalf("not closed: %+v", res.Final)
	}
	if l := res.Final.Local[0]; l.Out.FramesPushed != l.Out.FramesSent+l.Out.FramesDropped || l.Out.FramesQueued != 0 {
		t.Fatalf("frames unaccounted for: %+v", l.Out)
	}
}

// A failed connect still ends the JSON with a final line that says why,
// safe to print.
func TestConnectFailedLine(t *testing.T) {
	var out bytes.Buffer
	if err := ConnectFailed(&out, time.Now(), errors.New("refused: \x1b]2;PWNED\x07")); err != nil {
		t.Fatal(err)
	}
	ls := parseLines(t, &out)
	if len(ls) != 1 || !ls[0].Final || ls[0].Connection.State != "disconnected" || ls[0].Connection.Error != `refused: \x1b]2;PWNED\x07` {
		t.Fatalf("%s", out.String())
	}
}
