package outgoing

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/dttui/dttui/e2ee"
)

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errBoom }

func testKey(t *testing.T) *e2ee.Key {
	t.Helper()
	k, err := e2ee.NewKeyFromBytes(bytes.Repeat([]byte{9}, 16))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Frames that cannot be sealed are dropped, counted, and their error is
// an *EncryptError for errors.As, both as LastErr and in the history.
func TestEncryptErrorIsTyped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   func(t *testing.T) *e2ee.Key
		cause error
	}{
		// The SFU says E2EE though this manager has no key.
		{"no key", func(*testing.T) *e2ee.Key { return nil }, errNeedsE2EE},
		{"no randomness", func(t *testing.T) *e2ee.Key { k := testKey(t); k.Rand = failingReader{}; return k }, errBoom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{E2EE: tc.key(t)})
			req, res := h.publishAsync(context.Background(), PublishOptions{Name: "x"})
			h.m.HandlePublishResponse(Info{Handle: req.Handle, SID: "DTR_1", Name: "x", E2EE: true})
			tr := recv(t, res).tr
			if err := tr.TryPush([]byte("secret"), 0); err != nil {
				t.Fatal(err)
			}
			flush(t, tr)
			s := tr.Stats()
			if s.DroppedBy[DropEncryptError] != 1 || s.FramesSent != 0 || len(h.tr.parsed(t)) != 0 {
				t.Fatalf("stats %+v", s)
			}
			checkAddsUp(t, s)
			var ee *e2ee.EncryptError
			if err := tr.LastErr(); !errors.As(err, &ee) || !errors.Is(err, tc.cause) {
				t.Fatalf("LastErr %#v", err)
			}
			if ev := s.Errors[len(s.Errors)-1]; !errors.As(ev.Cause, &ee) || ev.Err != ee.Error() || s.LastError != ev.Err {
				t.Fatalf("history %+v", s.Errors)
			}
		})
	}
}
