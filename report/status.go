package report

import (
	"time"

	"github.com/dttui/dttui/impair"
)

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
	State ConnState
	Err   error         // why we are reconnecting or disconnected
	RTT   time.Duration // signal round-trip time (ping/pong)
	URL   string        // never contains a token or secret
	// Credentials says where the URL and the API key came from (never
	// the secret itself).
	Credentials    Credentials
	Room           string
	Identity       string
	ParticipantSID string
	Since          time.Time // when State began
	Reconnects     int       // completed reconnects (resume or full)
	// Impair is the impairment our own connection's datagrams go through
	// (zero: none), so an impaired run is never read as the network's.
	Impair Impairment
	// Sender is the publisher's data channel: what its flow control
	// allows and what pion's SCTP reports (zero before it opens).
	Sender Sender
	// LocalDrops counts the datagrams this process's WebRTC stack received
	// and dropped before DTLS and SCTP read them (pion holds at most 1 MB
	// between a socket and DTLS): what they carried was lost in dttui,
	// not on the path. Every connection of the session, loopback included.
	LocalDrops uint64
}

// Origin is where a connection setting came from.
type Origin int

const (
	// OriginUnknown: not said (a caller that does not track it).
	OriginUnknown Origin = iota
	// OriginFlag: the command line (--url, --api-key, --token).
	OriginFlag
	// OriginEnv: the environment (LIVEKIT_URL, LIVEKIT_API_KEY, …).
	OriginEnv
	// OriginProject: a project of the LiveKit CLI's config, named by
	// --project or its default_project.
	OriginProject
	// OriginEmbedded: the embedded SFU, which makes its own.
	OriginEmbedded
)

var originNames = [...]string{"", "flags", "env", "project", "embedded"}

func (o Origin) String() string {
	if o >= 0 && int(o) < len(originNames) {
		return originNames[o]
	}
	return "unknown"
}

// Credentials says where the server URL and the API key (or token) came
// from. Project names the LiveKit CLI project when either is
// OriginProject; DefaultProject says it was the config's default_project
// rather than --project.
type Credentials struct {
	URL, Key       Origin
	Project        string
	DefaultProject bool
}

// IsZero says nothing is known about where the settings came from.
func (c Credentials) IsZero() bool { return c == Credentials{} }

// String is the short form the header shows: "project dev", "env",
// "url env, key project dev"; "" when unknown.
func (c Credentials) String() string {
	name := func(o Origin) string {
		if o != OriginProject {
			return o.String()
		}
		if c.DefaultProject {
			return "default project " + c.Project
		}
		return "project " + c.Project
	}
	switch {
	case c.IsZero():
		return ""
	case c.URL == c.Key || c.Key == OriginUnknown:
		return name(c.URL)
	case c.URL == OriginUnknown:
		return name(c.Key)
	}
	return "url " + name(c.URL) + ", key " + name(c.Key)
}

// Impairment is the shaping in force on our connection and what it did.
type Impairment struct {
	Spec   impair.Spec
	Since  time.Time // when Spec was applied
	Counts impair.Counts
}

// Sender is the state of the publisher connection's `_data_track` sender:
// why frames wait or are lost on the way up, when a user floods a track.
type Sender struct {
	// Window is how many bytes the channel may hold unacknowledged: twice
	// the path's bandwidth-delay product, at least the floor that fits the
	// SFU's socket buffer.
	Window int
	// InFlight is what the channel holds now: sent and not yet
	// acknowledged by the SFU, or not yet sent.
	InFlight int
	// DeliveryRate is the highest rate (bytes/s) the SFU acknowledged in
	// the last second; PaceRate what writes are paced at (0: not paced).
	DeliveryRate, PaceRate float64
	// PathRTT is the least ICE round trip of the last 10 s; SCTPRTT is
	// SCTP's smoothed round trip, which adds the time data waits in the
	// SFU's buffers.
	PathRTT, SCTPRTT time.Duration
	// CongestionWindow and ReceiverWindow are SCTP's (bytes).
	CongestionWindow, ReceiverWindow uint32
	// WindowWaits and PaceWaits count the writes that waited for the
	// window to drain and for pacing.
	WindowWaits, PaceWaits uint64
	// Limit is the congestion limit writes are held to (bytes/s; 0: none):
	// set when the loopback subscriber lost packets behind a queue on the
	// path. Backoffs counts the times it was lowered.
	Limit    float64
	Backoffs uint64
}
