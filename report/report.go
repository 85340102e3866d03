// Package report is dttui's one account of a session: the connection and,
// per local track, what was pushed, sent, dropped (by reason), received by
// the loopback subscriber, lost and how late, with rates over a defined
// window and a per-second history. The session produces it; the TUI, the
// headless JSON lines and the metrics render it, so every figure has one
// producer and every consumer shows the same number.
//
// Identity is the track's handle (never reused in a session) and, for
// what a subscriber receives, the publication's probe stream: a name is a
// label, never a key.
package report

import (
	"time"

	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
)

// Windows over which figures are computed; one home for each.
const (
	// RateWindow: rates are what happened in the latest complete second
	// (by the wall clock, as sampled).
	RateWindow = time.Second
	// LatencyWindow: percentiles describe the frames of the last ten
	// seconds, so an idle track shows no stale latency.
	LatencyWindow = 10 * time.Second
	// SampleInterval: the session samples every track's counters this often.
	SampleInterval = 100 * time.Millisecond
	// DefaultHistorySeconds: the per-second history kept for sparklines and
	// charts (15 minutes).
	DefaultHistorySeconds = 900
)

// Snapshot is the session at one instant.
type Snapshot struct {
	At         time.Time
	Connection Status
	// Local lists every track this session published or is publishing, in
	// handle order.
	Local []Local
	// Remote lists every track of another participant the room monitor
	// learned of, in the order announced (nil without the monitor).
	Remote []Remote
	// Loopback says a loopback subscriber measures delivery (Local[i].Rx).
	Loopback bool
	// ConnHistory has one entry per complete second, oldest first.
	ConnHistory []ConnSecond
	// ConnEvents are the connection's state changes, oldest first (the
	// last MaxConnEvents).
	ConnEvents []ConnEvent
	// Stalls counts the times the connection became Stalled (counted
	// apart from ConnEvents, which keep only the latest).
	Stalls int
	// Memory is what the room's other participants make the room monitor
	// hold (their tracks' partial frames and reassembly buffers), against
	// its budget, and the partial frames evicted to keep within it, by
	// reason (zero without the monitor).
	Memory incoming.Held
}

// Local is one local track: one handle, one row.
type Local struct {
	Handle uint16
	Name   string
	E2EE   bool
	Type   schema.Decl // frame encoding and schema; zero: untyped
	State  outgoing.PublishState
	Since  time.Time // when State began
	// SIDs are every SID the SFU gave the track, oldest first: one per
	// publication (a republish after a full reconnect adds one).
	SIDs []string
	// Stream is the probe stream its frames carry (0: none registered).
	Stream uint32

	Out      outgoing.Counters
	Timeline []outgoing.StateChange
	Errors   []outgoing.ErrorEvent // oldest first; the last one is the latest

	// Rx is what the loopback subscriber received of this track's frames;
	// nil without one.
	Rx *Receive
	// SFU is what the SFU itself logged about the track (its SIDs), toward
	// the loopback subscriber; nil when its logs are not ours to read (a
	// remote server) or it logged nothing about the track.
	SFU *SFUObserved

	Figures
}

// Figures are what a track's records say over time, local or remote.
type Figures struct {
	Rate Rates // over the latest complete second (RateWindow)
	// Average is over the whole run: n frames over the n-1 intervals from
	// the first frame to the last (pushed, for probe frames; sent, else).
	Average Rates
	Latency Latency // over the last LatencyWindow
	// RunLatency is over every frame of the run (Window 0); a display
	// reset does not rebase it. RunLatencyHist is its histogram (ns), for
	// exporters that keep their own buckets; a pointer, so a Local copies
	// cheaply. Both are left out (zero, nil) by a Scope with NoRun.
	RunLatency     Latency
	RunLatencyHist *histogram.Histogram
	// History has one entry per complete second, oldest first.
	History []Second
}

// SID is the track's current SID ("" while pending).
func (l *Local) SID() string {
	if len(l.SIDs) == 0 {
		return ""
	}
	return l.SIDs[len(l.SIDs)-1]
}

