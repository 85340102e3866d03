package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// dataTrackLabel is the data channel LiveKit carries data-track packets on.
const dataTrackLabel = "_data_track"

// Watermarks for the `_data_track` channel. Writers wait while more than
// highWatermark bytes are queued, as the JS client does (256 KiB), and
// resume when pion reports the buffer drained to lowWatermark. JS resumes
// at 8 KiB; with 16 KB packets that lets the buffer run almost dry before
// refilling, so we resume at 64 KiB. 256 KiB bounds the latency a full
// buffer adds, and anything beyond it backs up into the manager's bounded
// per-track queue, where frames are dropped and counted.
const (
	highWatermark = 256 << 10
	lowWatermark  = 64 << 10
)

// dataChannel is the publisher's `_data_track` channel with flow control
// shared by every track's sender goroutine.
type dataChannel struct {
	dc *webrtc.DataChannel
	// written counts the bytes pion took (Send returned nil): with the
	// buffered amount, what has left (stall.go).
	written atomic.Uint64

	mu     sync.Mutex
	low    chan struct{} // closed and replaced on each buffered-amount-low event
	closed chan struct{} // closed when the channel closes
}

// newDataChannel creates `_data_track` on pc: unordered, no
// retransmissions, as the JS and Rust clients and the SFU expect. open is
// closed when the channel opens.
func newDataChannel(pc *webrtc.PeerConnection, open chan struct{}) (*dataChannel, error) {
	ordered, retransmits := false, uint16(0)
	dc, err := pc.CreateDataChannel(dataTrackLabel, &webrtc.DataChannelInit{Ordered: &ordered, MaxRetransmits: &retransmits})
	if err != nil {
		return nil, err
	}
	d := &dataChannel{dc: dc, low: make(chan struct{}), closed: make(chan struct{})}
	dc.SetBufferedAmountLowThreshold(lowWatermark)
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

func (d *dataChannel) lowEvent() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.low
}

var errDataChannelClosed = errors.New("data channel closed")

// drainPoll is how often drained looks at the buffered amount: pion
// signals only the crossing of the low watermark, not the last byte.
const drainPoll = 2 * time.Millisecond

// drained waits until pion holds none of our bytes: it counts a message
// until the peer's SCTP stack has acknowledged (or skipped) every chunk of
// it, so after this the SFU has everything we wrote. It returns early when
// the channel or peer closes (nothing more will be acknowledged) or ctx ends.
func (d *dataChannel) drained(ctx context.Context, peerClosed <-chan struct{}) error {
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
// the high watermark until it drains, the channel or peer closes
// (peerClosed), or ctx ends. A nil error means pion took the packet.
func (d *dataChannel) write(ctx context.Context, peerClosed <-chan struct{}, peerErr func() error, pkt []byte) error {
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
		if d.dc.BufferedAmount() <= highWatermark {
			break
		}
		select {
		case <-low:
		case <-d.closed:
			return errDataChannelClosed
		case <-peerClosed:
			return fmt.Errorf("connection closed: %w", peerErr())
		case <-ctx.Done():
			return ctx.Err()
		}
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

// writePacket sends one packet on the publisher's `_data_track`.
func (p *peer) writePacket(ctx context.Context, pkt []byte) error {
	p.mu.Lock()
	dc := p.dc
	p.mu.Unlock()
	if dc == nil {
		return errDataChannelClosed
	}
	err := dc.write(ctx, p.closed, p.err, pkt)
	if errors.Is(err, errDataChannelClosed) {
		// The PeerConnection may live on, but without `_data_track` it is
		// useless to us and a resume would not bring the channel back:
		// end the peer so the session rejoins with a fresh one (and the
		// manager republishes). Only a write does this, because a server
		// with data tracks disabled closes the channel at once, and with
		// no track accepted there is nothing to rejoin for.
		p.close(errSFUClosedDataChannel)
	}
	return err
}

// errSFUClosedDataChannel ends a peer whose `_data_track` closed under a
// published track.
var errSFUClosedDataChannel = errors.New("the SFU closed the " + dataTrackLabel + " data channel")
