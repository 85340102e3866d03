package packetizer

import "testing"

func TestMaxPayload(t *testing.T) {
	ts := Extensions{HasUserTimestamp: true}
	both := Extensions{HasUserTimestamp: true, HasE2EE: true}
	for _, c := range []struct {
		name    string
		ext     Extensions
		packets int
		want    int
	}{
		// 16 000 − 12-byte header, as the JS test's 15 988 + 8 012 split.
		{"no extensions, one packet", Extensions{}, 1, 15988},
		// The JS and Rust subscribers' limit with the user timestamp
		// (24-byte header): 128 × 15 976.
		{"user timestamp, subscriber limit", ts, SubscriberMaxPackets, 2_044_928},
		{"E2EE and user timestamp, subscriber limit", both, SubscriberMaxPackets, 128 * 15960},
		{"no packets", ts, 0, 0},
	} {
		if got := MaxPayload(c.ext, MTU, c.packets); got != c.want {
			t.Errorf("%s: MaxPayload = %d, want %d", c.name, got, c.want)
		}
	}
	if got := MaxPayload(ts, 24, 10); got != 0 {
		t.Errorf("MTU of one header: MaxPayload = %d, want 0", got)
	}
	// MaxPayload and PacketCount agree at the boundary.
	n := MaxPayload(ts, MTU, SubscriberMaxPackets)
	for _, c := range []struct{ size, packets int }{{n, SubscriberMaxPackets}, {n + 1, SubscriberMaxPackets + 1}} {
		if got, err := PacketCount(c.size, ts, MTU); err != nil || got != c.packets {
			t.Errorf("PacketCount(%d) = %d, %v; want %d", c.size, got, err, c.packets)
		}
	}
}
