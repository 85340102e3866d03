package session

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const sampleJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

const longSecret = "0123456789abcdef0123456789abcdef" // an API secret's shape

func TestRedactSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"invalid token: " + sampleJWT + ", error: bad":                    "invalid token: <redacted token>, error: bad",
		"cut short: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdW":          "cut short: <redacted token>",
		"secret " + longSecret + " here":                                  "secret <redacted> here",
		"glued x" + longSecret + "y stays":                                "glued x" + longSecret + "y stays",
		"dial ws://user:pw@host:7880/rtc?access_token=abc&sdk=go#token=t": "dial ws://<redacted>@host:7880/rtc?access_token=<redacted>&sdk=go&token=<redacted>",
		"parse \"ws://user:Pw@exa mple:7880/rtc\": invalid":               "parse \"ws://<redacted>@exa mple:7880/rtc\": invalid",
		"https://s3/x?X-Amz-Signature=deadbeef&part=1":                    "https://s3/x?X-Amz-Signature=<redacted>&part=1",
		"api_secret=abc token=\"a b\" passphrase=e n=1":                   "api_secret=<redacted> token=\"<redacted>\" passphrase=<redacted> n=1",
		`{"access_token":"abc","room":"r"}`:                               `{"access_token":"<redacted>","room":"r"}`,
		"Authorization: Bearer abc.def; basic checks passed":              "Authorization: Bearer <redacted>; basic checks passed",
		"Authorization: Basic dXNlcjpwYXNzd29yZA==":                       "Authorization: Basic <redacted>",
		"nothing to hide": "nothing to hide",
		"":                "",
	} {
		if got := RedactSecrets(in, longSecret, ""); got != want {
			t.Errorf("RedactSecrets(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// One-character and dictionary-word secrets: where they occur by chance
// the line stays as it was (redacting there would garble the line and
// show the secret by where the marker lands); where the structure says a
// secret is, it goes.
func TestRedactionWithShortSecretsKeepsLogsReadable(t *testing.T) {
	secrets := []string{"e", "s", "a", "track", "1", "livekit"}
	records := func(l *slog.Logger) {
		l.Info("connecting", "logger", "livekit")
		l.Info("redacting logs, establishing signal connection", "url", "ws://127.0.0.1:7880", "attempt", 1)
		l.With("participant", "publisher").Info("created data track", "name", "track", "handle", 1)
		l.Warn("resume attempt failed", "err", errors.New("signal connection lost: e s a"))
	}
	var plain, red bytes.Buffer
	records(slog.New(slog.NewTextHandler(&plain, &slog.HandlerOptions{ReplaceAttr: noTime})))
	records(Redacting(slog.New(slog.NewTextHandler(&red, &slog.HandlerOptions{ReplaceAttr: noTime})), secrets...))
	if red.String() != plain.String() {
		t.Fatalf("redaction changed lines that hold no secret:\n got %s\nwant %s", red.String(), plain.String())
	}

	red.Reset()
	l := Redacting(slog.New(slog.NewTextHandler(&red, &slog.HandlerOptions{ReplaceAttr: noTime})), secrets...)
	l.Info("joining", "url", "ws://u:e@host/rtc?access_token=s&room=track", "passphrase", "track",
		"api_secret", "s", slog.Group("cfg", "token", "a"), "e2ee_passphrase", errors.New("e"))
	want := `level=INFO msg=joining url="ws://<redacted>@host/rtc?access_token=<redacted>&room=track" passphrase=<redacted> api_secret=<redacted> cfg.token=<redacted> e2ee_passphrase=<redacted>` + "\n"
	if red.String() != want {
		t.Fatalf("structural redaction:\n got %s\nwant %s", red.String(), want)
	}
}

func noTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

// Every place a secret can hide in a log record is scrubbed: the message,
// string and error attributes, groups, and attributes added with With.
func TestRedactingLogger(t *testing.T) {
	var buf bytes.Buffer
	l := Redacting(slog.New(slog.NewTextHandler(&buf, nil)), longSecret)
	l.With("tok", sampleJWT).WithGroup("g").Info("refused "+sampleJWT,
		"err", errors.New("401: invalid token: "+sampleJWT),
		"body", []byte(longSecret),
		slog.Group("inner", "secret", "hunter2", "other", longSecret),
		"n", 42)
	out := buf.String()
	if strings.Contains(out, "eyJ") || strings.Contains(out, longSecret) || strings.Contains(out, "hunter2") {
		t.Fatalf("secret in log line: %s", out)
	}
	for _, want := range []string{"refused <redacted token>", "n=42", "g.inner.secret=<redacted>", "g.inner.other=<redacted>", "g.body=<redacted>"} {
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
		"ws://127.0.0.1:7880":          "ws://127.0.0.1:7880",
		"not a url?token=x":            "not a url",
		"ws://user:Pw@exa mple:7880":   "ws://exa mple:7880",
		"ws://us er:P w@host/p@th?x=1": "ws://host/p@th",
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
	redisLogger{withOrigin(l, OriginSFU)}.Printf(context.Background(), "redis %s", "line")
	l.Info("own line")
	want := []struct {
		msg string
		o   LogOrigin
	}{{"pion line", OriginPion}, {"sdk line", OriginSDK}, {"sfu line", OriginSFU}, {"redis line", OriginSFU}, {"own line", ""}}
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

// Whatever the text, a whole-token secret of MinFreeTextSecret bytes or
// more never survives, and redacting never panics.
func FuzzRedactSecrets(f *testing.F) {
	for _, s := range []string{"", "invalid token: " + sampleJWT, "ws://u:p@h/x?access_token=a&b=c", "token=\"a b\"", "Bearer x", longSecret} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := RedactSecrets(s+" "+longSecret+" "+s, longSecret)
		if strings.Contains(out, " "+longSecret+" ") {
			t.Fatalf("secret survived: %q", out)
		}
	})
}

// go-redis's package logger (stderr by default) goes where the other
// libraries' do: a duration it must round is one of the lines it writes,
// before it even dials.
func TestRedisLogsAreRouted(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	tapLibraryLogs(t, slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rc.Close()
	_ = rc.Set(context.Background(), "k", "v", time.Microsecond).Err()
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "truncating to 1ms") || !strings.Contains(logs.String(), "origin=sfu") {
		t.Fatalf("library logs: %q", logs.String())
	}
}

// pion's SCTP logger writes three Debug lines per packet received: with
// --verbose --log-file that was a line per packet. It logs from Info up
// unless PION_LOG_DEBUG names it; other scopes keep their Debug lines.
func TestPionSCTPDebugIsOffUnlessAsked(t *testing.T) {
	var buf bytes.Buffer
	f := pionLoggerFactory(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: levelTrace})))
	f.NewLogger("sctp").Debugf("packet %d", 1)
	f.NewLogger("sctp").Trace("chunk")
	f.NewLogger("sctp").Warn("sctp warning")
	f.NewLogger("ice").Debug("ice debug")
	out := buf.String()
	if strings.Contains(out, "packet 1") || strings.Contains(out, "chunk") || !strings.Contains(out, "sctp warning") || !strings.Contains(out, "ice debug") {
		t.Fatalf("log:\n%s", out)
	}
	t.Setenv("PION_LOG_DEBUG", "ice,SCTP")
	buf.Reset()
	f.NewLogger("sctp").Debugf("packet %d", 2)
	f.NewLogger("sctp").Trace("chunk")
	if out := buf.String(); !strings.Contains(out, "packet 2") || strings.Contains(out, "chunk") {
		t.Fatalf("with PION_LOG_DEBUG=sctp:\n%s", out)
	}
}
