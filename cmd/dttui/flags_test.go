package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseFlagsEnvironmentAndTracks(t *testing.T) {
	o, err := parseFlags([]string{"--track", "a", "--track", "b:100:2k", "--track", "c:0", "--track", "d:100000:4m", "--track", "e:1:20"},
		env(map[string]string{"LIVEKIT_URL": "wss://x.example", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.URL != "wss://x.example" || o.APIKey != "k" || o.APISecret != "s" {
		t.Fatalf("env not read: %+v", o)
	}
	want := []trackSpec{{"a", defaultTrackRate, defaultTrackSize}, {"b", 100, 2048}, {"c", 0, defaultTrackSize}, {"d", 100000, 4 << 20}, {"e", 1, 20}}
	if len(o.Tracks) != len(want) {
		t.Fatalf("tracks = %+v", o.Tracks)
	}
	for i, w := range want {
		if o.Tracks[i] != w {
			t.Fatalf("track %d = %+v, want %+v", i, o.Tracks[i], w)
		}
	}
	if o.PublishTimeout != 10*time.Second || !o.Loopback {
		t.Fatalf("defaults: %+v", o)
	}
}

func TestParseFlagsRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--track", "x:fast"}, "rate"},
		{[]string{"--track", ":1:1"}, "name[:rate[:size]]"},
		{[]string{"--track", "x:1:0"}, "size"},
		{[]string{"--track", "x:200000"}, "above the generator's maximum of 100000 frames/s"},
		{[]string{"--track", "x:10:8m"}, "above the largest probe frame"},
		{[]string{"--track", "x:10:10"}, "below the smallest probe frame, 20 bytes"},
		{[]string{"--track", "x:10:99999999999m"}, "not a positive number"},
		{[]string{"--track", "x:+Inf"}, "rate"},
		{[]string{"--url", "ftp://x"}, "ws://"},
		{[]string{"--url", "ws://x"}, "--token"},
		{[]string{"--duration", "1s"}, "--headless"},
		{[]string{"--report", "run.html"}, "--report is for --headless"},
		{[]string{"stray"}, "unexpected argument"},
	} {
		_, err := parseFlags(tc.args, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}

func TestNoURLMeansLocalSFU(t *testing.T) {
	o, err := parseFlags(nil, env(nil), io.Discard)
	if err != nil || o.URL != "" {
		t.Fatalf("no flags: %+v %v", o, err)
	}
}
