package session

import (
	"log/slog"
	"time"

	"github.com/dttui/dttui/packetizer"
	"github.com/livekit/protocol/livekit"
)

// Config says where and as whom to connect. Either Token, or APIKey and
// APISecret (a token is then minted for Room and Identity) must be set.
type Config struct {
	URL       string // ws:// or wss:// address of the LiveKit server
	Token     string
	APIKey    string
	APISecret string
	Room      string // generated when empty and no token is given
	Identity  string // generated when empty and no token is given

	// E2EEPassphrase enables end-to-end encryption for tracks published with E2EE.
	E2EEPassphrase string
	// Loopback joins a second participant that subscribes to our own data
	// tracks, so the UI can show that frames really arrive.
	Loopback bool
	// Logger receives every log line (ours, lksdk's, pion's). Nil discards.
	// Nothing is ever written to stderr: it would corrupt the TUI.
	Logger *slog.Logger

	PublishTimeout time.Duration // default 10 s
	ConnectTimeout time.Duration // per attempt; default 10 s
	// ReconnectTimeout bounds a full rejoin after the connection is lost;
	// past it the session ends disconnected. Default 30 s.
	ReconnectTimeout time.Duration

	net netHooks // tests only
	// onFrame sees every frame the loopback reassembles, by track name,
	// before decryption (tests only; it runs under the loopback's lock).
	onFrame func(track string, f packetizer.ReceivedFrame)
	// tamperPublish edits each PublishDataTrackRequest before it is sent
	// (tests only: to show the SFU's own answer to what the manager
	// refuses locally).
	tamperPublish func(*livekit.PublishDataTrackRequest)
}

// State is the connection's lifecycle stage.
type State int

const (
	StateConnecting State = iota
	StateConnected
	StateReconnecting
	StateDisconnected
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateDisconnected:
		return "disconnected"
	}
	return "unknown"
}

// Status is a snapshot of the connection's health for display.
type Status struct {
	State          State
	Err            error         // why we are reconnecting or disconnected
	RTT            time.Duration // signal round-trip time (ping/pong)
	URL            string        // never contains a token or secret
	Room           string
	Identity       string
	ParticipantSID string
	Since          time.Time // when State began
	Reconnects     int       // completed reconnects (resume or full)
}

// ReceiveStats is what the loopback subscriber saw for one track.
type ReceiveStats struct {
	// Subscribed says the track is published and the loopback subscriber
	// has its subscriber handle: frames pushed from now on can arrive.
	Subscribed       bool
	FramesReceived   uint64
	BytesReceived    uint64
	FramesLost       uint64 // probe sequence numbers that never arrived
	FramesIncomplete uint64 // frames missing packets (dropped by the depacketizer)
	// FramesCorrupt counts probe frames whose bytes differ from what was
	// sent, or whose user-timestamp extension disagrees with the send time
	// inside the probe.
	FramesCorrupt uint64
	// UserTimestamps counts frames that arrived with the user-timestamp
	// extension. Latency is measured from it (refined to sub-millisecond
	// by a probe's own send time), or from the probe alone without it.
	UserTimestamps uint64
	LatencyP50     time.Duration
	LatencyP99     time.Duration
}