// LastError is the latest error event, if any.
func (l *Local) LastError() (outgoing.ErrorEvent, bool) {
	if len(l.Errors) == 0 {
		return outgoing.ErrorEvent{}, false
	}
	return l.Errors[len(l.Errors)-1], true
}

// Remote is one data track of another participant, as the room monitor
// receives it: one SID, one row. Its figures come from the packets
// themselves (incoming's counters); a republish after the publisher
// reconnected is another SID, linked by Stats.Replaces and ReplacedBy.
type Remote struct {
	Stats incoming.TrackStats
	Figures
	// SchemaDef is the definition of the schema the track declares, as its
	// publisher stored it in the room (nil until fetched, or without one);
	// SchemaErr why it could not be fetched.
	SchemaDef []byte
	SchemaErr error
	// SFU is what the SFU itself logged about the track, toward us; nil
	// as for Local.SFU.
	SFU *SFUObserved
	// Probe is what the frames say of themselves when they are dttui's
	// probe (another dttui publishes the track); nil otherwise.
	Probe *RemoteProbe
	// Schema is the account of its frames checked against the schema the
	// track declares.
	Schema SchemaCheck
}

// SchemaCheck is a room track's frames checked against its declared
// schema (package validate), from counters kept apart:
//
//	Checked + NotChecked = the frames that completed (and, on an E2EE
//	                       track, opened)
//
// and Mismatches are among Checked.
type SchemaCheck struct {
	Checked, Mismatches, NotChecked uint64
	// First is the first frame that did not match: where, and why (the
	// publisher's data and schema: sanitize before printing). Nil when
	// none did.
	First *validate.Mismatch
	// Unchecked says why the track's frames are not checked now (Checked
	// when they are): its encoding, no schema (or not fetched yet), a
	// schema that does not compile or costs too much.
	Unchecked validate.Unchecked
}

// RemoteProbe is a remote track's probe frames followed by their sequence
// numbers: exact frame loss between the first and the latest frame seen,
// from counters kept apart,
//
//	Received + Lost + InGrace + Cut = Sent
//
// where Sent is the frames known to have been sent (up to the latest that
// arrived; what came after cannot be known) and Cut those still in their
// grace when their span ended (a new stream or subscription). Latency is
// arrival minus the probe's send time, to the nanosecond, moved onto our
// clock when the publisher's is synced (Stats.Clock); against its clock
// otherwise (frames that arrived while it was being asked have none).
type RemoteProbe struct {
	Sent, Received, Lost, InGrace, Cut uint64
	Duplicates, Late, Unfollowed       uint64
	// Corrupt counts probe frames whose filler did not arrive intact.
	Corrupt uint64
	// Spans counts the streams and subscriptions followed.
	Spans uint64
	// Jumps counts frames whose number skipped more frames than the
	// follower allows for those that arrived (a mangled or hostile
	// header): each started a new span, its skipped frames not counted.
	Jumps uint64
	// PublisherDropped counts frames the publisher numbered and then did
	// not send (stale, or lost with its connection), as its frames say:
	// they are among Lost and InGrace, so the network lost
	// Lost - PublisherDropped (0 from a publisher that does not say).
	PublisherDropped uint64
	Latency          histogram.Histogram
}

// Percentiles are the probe frames' latency figures (count, p50, p95,
// p99, max) over the whole run, or since a Rebase: the detail pane and
// the JSON show these.
func (p *RemoteProbe) Percentiles() Latency { return latencyOf(&p.Latency, 0) }

// SFUObserved is the SFU's own account of a track, from its logs (the
// embedded SFU only): a second observer, kept apart from ours. Counts are
// of packets, over the track's life.
type SFUObserved struct {
	// Shed counts packets the SFU dropped toward the subscriber in
	// question (the loopback, for a local track; us, for a remote one)
	// because more than its target latency was queued toward it;
	// ShedAll, toward every subscriber. NotReady counts packets it could
	// not send because the subscriber's channel was not open yet.
	Shed, ShedAll, NotReady uint64
	// Up is what it received from the publisher, logged when the track
	// closes (an unpublish, the publisher leaving); nil before.
	Up *SFUUp
}

