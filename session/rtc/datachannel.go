package rtc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/report"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"
)

// DataTrackLabel is the data channel LiveKit carries data-track packets on.
const DataTrackLabel = "_data_track"

// DataChannel is the publisher's `_data_track` channel with flow control
// shared by every track's sender goroutine.
type DataChannel struct {
	dc *webrtc.DataChannel
	// written counts the bytes pion took (Send returned nil): with the
	// buffered amount, what has left (Progress).
	written atomic.Uint64

	sctp *webrtc.SCTPTransport // the path's round trip (ICE) and SCTP's state

	mu     sync.Mutex
	low    chan struct{} // closed and replaced on each buffered-amount-low event
	closed chan struct{} // closed when the channel closes

	fmu       sync.Mutex // guards flow and threshold; taken after nothing
	flow      *flow
	threshold int // the low threshold last given to pion

	// received is what the loopback subscriber got of our packets so far
	// (false: no loopback follows them): the congestion limit's signal.
	received func() (RxTotals, bool)
}

// NewDataChannel creates `_data_track` on pc: unordered, no
// retransmissions, as the JS and Rust clients and the SFU expect. open is
// closed when the channel opens.
func NewDataChannel(pc *webrtc.PeerConnection, open chan struct{}, received func() (RxTotals, bool)) (*DataChannel, error) {
	ordered, retransmits := false, uint16(0)
	dc, err := pc.CreateDataChannel(DataTrackLabel, &webrtc.DataChannelInit{Ordered: &ordered, MaxRetransmits: &retransmits})
	if err != nil {
		return nil, err
	}
	d := &DataChannel{dc: dc, sctp: pc.SCTP(), low: make(chan struct{}), closed: make(chan struct{}), flow: newFlow(), received: received}
	d.threshold = d.flow.lowThreshold(maxPacket)
	dc.SetBufferedAmountLowThreshold(uint64(d.threshold))
	// A broadcast, not a token: every waiting track's sender wakes up.
	dc.OnBufferedAmountLow(func() {
		d.mu.Lock()
		close(d.low)
		d.low = make(chan struct{})
		d.mu.Unlock()
	})
	dc.OnOpen(func() { closeOnce(open) })
	dc.OnClose(func() {
		d.mu.Lock()
		closeOnce(d.closed)
		d.mu.Unlock()
	})
	return d, nil
}

func (d *DataChannel) lowEvent() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.low
}

var errDataChannelClosed = errors.New("data channel closed")

// drainPoll is how often drained looks at the buffered amount: pion
// signals only the crossing of the low threshold, not the last byte.
const drainPoll = 2 * time.Millisecond

