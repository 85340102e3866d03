package report

import "time"

// ConnState is the connection's lifecycle stage.
type ConnState int

const (
	Connecting ConnState = iota
	Connected
	// Stalled: connected, but the data channel has held unsent bytes and
	// made no progress for a while (the path went quiet without failing).
	Stalled
	Reconnecting
	Disconnected
)

var connStateNames = [...]string{"connecting", "connected", "stalled", "reconnecting", "disconnected"}

func (s ConnState) String() string {
	if s >= 0 && int(s) < len(connStateNames) {
		return connStateNames[s]
	}
	return "unknown"
}

// Status is the connection's health.
type Status struct {
	State          ConnState
	Err            error         // why we are reconnecting or disconnected
	RTT            time.Duration // signal round-trip time (ping/pong)
	URL            string        // never contains a token or secret
	Room           string
	Identity       string
	ParticipantSID string
	Since          time.Time // when State began
	Reconnects     int       // completed reconnects (resume or full)
}
