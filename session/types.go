package session

import (
	"log/slog"
	"time"

	"github.com/dttui/dttui/impair"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session/rtc"
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
	// Credentials says where URL and the key came from, for the status
	// to say (never the secret).
	Credentials report.Credentials

	// E2EEPassphrase enables end-to-end encryption for tracks published with E2EE.
	E2EEPassphrase string
	// Loopback joins a second participant that subscribes to our own data
	// tracks, so the UI can show that frames really arrive.
	Loopback bool
	// Monitor subscribes, on our own connection, to every data track the
	// other participants publish, and measures each (the room monitor).
	Monitor bool
	// OnRemoteFrame, when set, sees every frame the room monitor
	// completes (decrypted, for E2EE tracks), by track SID. It runs on the
	// packet path with the monitor locked: it must be quick and must not
	// call the session; f.Payload is only valid during the call.
	OnRemoteFrame func(sid string, f incoming.Frame)
	// OnLocalFrame, when set, sees every frame sent on each of our own
	// tracks, as pushed (before encryption), with its user timestamp (0:
	// none), once its last packet is handed to the data channel. It runs
	// on the track's sender goroutine: it must be quick and must not call
	// the session; payload is only valid during the call.
	OnLocalFrame func(sid string, payload []byte, userTimestamp uint64)
	// OnLoopbackFrame, when set, sees every frame of our own tracks the
	// loopback subscriber completes (decrypted, for E2EE tracks), by
	// track SID: what a subscriber really got. The same rules as
	// OnRemoteFrame hold.
	OnLoopbackFrame func(sid string, f incoming.Frame)
	// OnRemoteSealed, when set, sees every frame of an E2EE track the
	// room monitor completes as received, before decryption and whether
	// or not the passphrase opens it (incoming.Options.OnSealed); the
	// same rules as OnRemoteFrame hold.
	OnRemoteSealed func(sid string, f incoming.Frame)
	// Clock is the time every timestamp this session puts on the wire
	// (probe frames, user timestamps, the clock exchange) and every
	// arrival it measures are read from; default time.Now. Two sessions
	// with different clocks stand for two machines.
	Clock func() time.Time
	// Logger receives every log line (ours, lksdk's, pion's). Nil discards.
	// Nothing is ever written to stderr: it would corrupt the TUI.
	Logger *slog.Logger

	PublishTimeout time.Duration // default outgoing.DefaultPublishTimeout
	// MaxQueuedBytes caps the payload bytes queued for sending over all
	// tracks (default outgoing.DefaultMaxQueuedBytes).
	MaxQueuedBytes int64
	// MaxFrameAge drops frames that waited longer to be sent (default
	// outgoing.DefaultMaxFrameAge; < 0: never).
	MaxFrameAge time.Duration
	// LossGrace is how long after a frame was sent the loopback subscriber
	// has to receive it before it counts as lost (default
	// probe.DefaultLossGrace).
	LossGrace time.Duration
	// MaxHeldBytes bounds the memory the room monitor lets other
	// participants' partial frames hold (default
	// incoming.DefaultMaxHeldBytes; a participant a quarter of it).
	MaxHeldBytes int
	// MaxRemoteTracks bounds the published tracks the room monitor
	// follows (0: incoming.DefaultMaxTracks; a participant half of it).
	MaxRemoteTracks int
	// Impair, when set, shapes every datagram our own connection sends
	// (delay, loss, a rate cap…: package impair), and with dir=down or
	// both what it and the loopback subscriber receive; its spec may
	// change while the session runs. The signalling websocket is
	// untouched.
	Impair *impair.Shaper
	// RelayOnly connects through the TURN servers the SFU lists in its
	// join response and nothing else (ICE transport policy "relay"), as a
	// client behind a firewall that blocks UDP to the SFU does; the
	// loopback subscriber too. Joining fails when the SFU lists none.
	RelayOnly      bool
	ConnectTimeout time.Duration // per attempt; default 10 s
	// ReconnectTimeout bounds a full rejoin after the connection is lost;
	// past it the session ends disconnected. Default
	// DefaultReconnectTimeout.
	ReconnectTimeout time.Duration

	// Net changes the path under our own connections, as pion's
	// SettingEngine does under a PeerConnection. The zero value is the
	// real network, which is what dttui runs; tests cut or stall the path
	// with it while the SFU stays real, and alter what reaches the SFU.
	Net NetOptions
}

// NetOptions shape the path under a session's own connections
// (Config.Net), as pion's SettingEngine does under a PeerConnection.
type NetOptions = rtc.NetOptions

// State is the connection's lifecycle stage; Status its health. Both
// belong to the report every consumer renders.
type (
	State  = report.ConnState
	Status = report.Status
)

const (
	StateConnecting   = report.Connecting
	StateConnected    = report.Connected
	StateStalled      = report.Stalled
	StateReconnecting = report.Reconnecting
	StateDisconnected = report.Disconnected
)
