package tui

import (
	"context"

	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
)

// Backend is what the UI drives: a session in the app, a fake in tests.
// StartPublish, Close and a Track's Unpublish may block; the model calls
// them from tea.Cmds only, never from Update. Report is cheap.
type Backend interface {
	StartPublish(o session.PublishOptions) (Pending, error)
	// Report is the session's account of itself; with a base (the
	// display's reset) every figure counts from the base on.
	Report(base *report.Snapshot) report.Snapshot
	Close() error
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
	Unpublish(ctx context.Context) error
}

// SessionBackend adapts a live session.
func SessionBackend(s *session.Session) Backend { return sessionBackend{s} }

type sessionBackend struct{ s *session.Session }

func (b sessionBackend) Report(base *report.Snapshot) report.Snapshot { return b.s.Report(base) }
func (b sessionBackend) Close() error                                 { return b.s.Close() }
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
