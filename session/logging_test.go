package session

import (
	"bytes"
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
