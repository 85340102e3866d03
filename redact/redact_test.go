package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
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
		if got := Secrets(in, longSecret, ""); got != want {
			t.Errorf("Secrets(%q)\n got %q\nwant %q", in, got, want)
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
	records(Logger(slog.New(slog.NewTextHandler(&red, &slog.HandlerOptions{ReplaceAttr: noTime})), secrets...))
	if red.String() != plain.String() {
		t.Fatalf("redaction changed lines that hold no secret:\n got %s\nwant %s", red.String(), plain.String())
	}

	red.Reset()
	l := Logger(slog.New(slog.NewTextHandler(&red, &slog.HandlerOptions{ReplaceAttr: noTime})), secrets...)
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
	l := Logger(slog.New(slog.NewTextHandler(&buf, nil)), longSecret)
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
	Logger(nil).Info("nowhere") // must not panic
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"wss://user:pw@example.livekit.cloud/rtc?access_token=" + sampleJWT: "wss://example.livekit.cloud/rtc",
		"ws://127.0.0.1:7880":          "ws://127.0.0.1:7880",
		"not a url?token=x":            "not a url",
		"ws://user:Pw@exa mple:7880":   "ws://exa mple:7880",
		"ws://us er:P w@host/p@th?x=1": "ws://host/p@th",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

// Whatever the text, a whole-token secret of MinFreeTextSecret bytes or
// more never survives, and redacting never panics.
func FuzzRedactSecrets(f *testing.F) {
	for _, s := range []string{"", "invalid token: " + sampleJWT, "ws://u:p@h/x?access_token=a&b=c", "token=\"a b\"", "Bearer x", longSecret} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Secrets(s+" "+longSecret+" "+s, longSecret)
		if strings.Contains(out, " "+longSecret+" ") {
			t.Fatalf("secret survived: %q", out)
		}
	})
}
