package packetizer

// SubscriberMaxPackets is the most packets LiveKit's subscribers reassemble
// into one frame: livekit-client's DataTrackDepacketizer and the Rust SDK's
// remote Depacketizer both stop buffering a frame at MAX_BUFFER_PACKETS =
// 128 and drop it. The SFU forwards longer frames, so only subscribers with
// a larger buffer (dttui's own loopback) see them.
const SubscriberMaxPackets = 128

// HistoryLimit bounds each track's timeline and error history, on the
// send side (outgoing) and the receive side (incoming) alike: a long run
// must not grow memory. It lives here, the one package both import.
const HistoryLimit = 32

// MaxPayload is the largest payload that fits in packets packets of at most
// mtu bytes, each carrying ext; 0 if not even the header fits.
func MaxPayload(ext Extensions, mtu, packets int) int {
	h := Header{Extensions: ext}
	room := mtu - h.Len()
	if room <= 0 || packets <= 0 {
		return 0
	}
	return room * packets
}
