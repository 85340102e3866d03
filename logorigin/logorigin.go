// Package logorigin says which part of the process wrote a log record:
// dttui itself, LiveKit's SDK, pion, or the embedded SFU. The session tags
// the libraries' loggers; readers (the TUI's log pane, stderr) filter on
// the tag as a value, without parsing text and without importing the
// libraries.
package logorigin

import "log/slog"

// Key is the attribute that says which part of the process wrote a log
// record, so a reader (the TUI's log pane) can filter by it without
// parsing text. Not "source": slog uses that key for file:line.
const Key = "origin"

// Origin names who wrote a log record. Its attribute value is the Origin
// itself (slog.Any), printed as its name.
type Origin string

// The origins. dttui's own records carry no origin attribute.
const (
	// DTTUI is dttui itself: the UI, the session, the track manager.
	DTTUI Origin = "dttui"
	// SDK is LiveKit's Go SDK and the protocol signalling our
	// connections use.
	SDK Origin = "sdk"
	// Pion is pion, the WebRTC stack of our connections.
	Pion Origin = "pion"
	// SFU is the embedded livekit-server: everything logged through
	// LiveKit's process-wide logger, the server's own pion included.
	SFU Origin = "sfu"
)

// Of reads an origin attribute's value (an Origin, or its name as a
// string once a handler has flattened it).
func Of(v slog.Value) (Origin, bool) {
	switch v = v.Resolve(); v.Kind() {
	case slog.KindAny:
		o, ok := v.Any().(Origin)
		return o, ok
	case slog.KindString:
		return Origin(v.String()), true
	}
	return "", false
}

// With returns l with its records tagged as written by o.
func With(l *slog.Logger, o Origin) *slog.Logger {
	return l.With(Key, o)
}
