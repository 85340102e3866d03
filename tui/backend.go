package tui

import (
	"context"

	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/session"
)

// Backend is what the UI drives: a session in the app, a fake in tests.
// Publish, Unpublish and Close may block; the model calls them from
// tea.Cmds only, never from Update.
type Backend interface {
	Status() session.Status
	Publish(ctx context.Context, name string, e2ee bool) (Track, error)
	Snapshot() []outgoing.TrackStats
	Received() map[string]session.ReceiveStats
	Close() error
}

// Track is a published track the UI pushes to.
type Track interface {
	Handle() uint16
	Name() string
	TryPush(payload []byte, userTimestamp uint64) error
	Unpublish(ctx context.Context) error
}

// SessionBackend adapts a live session.
func SessionBackend(s *session.Session) Backend { return sessionBackend{s} }

type sessionBackend struct{ s *session.Session }

func (b sessionBackend) Status() session.Status                    { return b.s.Status() }
func (b sessionBackend) Snapshot() []outgoing.TrackStats           { return b.s.Manager().Snapshot() }
func (b sessionBackend) Received() map[string]session.ReceiveStats { return b.s.Received() }
func (b sessionBackend) Close() error                              { return b.s.Close() }
func (b sessionBackend) Publish(ctx context.Context, name string, e2ee bool) (Track, error) {
	t, err := b.s.Publish(ctx, name, e2ee)
	if err != nil {
		return nil, err
	}
	return t, nil
}
