// Package clocksync estimates the offset between our clock and another
// dttui's, NTP-style: we send a request stamped with our time t1, the
// other side stamps its arrival t2 and its answer t3 on its clock, we
// stamp the answer's arrival t4. With delays d→ and d← on the way there
// and back,
//
//	offset = ((t2−t1) + (t3−t4)) / 2   (their clock minus ours)
//	rtt    = (t4−t1) − (t3−t2)
//
// and the true offset lies within rtt/2 of the estimate whatever the
// asymmetry of the two delays (the error is (d→−d←)/2). So the exchange
// with the lowest round trip gives the tightest bound; the Syncer keeps
// the recent ones and uses the best, widening its bound by a drift
// allowance for its age. The messages travel as LiveKit user packets
// (Topic) on the reliable data channel; the package itself has no
// network, no goroutine and takes every time from its caller.
package clocksync

import (
	"encoding/binary"
	"errors"
	"time"
)

// Topic is the user-packet topic of the clock exchange.
const Topic = "dttui/clock"

// Kind is a message's role in the exchange.
type Kind uint8

const (
	Request  Kind = 1 // t1 only
	Response Kind = 2 // t1 echoed, t2 and t3 added
)

// Message is one request or response. Times are UNIX nanoseconds on the
// clock of whoever stamped them.
type Message struct {
	Kind       Kind
	ID         uint32
	T1, T2, T3 int64
}

var magic = [2]byte{'D', 'c'}

const (
	version      = 1
	headerLen    = 4 + 4 // magic, version, kind; id
	requestLen   = headerLen + 8
	responseLen  = headerLen + 3*8
	maxMessageTS = int64(1) << 62 // far past any clock; larger is garbage
)

// ErrMalformed means a payload on Topic is not a message of this version.
var ErrMalformed = errors.New("clocksync: malformed message")

// Append encodes m after dst.
func (m Message) Append(dst []byte) []byte {
	dst = append(dst, magic[0], magic[1], version, byte(m.Kind))
	dst = binary.BigEndian.AppendUint32(dst, m.ID)
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.T1))
	if m.Kind == Response {
		dst = binary.BigEndian.AppendUint64(dst, uint64(m.T2))
		dst = binary.BigEndian.AppendUint64(dst, uint64(m.T3))
	}
	return dst
}

// Parse decodes b, which comes from the network: anything but an exact
// message of this version with times in range is ErrMalformed.
func Parse(b []byte) (Message, error) {
	if len(b) < headerLen || b[0] != magic[0] || b[1] != magic[1] || b[2] != version {
		return Message{}, ErrMalformed
	}
	m := Message{Kind: Kind(b[3]), ID: binary.BigEndian.Uint32(b[4:8])}
	switch {
	case m.Kind == Request && len(b) == requestLen:
	case m.Kind == Response && len(b) == responseLen:
		m.T2 = int64(binary.BigEndian.Uint64(b[16:24]))
		m.T3 = int64(binary.BigEndian.Uint64(b[24:32]))
	default:
		return Message{}, ErrMalformed
	}
	m.T1 = int64(binary.BigEndian.Uint64(b[8:16]))
	for _, t := range [...]int64{m.T1, m.T2, m.T3} {
		if t < 0 || t > maxMessageTS {
			return Message{}, ErrMalformed
		}
	}
	return m, nil
}

// Answer is the response to req received at t2 and sent at t3 (our clock).
func Answer(req Message, t2, t3 time.Time) Message {
	return Message{Kind: Response, ID: req.ID, T1: req.T1, T2: t2.UnixNano(), T3: t3.UnixNano()}
}