// drained waits until pion holds none of our bytes: it counts a message
// until the peer's SCTP stack has acknowledged (or skipped) every chunk of
// it, so after this the SFU has everything we wrote. It returns early when
// the channel or peer closes (nothing more will be acknowledged) or ctx ends.
func (d *DataChannel) Drained(ctx context.Context, peerClosed <-chan struct{}) error {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for d.dc.BufferedAmount() > 0 {
		select {
		case <-t.C:
		case <-d.closed:
			return errDataChannelClosed
		case <-peerClosed:
			return errDataChannelClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// write sends pkt as one binary message, waiting while the buffer is above
// the flow's window (or pacing) until it allows it, the channel or peer closes
// (peerClosed), or ctx ends. A nil error means pion took the packet.
func (d *DataChannel) Write(ctx context.Context, peerClosed <-chan struct{}, peerErr func() error, pkt []byte) error {
	// A sender that was stopped must not write even when the buffer has
	// room: a packet after the cut of its frame would leave a gap in the
	// sequence numbers, and reach the SFU after the unpublish was decided.
	if err := ctx.Err(); err != nil {
		return err
	}
	for {
		// Take the event channel before reading the amount: a drain that
		// happens in between closes this very channel, so it is not missed.
		low := d.lowEvent()
		wait, ok := d.admit(len(pkt))
		if ok {
			break
		}
		if wait <= 0 {
			wait = flowPoll
		}
		t := time.NewTimer(wait)
		select {
		case <-low:
		case <-t.C:
		case <-d.closed:
			t.Stop()
			return errDataChannelClosed
		case <-peerClosed:
			t.Stop()
			return fmt.Errorf("connection closed: %w", peerErr())
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
	switch st := d.dc.ReadyState(); st {
	case webrtc.DataChannelStateOpen:
	case webrtc.DataChannelStateClosing, webrtc.DataChannelStateClosed:
		return errDataChannelClosed
	default:
		return fmt.Errorf("data channel %s", st)
	}
	if err := d.dc.Send(pkt); err != nil {
		return err
	}
	d.written.Add(uint64(len(pkt)))
	return nil
}

// maxPacket is the largest packet a writer waits to fit below the window:
// pion's low threshold leaves room for one.
const maxPacket = packetizer.MTU

// admit feeds the flow what pion reports and asks it whether n bytes may
// be written now; if not, wait is how long pacing wants (0: until the
// buffer drains).
func (d *DataChannel) admit(n int) (wait time.Duration, ok bool) {
	now := time.Now()
	buffered := d.dc.BufferedAmount()
	d.fmu.Lock()
	due := d.flow.due(now)
	d.fmu.Unlock()
	var rtt, srtt time.Duration
	var rx RxTotals
	hasRx := false
	if due {
		// pion's and the loopback's locks: not under fmu, which every
		// writer takes.
		rtt = d.pathRTT()
		if d.received != nil {
			if rx, hasRx = d.received(); hasRx {
				srtt = time.Duration(d.sctp.Stats().SmoothedRoundTripTime * float64(time.Second))
			}
		}
	}
	d.fmu.Lock()
	defer d.fmu.Unlock()
	if due {
		w := d.written.Load()
		left := w - min(buffered, w)
		d.flow.observe(now, left, int(buffered), rtt)
		if hasRx {
			d.flow.limit(now, limitSample{rx: rx, sent: left, rtt: srtt}, rtt)
		}
		if th := d.flow.lowThreshold(maxPacket); th != d.threshold {
			d.threshold = th
			d.dc.SetBufferedAmountLowThreshold(uint64(th))
		}
	}
	ok, wait = d.flow.admit(now, int(buffered), n)
	return wait, ok
}

// sender reports the flow's state and pion's SCTP figures.
func (d *DataChannel) Sender() report.Sender {
	now := time.Now()
	st := d.sctp.Stats()
	d.fmu.Lock()
	defer d.fmu.Unlock()
	return report.Sender{
		Window: d.flow.window, InFlight: int(d.dc.BufferedAmount()),
		DeliveryRate: d.flow.maxRate(now), PaceRate: d.flow.pace,
		PathRTT: d.flow.minRTT, SCTPRTT: time.Duration(st.SmoothedRoundTripTime * float64(time.Second)),
		CongestionWindow: st.CongestionWindow, ReceiverWindow: st.ReceiverWindow,
		WindowWaits: d.flow.windowWaits, PaceWaits: d.flow.paceWaits,
		Limit: d.flow.lim.rate, Backoffs: d.flow.lim.backoffs,
	}
}

// queueDelay is how long a frame may wait in its track's queue while
// the congestion limit holds writes (0: no limit in force).
func (d *DataChannel) QueueDelay() time.Duration {
	d.fmu.Lock()
	defer d.fmu.Unlock()
	if d.flow.lim.rate <= 0 {
		return 0
	}
	return max(limitQueueDelay, d.flow.minRTT)
}

// pathRTT is ICE's latest round trip on the selected candidate pair (0:
// none measured yet).
func (d *DataChannel) pathRTT() time.Duration {
	dtls := d.sctp.Transport()
	if dtls == nil || dtls.ICETransport() == nil {
		return 0
	}
	st, ok := dtls.ICETransport().GetSelectedCandidatePairStats()
	if !ok {
		return 0
	}
	return time.Duration(st.CurrentRoundTripTime * float64(time.Second))
}

// channel is the publisher's `_data_track` (nil before it exists).
func (p *Conn) Channel() *DataChannel {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dc
}

// sender is the publisher channel's state (zero before it exists).
func (p *Conn) Sender() report.Sender {
	dc := p.Channel()
	if dc == nil {
		return report.Sender{}
	}
	return dc.Sender()
}

// writePacket sends one packet on the publisher's `_data_track`.
func (p *Conn) WritePacket(ctx context.Context, pkt []byte) error {
	dc := p.Channel()
	if dc == nil {
		return errDataChannelClosed
	}
	err := dc.Write(ctx, p.closed, p.Err, pkt)
	if errors.Is(err, errDataChannelClosed) {
		// The PeerConnection may live on, but without `_data_track` it is
		// useless to us and a resume would not bring the channel back:
		// end the peer so the session rejoins with a fresh one (and the
		// manager republishes). Only a write does this, because a server
		// with data tracks disabled closes the channel at once, and with
		// no track accepted there is nothing to rejoin for.
		p.Close(errSFUClosedDataChannel)
	}
	return err
}

// errSFUClosedDataChannel ends a peer whose `_data_track` closed under a
// published track.
var errSFUClosedDataChannel = errors.New("the SFU closed the " + DataTrackLabel + " data channel")

// ReliableLabel is the data channel LiveKit carries user packets on, in
// order and reliably.
const ReliableLabel = "_reliable"

// ErrNoReliable: a user packet with no open `_reliable` to go on.
var ErrNoReliable = errors.New("the " + ReliableLabel + " data channel is not open")

// SendUserPacket sends payload on topic to one participant.
func (p *Conn) SendUserPacket(to, topic string, payload []byte) error {
	p.mu.Lock()
	dc := p.reliable
	p.mu.Unlock()
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return ErrNoReliable
	}
	b, err := proto.Marshal(&livekit.DataPacket{
		Kind: livekit.DataPacket_RELIABLE, DestinationIdentities: []string{to},
		Value: &livekit.DataPacket_User{User: &livekit.UserPacket{Payload: payload, Topic: &topic, DestinationIdentities: []string{to}}},
	})
	if err != nil {
		return err
	}
	return dc.Send(b)
}

// Progress is what has left the channel so far: the bytes pion took
// (read first) and the bytes it still holds. A stall watch compares them
// over time.
func (d *DataChannel) Progress() (written, buffered uint64) {
	written = d.written.Load()
	return written, d.dc.BufferedAmount()
}
