package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/silent"

	"go.uber.org/goleak"
)

const sampleJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

// An interrupt ends a connect that waits on a server that never answers
// at once, not when the connect timeout expires (10 s on main).
func TestConnectInterruptedWhileServerSilent(t *testing.T) {
	checkLeaks(t)
	url := silent.Server(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := Connect(ctx, Config{URL: url, APIKey: "key", APISecret: strings.Repeat("s", 32), Logger: testLog})
	took := time.Since(start)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v, want it interrupted", err)
	}
	if took > 800*time.Millisecond {
		t.Fatalf("connect took %v to notice the interrupt (300 ms in)", took)
	}
	t.Logf("interrupted after %v", took.Round(time.Millisecond))
}

// A refused join shows the server's words, but as one safe line: no
// escape sequence reaches a terminal, an HTML page becomes its status,
// and an echoed token is redacted.
func TestJoinRefusalIsSafeToPrint(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct {
		name, ct, body string
		status         int
		want           string
	}{
		{"escapes", "text/plain", "\x1b]2;PWNED\x07\x1b[2J\x1b[H\x1b[31mFAKE: all frames delivered OK\nsecond line",
			http.StatusUnauthorized, `server refused the join (HTTP 401 Unauthorized): \x1b]2;PWNED\x07\x1b[2J\x1b[H\x1b[31mFAKE: all frames delivered OK`},
		{"html", "text/html", "<html><body><h1>502 Bad Gateway</h1><script>x()</script></body></html>",
			http.StatusBadGateway, "server refused the join (HTTP 502 Bad Gateway)"},
		{"token", "text/plain", "invalid token: " + sampleJWT + ", error: bad",
			http.StatusUnauthorized, "server refused the join (HTTP 401 Unauthorized): invalid token: <redacted token>, error: bad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ct)
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			_, err := Connect(bounded(t, 10*time.Second), Config{URL: srv.URL, APIKey: "key", APISecret: strings.Repeat("s", 32), Logger: testLog})
			var re *RefusedError
			if !errors.As(err, &re) || re.Status != tc.status {
				t.Fatalf("err = %v, want a RefusedError with status %d", err, tc.status)
			}
			if !strings.HasSuffix(err.Error(), tc.want) {
				t.Fatalf("err = %q\nwant it to end with %q", err, tc.want)
			}
			if strings.ContainsAny(err.Error(), "\x1b\x07\n\r") {
				t.Fatalf("control characters in %q", err)
			}
		})
	}
}

// checkLeaks fails t if goroutines started during it outlive it (and its
// cleanups, which run before this check).
func checkLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}
