package validate

import (
	"testing"
)

// FuzzCheck feeds other participants' frames to both validators: whatever
// the bytes, Check returns (no panic, no hang) and a mismatch has a reason.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"x":1,"y":2}`, `{"z":3}`, `{"x":1,"y":0,"path":[{"t":1},{}]}`, `[`, `"\u0000"`, `1e999`, `{"x":-0.0,"y":1e-400}`} {
		f.Add([]byte(s))
	}
	f.Add([]byte{0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x48, 0x01})
	f.Add([]byte{0x1a, 0x02, 0x28, 0x02, 0x22, 0x00})
	jv, err := New(jsonDecl, []byte(poseSchema))
	if err != nil {
		f.Fatal(err)
	}
	pv, err := New(protoDecl("demo.Pose"), poseSet(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		for _, v := range []*Validator{jv, pv} {
			m, u := v.Check(frame)
			if u != Checked {
				t.Fatalf("%q: %v", frame, u)
			}
			if m != nil && m.Reason == "" {
				t.Fatalf("%q: a mismatch without a reason at %q", frame, m.Path)
			}
		}
	})
}