// SFUUp is the SFU's account of the packets it received of a track.
type SFUUp struct {
	Packets, PacketsLost, PacketsOutOfOrder, Frames uint64
}

// SID is the track's SID.
func (r *Remote) SID() string { return r.Stats.SID }

// Receive is what a subscriber saw of one local track's frames. Frames of
// our own probe stream are followed from the moment they were sent: each
// is received, lost (not arrived within the grace period after it was
// sent) or still in its grace period. Frames without a probe (Data, the
// user's own) carry no sequence number: the ones missing are a count, in
// their grace period until the grace after the latest was sent, lost
// after it. So
//
//	Frames + Data + Lost + InGrace + Unfollowed = frames sent (Local.Out.FramesSent)
//
// from counters kept apart, once no frame is between its arrival and its
// send being recorded.
type Receive struct {
	// Subscribed: the subscriber holds a subscription to the current SID.
	Subscribed bool
	// Unfollowed counts frames sent while the subscriber held no
	// subscription to the SID they went out under (a track's first
	// moments, a republish until it subscribes again): not expected, so
	// neither received nor lost.
	Unfollowed uint64
	Frames     uint64 // first arrivals of our frames
	Bytes      uint64 // their payload bytes (after decryption)
	Lost       uint64
	InGrace    uint64
	Grace      time.Duration // the grace period
	Duplicates uint64        // further copies of a frame already received
	Late       uint64        // arrived after they were counted lost
	// Foreign counts probe frames on the track's SIDs that are not of its
	// stream (an earlier publication, another run): ignored for loss.
	Foreign uint64
	// Data counts frames that carry no probe (the user's own data): they
	// arrive, but only their packets can say what was lost.
	Data uint64
	// Incomplete counts frames the subscriber gave up reassembling (a
	// packet was missing); each is also lost once its grace ends.
	Incomplete uint64
	// Corrupt counts frames whose bytes, or whose user timestamp, differ
	// from what was sent.
	Corrupt uint64
	// UserTimestamps counts frames that carried the user-timestamp
	// extension; latency comes from it.
	UserTimestamps uint64
}

// Rates are per-second figures over Window.
type Rates struct {
	Window        time.Duration
	SentFPS       float64 // frames handed to the data channel
	SentPPS       float64
	SentBPS       float64 // bytes, headers included
	DroppedFPS    float64
	ReceivedFPS   float64 // first arrivals at the loopback subscriber
	ReceivedBPS   float64
	LostFPS       float64
	ReceivedPPS   float64 // packets received (remote tracks)
	PacketsLostPS float64 // packets lost (remote tracks)
	ReceivedValid bool    // a subscriber reported in this window
}

// Latency describes push-to-arrival times over Window: the UNIX-ms user
// timestamp (refined to the nanosecond by the probe's own send time)
// against the subscriber's clock, here the same machine's.
type Latency struct {
	Window        time.Duration
	Frames        uint64
	P50, P95, P99 time.Duration
	Max           time.Duration
}

// Second is what happened in one second.
type Second struct {
	Start                time.Time
	Sent, Packets, Bytes uint64 // Bytes: packet bytes, headers included
	// PayloadBytes are the sent frames' payload bytes, the measure
	// RxBytes counts: the two compare like with like.
	PayloadBytes      uint64
	Dropped           uint64
	DroppedBy         [outgoing.NumDropReasons]uint64
	Received, RxBytes uint64
	Lost              uint64
	// The second's latency quantiles, of its LatencyFrames frames.
	LatencyP50, LatencyP95, LatencyP99 time.Duration
	LatencyFrames                      uint64
}

// Totals are a track's cumulative counters, as the recorder samples them,
// with the times of its first and last frame sent (their push time, for
// probe frames) and received.
type Totals struct {
	Out                 outgoing.Counters
	SentPayload         uint64 // local tracks: payload bytes of the frames sent
	Received            uint64
	RxBytes             uint64
	Lost                uint64
	RxPackets           uint64 // remote tracks: packets received
	PacketsLost         uint64 // remote tracks: packets lost
	FirstSent, LastSent time.Time
	FirstRx, LastRx     time.Time
}
