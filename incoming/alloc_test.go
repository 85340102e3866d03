package incoming

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/dttui/dttui/e2ee"
)

// The receive path allocates nothing per packet in steady state, for
// frames of one packet, just over one (16 001 B) and 64 KiB, plain and
// E2EE, and each frame reaches OnFrame byte for byte. A single-packet
// plain frame is not copied at all: OnFrame sees the packet's own bytes.
func TestHandlePacketAllocatesNothing(t *testing.T) {
	key, err := e2ee.NewKey("alloc")
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1 << 10, 16001, 64 << 10} {
		for _, k := range []*e2ee.Key{nil, key} {
			t.Run(fmt.Sprintf("%d/e2ee=%v", size, k != nil), func(t *testing.T) {
				payload := make([]byte, size)
				for i := range payload {
					payload[i] = byte(i * 7)
				}
				var r *receiver
				frames, same, aliased := 0, true, false
				r = newReceiver(t, payload, 1, k, func(_ *RemoteTrack, f *Frame) {
					frames++
					same = same && bytes.Equal(f.Payload, payload)
					last := r.pkts[len(r.pkts)-1]
					aliased = &f.Payload[len(f.Payload)-1] == &last[len(last)-1]
				})
				now := time.Unix(1_700_000_000, 0)
				run := func() {
					r.feed(now)
					now = now.Add(time.Millisecond)
				}
				run() // warm up: buffers grow once
				if n := testing.AllocsPerRun(20, run); n != 0 {
					t.Errorf("%v allocations per frame of %d packets", n, len(r.pkts))
				}
				if frames != 22 || !same {
					t.Fatalf("%d frames, all byte for byte: %v", frames, same)
				}
				if single := len(r.pkts) == 1 && k == nil; aliased != single {
					t.Fatalf("OnFrame's payload is the packet's bytes: %v", aliased)
				}
			})
		}
	}
}
