package session

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

const sampleJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

func TestRedactSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"invalid token: " + sampleJWT + ", error: bad": "invalid token: <redacted token>, error: bad",
		"secret hunter2 here":                          "secret <redacted> here",
		"nothing to hide":                              "nothing to hide",
		"":                                             "",
	} {
		if got := RedactSecrets(in, "hunter2", ""); got != want {
			t.Errorf("RedactSecrets(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every place a secret can hide in a log record is scrubbed: the message,
// string and error attributes, groups, and attributes added with With.
func TestRedactingLogger(t *testing.T) {
	var buf bytes.Buffer
	l := Redacting(slog.New(slog.NewTextHandler(&buf, nil)), "hunter2")
	l.With("tok", sampleJWT).WithGroup("g").Info("refused "+sampleJWT,
		"err", errors.New("401: invalid token: "+sampleJWT),
		"body", []byte("hunter2"),
		slog.Group("inner", "secret", "hunter2"),
		"n", 42)
	out := buf.String()
	if strings.Contains(out, "eyJ") || strings.Contains(out, "hunter2") {
		t.Fatalf("secret in log line: %s", out)
	}
	for _, want := range []string{"refused <redacted token>", "n=42", "g.inner.secret=<redacted>"} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %q in %s", want, out)
		}
	}
}

func TestRedactingNilDiscards(t *testing.T) {
	Redacting(nil).Info("nowhere") // must not panic
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"wss://user:pw@example.livekit.cloud/rtc?access_token=" + sampleJWT: "wss://example.livekit.cloud/rtc",
		"ws://127.0.0.1:7880": "ws://127.0.0.1:7880",
		"not a url?token=x":   "not a url",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsLoopbackURL(t *testing.T) {
	for in, want := range map[string]bool{
		"ws://127.0.0.1:7880":         true,
		"ws://localhost:7880":         true,
		"ws://[::1]:7880":             true,
		"wss://example.livekit.cloud": false,
		"ws://10.0.0.2:7880":          false,
		"::not a url":                 false,
	} {
		if got := isLoopbackURL(in); got != want {
			t.Errorf("isLoopbackURL(%q) = %v", in, got)
		}
	}
}

// Library records say who wrote them, as a value a reader can filter on:
// pion's, the SDK's and the process-wide (embedded SFU's) logger each tag
// their records; dttui's own carry no origin.
func TestLibraryLogsCarryOrigin(t *testing.T) {
	var got []slog.Record
	l := slog.New(recordHandler{&got})
	pionLoggerFactory(l).NewLogger("ice").Warn("pion line")
	protocolLogger(l).Infow("sdk line")
	logrLogger(l, OriginSFU).Infow("sfu line")
	l.Info("own line")
	want := []struct {
		msg string
		o   LogOrigin
	}{{"pion line", OriginPion}, {"sdk line", OriginSDK}, {"sfu line", OriginSFU}, {"own line", ""}}
	if len(got) != len(want) {
		t.Fatalf("%d records", len(got))
	}
	for i, w := range want {
		var o LogOrigin
		got[i].Attrs(func(a slog.Attr) bool {
			if a.Key == LogOriginKey {
				o, _ = OriginOf(a.Value)
			}
			return true
		})
		if got[i].Message != w.msg || o != w.o {
			t.Errorf("record %d: %q origin %q, want %q %q", i, got[i].Message, o, w.msg, w.o)
		}
	}
}

// recordHandler keeps records, with the attributes given to With folded in.
type recordHandler struct{ out *[]slog.Record }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	*h.out = append(*h.out, r.Clone())
	return nil
}
func (h recordHandler) WithAttrs(as []slog.Attr) slog.Handler { return withAttrs{h, as} }
func (h recordHandler) WithGroup(string) slog.Handler         { return h }

type withAttrs struct {
	recordHandler
	as []slog.Attr
}

func (h withAttrs) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.as...)
	return h.recordHandler.Handle(ctx, r)
}
func (h withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return withAttrs{h.recordHandler, append(append([]slog.Attr(nil), h.as...), as...)}
}
