package incoming

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dttui/dttui/e2ee"
	"github.com/dttui/dttui/packetizer"
)

// fakeTransport records the subscription updates the manager sends.
type fakeTransport struct {
	mu   sync.Mutex
	sent [][]SubscriptionUpdate
	err  error // returned instead of sending, when set
}

func (f *fakeTransport) SendUpdateSubscription(u []SubscriptionUpdate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, slices.Clone(u))
	return nil
}

func (f *fakeTransport) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// take returns what was sent since the last take, as one list.
func (f *fakeTransport) take() []SubscriptionUpdate {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []SubscriptionUpdate
	for _, u := range f.sent {
		out = append(out, u...)
	}
	f.sent = nil
	return out
}

// fakeClock is Options.Now, moved by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// gotFrame is a frame OnFrame saw, with its payload copied.
type gotFrame struct {
	sid string
	f   Frame
}

// env is a manager with a fake transport and clock, recording frames.
type env struct {
	t      *testing.T
	m      *Manager
	tr     *fakeTransport
	clk    *fakeClock
	mu     sync.Mutex
	frames []gotFrame
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	e := &env{t: t, tr: &fakeTransport{}, clk: &fakeClock{now: time.Unix(1_700_000_000, 0)}}
	opts.Now = e.clk.Now
	if opts.After == nil {
		opts.After = never // the tests run Tick themselves, on their clock
	}
	if opts.OnFrame == nil {
		opts.OnFrame = func(rt *RemoteTrack, f *Frame) {
			g := *f
			g.Payload = bytes.Clone(f.Payload)
			e.mu.Lock()
			e.frames = append(e.frames, gotFrame{rt.Info().SID, g})
			e.mu.Unlock()
		}
	}
	e.m = NewManager(e.tr, opts)
	t.Cleanup(e.m.Close)
	return e
}

// never is a timer that never fires: Options.After for tests that call
// Tick themselves.
func never(time.Duration) <-chan time.Time { return nil }

func (e *env) takeFrames() []gotFrame {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.frames
	e.frames = nil
	return out
}

// stats returns the snapshot of one track.
func (e *env) stats(sid string) TrackStats {
	e.t.Helper()
	rt, ok := e.m.Track(sid)
	if !ok {
		e.t.Fatalf("no track %s", sid)
	}
	return rt.Stats()
}

func (e *env) wantState(sid string, want State) TrackStats {
	e.t.Helper()
	s := e.stats(sid)
	if s.State != want {
		e.t.Fatalf("%s: state %v, want %v (timeline %+v)", sid, s.State, want, s.Timeline)
	}
	return s
}

func (e *env) wantSent(want ...SubscriptionUpdate) {
	e.t.Helper()
	if got := e.tr.take(); !slices.Equal(got, want) {
		e.t.Fatalf("sent %+v, want %+v", got, want)
	}
}

func sub(sid string) SubscriptionUpdate   { return SubscriptionUpdate{SID: sid, Subscribe: true} }
func unsub(sid string) SubscriptionUpdate { return SubscriptionUpdate{SID: sid} }

func info(sid string, pubHandle uint16, name string) Info {
	return Info{SID: sid, PubHandle: pubHandle, Name: name}
}

func part(identity, sid string, version uint32, tracks ...Info) Participant {
	return Participant{Identity: identity, SID: sid, Version: version, Tracks: tracks}
}

// stream is a remote track's packet source as the subscriber sees it:
// the publisher numbers packets and frames, the SFU rewrites the handle
// to the subscriber's.
type stream struct {
	seq, frame uint16
	ts         uint32
	mtu        int
}

func newStream() *stream { return &stream{mtu: packetizer.MTU} }

// packets packetizes one frame for subscriber handle h.
func (s *stream) packets(t testing.TB, h uint16, payload []byte, ext packetizer.Extensions) [][]byte {
	t.Helper()
	hdr := packetizer.Header{Extensions: ext}
	room := s.mtu - hdr.Len()
	n := (len(payload) + room - 1) / room
	var out [][]byte
	for i := range n {
		hdr := packetizer.Header{Handle: h, Sequence: s.seq, FrameNumber: s.frame, Timestamp: s.ts, Extensions: ext}
		switch {
		case n == 1:
			hdr.Marker = packetizer.MarkerSingle
		case i == 0:
			hdr.Marker = packetizer.MarkerStart
		case i == n-1:
			hdr.Marker = packetizer.MarkerFinal
		}
		s.seq++
		p := packetizer.Packet{Header: hdr, Payload: payload[i*room : min((i+1)*room, len(payload))]}
		b, err := p.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	s.frame++
	s.ts += 3000
	return out
}

// receiver is a manager subscribed to one track (DTR_a, subscriber
// handle 1) and the packets of one frame for it, which feed sends again
// and again, renumbered as the next frame each time: the receive path in
// steady state, for the benchmark and the allocation test.
type receiver struct {
	m          *Manager
	pkts       [][]byte
	seq, frame uint16
}

// newReceiver packetizes payload with the user timestamp userTS, sealed
// with key when one is given, as outgoing would.
func newReceiver(t testing.TB, payload []byte, userTS uint64, key *e2ee.Key, onFrame func(*RemoteTrack, *Frame)) *receiver {
	t.Helper()
	in := info("DTR_a", 1, "a")
	opts := Options{OnFrame: onFrame, After: never}
	r := &receiver{}
	if key != nil {
		in.Encryption, opts.Opener = EncryptionGCM, key
		r.pkts = publishThroughOutgoing(t, key, [][]byte{payload}, userTS, 1)
	} else {
		r.pkts = newStream().packets(t, 1, payload, packetizer.Extensions{HasUserTimestamp: true, UserTimestamp: userTS})
	}
	r.m = NewManager(&fakeTransport{}, opts)
	t.Cleanup(r.m.Close)
	r.m.HandleJoin("me", []Participant{part("alice", "PA_1", 1, in)})
	r.m.HandleSubscriberHandles(map[uint16]string{1: "DTR_a"})
	return r
}

// feed hands the frame's packets in once more, as the next frame.
func (r *receiver) feed(arrival time.Time) {
	for _, p := range r.pkts {
		binary.BigEndian.PutUint16(p[4:], r.seq)
		binary.BigEndian.PutUint16(p[6:], r.frame)
		r.seq++
		r.m.HandlePacket(p, arrival)
	}
	r.frame++
}

// setHandle rewrites a packet's track handle, as the SFU does.
func setHandle(b []byte, h uint16) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint16(b[2:], h)
	return b
}

// feed hands packets to the manager, each arriving 1 ms after the last.
func (e *env) feed(pkts ...[]byte) {
	for _, p := range pkts {
		e.m.HandlePacket(p, e.clk.advance(time.Millisecond))
	}
}

// subscribed runs a track through announce, subscribe and handle map.
func (e *env) subscribed(identity, psid string, h uint16, infos ...Info) {
	e.t.Helper()
	e.m.HandleJoin("me", []Participant{part(identity, psid, 1, infos...)})
	var want []SubscriptionUpdate
	handles := map[uint16]string{}
	for i, in := range infos {
		want = append(want, sub(in.SID))
		handles[h+uint16(i)] = in.SID
	}
	e.wantSent(want...)
	e.m.HandleSubscriberHandles(handles)
	for _, in := range infos {
		e.wantState(in.SID, StateSubscribed)
	}
}
