package impair

import (
	"errors"
	"math"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
	"go.uber.org/goleak"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Spec
	}{
		{"", Spec{}},
		{"off", Spec{}},
		{"loss=5%", Spec{Loss: 0.05}},
		{"delay=50ms", Spec{Delay: 50 * time.Millisecond}},
		{"delay=40ms,jitter=5ms,loss=1%,rate=5Mbit", Spec{Delay: 40 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.01, Rate: 5e6, Queue: DefaultQueue(5e6)}},
		{"rate=500kbit,queue=64KiB", Spec{Rate: 500e3, Queue: 64 << 10}},
		{"burst=1%/25%,reorder=2%,dup=0.5%,blackout=3s", Spec{BurstEnter: 0.01, BurstLeave: 0.25, Reorder: 0.02, Duplicate: 0.005, Blackout: 3 * time.Second}},
		{"loss=5%,dir=down", Spec{Loss: 0.05, Dir: Down}},
		{"dir=both,delay=20ms", Spec{Delay: 20 * time.Millisecond, Dir: Both}},
		{"loss=5%,dir=up", Spec{Loss: 0.05}},
	} {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if back, err := Parse(got.String()); err != nil || back != got {
			t.Errorf("Parse(%q) = %+v, %v; want %+v (String round trip)", got.String(), back, err, got)
		}
	}
}

