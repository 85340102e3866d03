package tui

import (
	"context"

	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
)

// Backend is what the UI drives: a session in the app, a fake in tests.
// StartPublish, Close and a Track's Unpublish may block; the model calls
// them from tea.Cmds only, never from Update. Report is cheap.
type Backend interface {
	StartPublish(o session.PublishOptions) (Pending, error)
	// Report is the session's account of itself; with a base (the
	// display's reset) every figure counts from the base on. The scope
	// cuts each track's per-second history to what the screen draws.
	Report(base *report.Snapshot, sc report.Scope) report.Snapshot
	// Monitor is the room monitor; nil when it is off.
	Monitor() Monitor
	// Forget drops an unpublished local track and everything recorded of
	// it (x on its row).
	Forget(handle uint16) error
	// StoreSchema stores a typed track's schema definition in the room,
	// before the track that declares it is published.
	StoreSchema(ctx context.Context, id schema.ID, definition []byte) error
	Close() error
}

// Monitor acts on the room's tracks by SID. Subscribe and Unsubscribe
// send a request to the SFU (the model calls them from tea.Cmds); Remove
// forgets an unpublished track's row, at once.
type Monitor interface {
	Subscribe(sid string) error
	Unsubscribe(sid string) error
	Remove(sid string) error
}

// Pending is a publish in flight, cancellable by its handle.
type Pending interface {
	Handle() uint16
	Name() string
	Cancel()
	Done() <-chan struct{}
	// Result is the outcome once Done is closed.
	Result() (Track, error)
}

// Track is a published track the UI pushes to.
type Track interface {
	Handle() uint16
	Name() string
	// Probe numbers the track's frames so the loopback subscriber can
	// account for each.
	Probe() *probe.Source
	// Push hands the user's own frame to the track, waiting for room in
	// its queue until ctx ends (a file source's frames: never dropped).
	Push(ctx context.Context, payload []byte, userTimestamp uint64) error
	Unpublish(ctx context.Context) error
}

// SessionBackend adapts a live session.
func SessionBackend(s *session.Session) Backend { return sessionBackend{s} }

type sessionBackend struct{ s *session.Session }

func (b sessionBackend) Report(base *report.Snapshot, sc report.Scope) report.Snapshot {
	return b.s.ReportScope(base, sc)
}
func (b sessionBackend) Close() error               { return b.s.Close() }
func (b sessionBackend) Forget(handle uint16) error { return b.s.Forget(handle) }
func (b sessionBackend) StoreSchema(ctx context.Context, id schema.ID, def []byte) error {
	return b.s.StoreSchema(ctx, id, def)
}

func (b sessionBackend) Monitor() Monitor {
	if b.s.Monitor() == nil {
		return nil
	}
	return sessionMonitor{b.s}
}

// sessionMonitor is the session's room monitor; Remove also forgets the
// track's records.
type sessionMonitor struct{ s *session.Session }

func (m sessionMonitor) Subscribe(sid string) error   { return m.s.Monitor().Subscribe(sid) }
func (m sessionMonitor) Unsubscribe(sid string) error { return m.s.Monitor().Unsubscribe(sid) }
func (m sessionMonitor) Remove(sid string) error      { return m.s.RemoveRemote(sid) }
func (b sessionBackend) StartPublish(o session.PublishOptions) (Pending, error) {
	p, err := b.s.StartPublish(o)
	if err != nil {
		return nil, err
	}
	return sessionPending{p}, nil
}

type sessionPending struct{ *session.Pending }

func (p sessionPending) Result() (Track, error) {
	t, err := p.Pending.Result()
	if err != nil || t == nil {
		return nil, err
	}
	return t, nil
}
