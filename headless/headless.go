// Package headless runs dttui without a screen: it publishes the given
// tracks, drives their generators, and prints every track's stats as one
// JSON line per interval, for scripts and CI.
package headless

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
)

// Track is one track to publish; Rate 0 publishes without sending.
type Track struct {
	Name string
	Rate float64 // frames per second
	Size int     // bytes per frame
	E2EE bool
}

// Backend is what headless needs of a session.
type Backend interface {
	Publish(ctx context.Context, name string, e2ee bool) (*outgoing.LocalTrack, error)
	Status() session.Status
	Received() map[string]session.ReceiveStats
}

// Options tune a run.
type Options struct {
	Interval time.Duration // default 1 s
	Logger   *slog.Logger
}

// Line is one JSON line of output.
type Line struct {
	Time       time.Time    `json:"time"`
	Elapsed    float64      `json:"elapsed_s"`
	Connection Connection   `json:"connection"`
	Tracks     []TrackLine  `json:"tracks"`
	Errors     []TrackError `json:"errors,omitempty"`
	Final      bool         `json:"final,omitempty"`
}

// Connection is the session's health in a Line.
type Connection struct {
	State      string  `json:"state"`
	Error      string  `json:"error,omitempty"`
	RTTms      float64 `json:"rtt_ms"`
	Reconnects int     `json:"reconnects"`
	Room       string  `json:"room"`
	Identity   string  `json:"identity"`
}

// TrackError is a track that could not be published.
type TrackError struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}

// TrackLine is one track's stats in a Line; rates are over the last interval.
type TrackLine struct {
	Name              string            `json:"name"`
	Handle            uint16            `json:"handle"`
	SID               string            `json:"sid"`
	State             string            `json:"state"`
	FramesPerSec      float64           `json:"fps"`
	PacketsPerSec     float64           `json:"pps"`
	BytesPerSec       float64           `json:"bytes_per_s"`
	Pushed            uint64            `json:"pushed"`
	Sent              uint64            `json:"sent"`
	Queued            uint64            `json:"queued"`
	Dropped           uint64            `json:"dropped"`
	DroppedBy         map[string]uint64 `json:"dropped_by,omitempty"`
	UnpublishedErrors uint64            `json:"unpublished_errors"`
	LastError         string            `json:"last_error,omitempty"`
	Rx                *RxLine           `json:"rx,omitempty"`
}

// RxLine is what the loopback subscriber saw of a track.
type RxLine struct {
	FramesPerSec float64 `json:"fps"`
	Frames       uint64  `json:"frames"`
	Bytes        uint64  `json:"bytes"`
	Lost         uint64  `json:"lost"`
	Incomplete   uint64  `json:"incomplete"`
	Corrupt      uint64  `json:"corrupt"`
	P50ms        float64 `json:"p50_ms"`
	P99ms        float64 `json:"p99_ms"`
}

// Run publishes tracks, runs their generators and writes a Line to out
// every interval until ctx ends; then it stops the generators, flushes
// (bounded), writes a final Line and returns. Publish failures are
// reported in the lines, not fatal: the other tracks still run.
func Run(ctx context.Context, b Backend, tracks []Track, out io.Writer, o Options) error {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	enc := json.NewEncoder(out)
	start := time.Now()

	var (
		published []*outgoing.LocalTrack
		errs      []TrackError
		wg        sync.WaitGroup
	)
	genCtx, stopGens := context.WithCancel(context.Background())
	defer stopGens()
	for _, t := range tracks {
		lt, err := b.Publish(ctx, t.Name, t.E2EE)
		if err != nil {
			errs = append(errs, TrackError{Name: t.Name, Error: err.Error()})
			continue
		}
		published = append(published, lt)
		if t.Rate <= 0 {
			continue
		}
		g, err := probe.NewGenerator(probe.NewSource(lt.TryPush, nil), t.Rate, max(t.Size, probe.MinSize))
		if err != nil {
			errs = append(errs, TrackError{Name: t.Name, Error: err.Error()})
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); g.Run(genCtx) }()
	}

	prev := map[uint16]outgoing.TrackStats{}
	prevRx := map[string]session.ReceiveStats{}
	prevAt := time.Now()
	emit := func(final bool) error {
		now := time.Now()
		dt := now.Sub(prevAt).Seconds()
		prevAt = now
		st := b.Status()
		// Tracks is [] (not null) when none is published: consumers
		// iterate it without a null check.
		line := Line{Time: now.UTC(), Elapsed: now.Sub(start).Seconds(), Final: final, Errors: errs, Tracks: []TrackLine{},
			Connection: Connection{State: st.State.String(), RTTms: float64(st.RTT.Microseconds()) / 1000,
				Reconnects: st.Reconnects, Room: st.Room, Identity: st.Identity}}
		if st.Err != nil {
			line.Connection.Error = st.Err.Error()
		}
		rx := b.Received()
		for _, lt := range published {
			s := lt.Stats()
			p := prev[s.Handle]
			tl := TrackLine{Name: s.Name, Handle: s.Handle, SID: s.SID, State: s.State.String(),
				FramesPerSec:  rate(s.FramesSent-p.FramesSent, dt),
				PacketsPerSec: rate(s.PacketsSent-p.PacketsSent, dt),
				BytesPerSec:   rate(s.BytesSent-p.BytesSent, dt),
				Pushed:        s.FramesPushed, Sent: s.FramesSent, Queued: s.FramesQueued, Dropped: s.FramesDropped,
				UnpublishedErrors: s.UnpublishedErrors, LastError: s.LastError}
			for r, n := range s.DroppedBy {
				if n > 0 {
					if tl.DroppedBy == nil {
						tl.DroppedBy = map[string]uint64{}
					}
					tl.DroppedBy[outgoing.DropReason(r).String()] = n
				}
			}
			if r, ok := rx[s.Name]; ok {
				pr := prevRx[s.Name]
				tl.Rx = &RxLine{FramesPerSec: rate(r.FramesReceived-pr.FramesReceived, dt), Frames: r.FramesReceived,
					Bytes: r.BytesReceived, Lost: r.FramesLost, Incomplete: r.FramesIncomplete, Corrupt: r.FramesCorrupt,
					P50ms: float64(r.LatencyP50.Microseconds()) / 1000, P99ms: float64(r.LatencyP99.Microseconds()) / 1000}
				prevRx[s.Name] = r
			}
			prev[s.Handle] = s
			line.Tracks = append(line.Tracks, tl)
		}
		return enc.Encode(line)
	}

	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			stopGens()
			wg.Wait()
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			for _, lt := range published {
				_ = lt.Flush(fctx)
			}
			cancel()
			return emit(true)
		case <-tick.C:
			if err := emit(false); err != nil {
				return err
			}
		}
	}
}

func rate(delta uint64, dt float64) float64 {
	if dt <= 0 {
		return 0
	}
	return float64(delta) / dt
}
