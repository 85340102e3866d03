package main

import (
	"strings"
	"testing"
	"time"
)

// --max-held-bytes sets the room monitor's memory budget with the sizes'
// units; a size that is not one, or 0, is an error naming the flag.
func TestParseMaxHeldBytes(t *testing.T) {
	o, err := parseFlags([]string{"--max-held-bytes", "64MiB"}, env(nil))
	if err != nil || o.MaxHeldBytes != 64<<20 {
		t.Fatalf("64MiB: %d, %v", o.MaxHeldBytes, err)
	}
	if o, err := parseFlags(nil, env(nil)); err != nil || o.MaxHeldBytes != 0 {
		t.Fatalf("default: %d, %v (0: the monitor's own default)", o.MaxHeldBytes, err)
	}
	for _, bad := range []string{"0", "lots", "4GiB"} {
		if _, err := parseFlags([]string{"--max-held-bytes", bad}, env(nil)); err == nil || !strings.Contains(err.Error(), "--max-held-bytes") {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}

// --max-remote-tracks bounds the tracks the room monitor follows; a count
// out of range is an error naming the flag.
func TestParseMaxRemoteTracks(t *testing.T) {
	o, err := parseFlags([]string{"--max-remote-tracks", "64"}, env(nil))
	if err != nil || o.MaxRemoteTracks != 64 {
		t.Fatalf("64: %d, %v", o.MaxRemoteTracks, err)
	}
	if o, err := parseFlags(nil, env(nil)); err != nil || o.MaxRemoteTracks != 0 {
		t.Fatalf("default: %d, %v (0: the monitor's own default)", o.MaxRemoteTracks, err)
	}
	for _, bad := range []string{"0", "1", "many", "70000", "-3"} {
		if _, err := parseFlags([]string{"--max-remote-tracks", bad}, env(nil)); err == nil || !strings.Contains(err.Error(), "max-remote-tracks") {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}

// --reconnect-timeout bounds the rejoin after a lost connection; a
// duration that is not positive is an error naming the flag.
func TestParseReconnectTimeout(t *testing.T) {
	o, err := parseFlags([]string{"--reconnect-timeout", "3s"}, env(nil))
	if err != nil || o.ReconnectTimeout != 3*time.Second {
		t.Fatalf("3s: %v, %v", o.ReconnectTimeout, err)
	}
	if o, err := parseFlags(nil, env(nil)); err != nil || o.ReconnectTimeout != 0 {
		t.Fatalf("default: %v, %v (0: the session's own default)", o.ReconnectTimeout, err)
	}
	for _, bad := range []string{"0", "-1s", "soon"} {
		if _, err := parseFlags([]string{"--reconnect-timeout", bad}, env(nil)); err == nil || !strings.Contains(err.Error(), "reconnect-timeout") {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}
