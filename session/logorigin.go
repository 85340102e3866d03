package session

import "log/slog"

// LogOriginKey is the attribute that says which part of the process wrote
// a log record, so a reader (the TUI's log pane) can filter by it without
// parsing text. Not "source": slog uses that key for file:line.
const LogOriginKey = "origin"

// LogOrigin names who wrote a log record. Its attribute value is the
// LogOrigin itself (slog.Any), printed as its name.
type LogOrigin string

// The origins. dttui's own records carry no origin attribute.
const (
	// OriginDTTUI is dttui itself: the UI, the session, the track manager.
	OriginDTTUI LogOrigin = "dttui"
	// OriginSDK is LiveKit's Go SDK and the protocol signalling our
	// connections use.
	OriginSDK LogOrigin = "sdk"
	// OriginPion is pion, the WebRTC stack of our connections.
	OriginPion LogOrigin = "pion"
	// OriginSFU is the embedded livekit-server: everything logged through
	// LiveKit's process-wide logger, the server's own pion included.
	OriginSFU LogOrigin = "sfu"
)

// OriginOf reads an origin attribute's value (a LogOrigin, or its name as
// a string once a handler has flattened it).
func OriginOf(v slog.Value) (LogOrigin, bool) {
	switch v = v.Resolve(); v.Kind() {
	case slog.KindAny:
		o, ok := v.Any().(LogOrigin)
		return o, ok
	case slog.KindString:
		return LogOrigin(v.String()), true
	}
	return "", false
}

func withOrigin(l *slog.Logger, o LogOrigin) *slog.Logger {
	return l.With(LogOriginKey, o)
}