func TestParseRefusesWithAPosition(t *testing.T) {
	for _, c := range []struct {
		in  string
		pos int
	}{
		{"loss", 0},
		{"loss=5", 0},
		{"delay=50ms,loss=120%", 11},
		{"delay=50ms,jitter=x", 11},
		{"delay=1ms,delay=2ms", 10},
		{"rate=5Mbps", 0},
		{"loss=1%,warp=9", 8},
		{"burst=1%", 0},
		{"burst=1%/0%", 0},
		{"queue=64KiB", 0},
		{"delay=-5ms", 0},
		{"loss=NaN%", 0},
		{"loss=1%,dir=sideways", 8},
		{"dir=down", 0},
	} {
		_, err := Parse(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Pos != c.pos {
			t.Errorf("Parse(%q) = %v; want a ParseError at byte %d", c.in, err, c.pos)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "loss=5%", "delay=40ms,jitter=5ms,loss=1%,rate=5Mbit", "burst=1%/25%,reorder=2%", "rate=1kbit", "queue=1B", "loss=1%,dir=both"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := Parse(s)
		if err != nil {
			return
		}
		// String is what the header and the JSON show: it must parse,
		// to the same spec up to the float's last digit, and be a fixed
		// point from then on.
		back, err := Parse(sp.String())
		if err != nil || back.String() != sp.String() || math.Abs(back.Loss-sp.Loss) > 1e-9 || back.Delay != sp.Delay || back.Rate != sp.Rate || back.Dir != sp.Dir {
			t.Fatalf("Parse(%q) = %+v; its String %q parses to %+v, %v", s, sp, sp.String(), back, err)
		}
	})
}

var t0 = time.Unix(1_000_000, 0)

func shaper(t *testing.T, spec string) *Shaper {
	t.Helper()
	sp, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	s := NewShaper(42)
	s.Set(t0, sp)
	return s
}

func TestShaperPassesEverythingWhenOff(t *testing.T) {
	s := NewShaper(1)
	for i := range 1000 {
		now := t0.Add(time.Duration(i) * time.Microsecond)
		at, n, fate := s.Plan(now, 1200)
		if n != 1 || !at[0].Equal(now) || fate != Delivered {
			t.Fatalf("datagram %d: %v ×%d, %v", i, at[0], n, fate)
		}
	}
}

// share runs n datagrams 1 ms apart through s and returns the share that
// met fate.
func share(s *Shaper, n int, fate Fate) float64 {
	hit := 0
	for i := range n {
		if _, _, f := s.Plan(t0.Add(time.Duration(i)*time.Millisecond), 1000); f == fate {
			hit++
		}
	}
	return float64(hit) / float64(n)
}

func TestShaperRandomLoss(t *testing.T) {
	s := shaper(t, "loss=5%")
	if got := share(s, 100_000, DropLoss); math.Abs(got-0.05) > 0.003 {
		t.Fatalf("lost %.4f; want 0.05 ± 0.003", got)
	}
	if c := s.Counts(); c.Datagrams != 100_000 || c.DroppedTotal() != c.Dropped[DropLoss] {
		t.Fatalf("counts %+v", c)
	}
}

func TestShaperBurstLoss(t *testing.T) {
	s := shaper(t, "burst=1%/25%")
	bursts, lost, run := 0, 0, 0
	for i := range 200_000 {
		_, _, f := s.Plan(t0.Add(time.Duration(i)*time.Millisecond), 1000)
		if f == DropBurst {
			lost++
			run++
			continue
		}
		if run > 0 {
			bursts++
		}
		run = 0
	}
	mean := 0.01 / (0.01 + 0.25)
	if got := float64(lost) / 200_000; math.Abs(got-mean) > 0.005 {
		t.Fatalf("lost %.4f; want the model's mean %.4f", got, mean)
	}
	if l := float64(lost) / float64(bursts); l < 3.5 || l > 4.5 {
		t.Fatalf("mean burst %.2f datagrams; want 1/LEAVE = 4", l)
	}
}

func TestShaperRateCapAndQueue(t *testing.T) {
	// 8 Mbit/s is 1 000 bytes a millisecond; the queue holds 10 datagrams.
	s := shaper(t, "rate=8Mbit,queue=10000B")
	var delivered []time.Time
	dropped := 0
	for range 30 {
		at, n, f := s.Plan(t0, 1000)
		switch {
		case f == DropQueue:
			dropped++
		case n == 1:
			delivered = append(delivered, at[0])
		default:
			t.Fatalf("fate %v ×%d", f, n)
		}
	}
	if len(delivered) != 10 || dropped != 20 {
		t.Fatalf("%d delivered, %d dropped at the tail; want 10 and 20", len(delivered), dropped)
	}
	for i, at := range delivered {
		if want := t0.Add(time.Duration(i+1) * time.Millisecond); !at.Equal(want) {
			t.Fatalf("datagram %d leaves at %v; want %v (1 ms each, in turn)", i, at.Sub(t0), want.Sub(t0))
		}
	}
	// Once the link has sent it all, the queue takes datagrams again.
	if _, n, _ := s.Plan(t0.Add(10*time.Millisecond), 1000); n != 1 {
		t.Fatal("the drained link refused a datagram")
	}
}

func TestShaperDelayJitterKeepOrder(t *testing.T) {
	s := shaper(t, "delay=50ms,jitter=10ms")
	var last time.Time
	for i := range 10_000 {
		now := t0.Add(time.Duration(i) * 100 * time.Microsecond)
		at, n, _ := s.Plan(now, 1000)
		d := at[0].Sub(now)
		// Order keeping can hold one back to the one before, which left
		// no later than 60 ms after its own push: never past 60 ms.
		if n != 1 || d < 40*time.Millisecond || d > 60*time.Millisecond {
			t.Fatalf("datagram %d delayed %v; want 50 ms ± 10 ms", i, d)
		}
		if at[0].Before(last) {
			t.Fatalf("datagram %d overtook the one before", i)
		}
		last = at[0]
	}
}

func TestShaperReorderAndDuplicate(t *testing.T) {
	s := shaper(t, "delay=10ms,reorder=10%,dup=5%")
	for i := range 20_000 {
		s.Plan(t0.Add(time.Duration(i)*time.Millisecond/10), 1000)
	}
	c := s.Counts()
	if r := float64(c.Reordered) / 20_000; math.Abs(r-0.10) > 0.01 {
		t.Fatalf("reordered %.3f; want 0.10", r)
	}
	if d := float64(c.Duplicated) / 20_000; math.Abs(d-0.05) > 0.01 {
		t.Fatalf("duplicated %.3f; want 0.05", d)
	}
}

func TestShaperBlackout(t *testing.T) {
	s := shaper(t, "blackout=3s")
	for _, c := range []struct {
		after time.Duration
		fate  Fate
	}{{0, DropBlackout}, {2999 * time.Millisecond, DropBlackout}, {3 * time.Second, Delivered}, {10 * time.Second, Delivered}} {
		if _, _, f := s.Plan(t0.Add(c.after), 1000); f != c.fate {
			t.Fatalf("at +%v: %v; want %v", c.after, f, c.fate)
		}
	}
}

// Datagrams sent through Net on loopback arrive after the delay, in
// order, and closing the socket stops the outbox's goroutine.
func TestNetDelaysDatagrams(t *testing.T) {
	// Registered first, so it runs after the sockets' cleanups.
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := NewShaper(7)
	s.Set(time.Now(), Spec{Delay: 30 * time.Millisecond})
	tx := listen(t, Net{Net: stdNet(t), Shaper: s})
	rx := listen(t, stdNet(t))
	sent := sendFive(t, tx, rx)
	readInOrder(t, rx, 5, sent, 30*time.Millisecond)
}

func stdNet(t *testing.T) transport.Net {
	t.Helper()
	std, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	return std
}

// listen is a UDP socket of n on 127.0.0.1, closed when the test ends.
func listen(t *testing.T, n transport.Net) transport.UDPConn {
	t.Helper()
	c, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sendFive sends datagrams 0 to 4 from tx to rx and says when.
func sendFive(t *testing.T, tx, rx transport.UDPConn) time.Time {
	t.Helper()
	sent := time.Now()
	for i := range 5 {
		if _, err := tx.WriteTo([]byte{byte(i)}, rx.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	return sent
}

// readInOrder reads datagrams 0 to n-1 from rx, each no earlier than
// delay after sent.
func readInOrder(t *testing.T, rx transport.UDPConn, n int, sent time.Time, delay time.Duration) {
	t.Helper()
	buf := make([]byte, 16)
	for i := range n {
		_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, _, err := rx.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(sent); d < delay {
			t.Fatalf("datagram %d read after %v; want at least the %v delay", i, d, delay)
		}
		if k != 1 || buf[0] != byte(i) {
			t.Fatalf("datagram %d: got %v", i, buf[:k])
		}
	}
}

// Each way has its own link: a rate cap up does not queue what comes down,
// a spec for one way leaves the other alone, and each way's counts are
// its own.
func TestShaperWays(t *testing.T) {
	s := shaper(t, "rate=8kbit,queue=2000B,dir=both") // 1 ms a byte
	if !s.Shapes(Up) || !s.Shapes(Down) {
		t.Fatal("dir=both shapes neither way")
	}
	up, _, _ := s.PlanWay(Up, t0, 1000)
	down, _, _ := s.PlanWay(Down, t0, 1000)
	if want := t0.Add(time.Second); !up[0].Equal(want) || !down[0].Equal(want) {
		t.Fatalf("1000 B each way at 8 kbit/s leave at %v and %v; want both at %v", up[0].Sub(t0), down[0].Sub(t0), want.Sub(t0))
	}
	s = shaper(t, "loss=100%,dir=down")
	if s.Shapes(Up) || !s.Shapes(Down) {
		t.Fatal("dir=down shapes the wrong way")
	}
	for range 10 {
		if _, n, _ := s.Plan(t0, 100); n != 1 {
			t.Fatal("dir=down dropped a datagram we send")
		}
		if _, n, f := s.PlanWay(Down, t0, 100); n != 0 || f != DropLoss {
			t.Fatalf("dir=down, loss=100%%: %d copies, %v", n, f)
		}
	}
	if u, d := s.CountsOf(Up), s.CountsOf(Down); u.Datagrams != 10 || u.DroppedTotal() != 0 || d.Datagrams != 10 || d.Dropped[DropLoss] != 10 {
		t.Fatalf("counts up %+v, down %+v", u, d)
	}
	if c := s.Counts(); c.Datagrams != 20 || c.DroppedTotal() != 10 {
		t.Fatalf("counts together %+v", c)
	}
	s = shaper(t, "loss=100%")
	if !s.Shapes(Up) || s.Shapes(Down) {
		t.Fatal("the default way is not up alone")
	}
}

// What a socket receives is delayed and dropped by dir=down, on a real
// socket: each datagram no earlier than the delay, in order, and the
// caller's read deadline still ends a read while a datagram is held.
func TestNetShapesWhatItReceives(t *testing.T) {
	// Registered first, so it runs after the sockets' cleanups.
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := NewShaper(7)
	s.Set(time.Now(), Spec{Delay: 200 * time.Millisecond, Dir: Down})
	rx := listen(t, Net{Net: stdNet(t), Shaper: s, Ways: Down})
	tx := listen(t, stdNet(t))
	sent := sendFive(t, tx, rx)
	buf := make([]byte, 16)
	// A deadline before the delay ends: the read times out, nothing lost.
	_ = rx.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := rx.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a read past its deadline returned %v", err)
	}
	readInOrder(t, rx, 5, sent, 200*time.Millisecond)
	// Off: straight through, at once.
	s.Set(time.Now(), Spec{})
	start := time.Now()
	if _, err := tx.WriteTo([]byte{9}, rx.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	if k, _, err := rx.ReadFrom(buf); err != nil || k != 1 || buf[0] != 9 || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("unshaped read: %v %v after %v", buf[:k], err, time.Since(start))
	}
	// Everything dropped on the way in: the read waits for its deadline.
	s.Set(time.Now(), Spec{Loss: 1, Dir: Down})
	for i := range 3 {
		if _, err := tx.WriteTo([]byte{byte(i)}, rx.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	_ = rx.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if k, _, err := rx.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %v, %v through loss=100%%", buf[:k], err)
	}
	if d := s.CountsOf(Down).Dropped[DropLoss]; d != 3 {
		t.Fatalf("%d dropped on the way in; want 3", d)
	}
}

// A deadline set while a read waits for a held datagram does not push the
// datagram back: the read still returns when the datagram is due.
func TestNetDeadlineSetWhileADatagramIsHeld(t *testing.T) {
	// Registered first, so it runs after the sockets' cleanups.
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := NewShaper(7)
	s.Set(time.Now(), Spec{Delay: 100 * time.Millisecond, Dir: Down})
	rx := listen(t, Net{Net: stdNet(t), Shaper: s, Ways: Down})
	tx := listen(t, stdNet(t))
	sent := time.Now()
	if _, err := tx.WriteTo([]byte{7}, rx.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	type result struct {
		n   int
		err error
		at  time.Duration
	}
	done := make(chan result, 1)
	go func() {
		buf := make([]byte, 16)
		n, _, err := rx.ReadFrom(buf)
		done <- result{n, err, time.Since(sent)}
	}()
	time.Sleep(30 * time.Millisecond) // the read holds the datagram and waits for it
	if err := rx.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.n != 1 || r.at < 100*time.Millisecond || r.at > 2*time.Second {
		t.Fatalf("read %d B, %v, %v after the send; want the datagram at its 100 ms delay", r.n, r.err, r.at)
	}
}
