package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dttui/dttui/internal/testsfu"
)

// The SFU goes away for good while the real binary is connected: the
// session gives up rejoining after --reconnect-timeout, the footer offers
// r, and q without a retry exits 1, as headless does, saying why (issue
// 21.4; main exited 0).
func TestTUIQuitAfterGaveUpExits1InTmux(t *testing.T) {
	bin := buildBinary(t)
	srv := testsfu.StartT(t, testsfu.Embedded, testsfu.Options{})
	dir := t.TempDir()
	logFile := filepath.Join(dir, "dttui.log")
	// A private HOME: no lk project config of the machine's user.
	p := startPane(t, fmt.Sprintf("env HOME=%s XDG_CACHE_HOME=%s TERM=xterm-256color %s --url %s --api-key %s --api-secret %s --room gaveup --reconnect-timeout 2s --log-file %s; echo DTTUI-EXITED $?; sleep 60",
		dir, filepath.Join(dir, "cache"), bin, srv.URL, srv.APIKey, srv.APISecret, logFile), logFile)
	p.waitFor("connected", 60*time.Second, func(s string) bool { return strings.Contains(s, "● connected") })
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	// Resuming is tried for up to 10 s (when the SFU's leave does not
	// arrive), then rejoining for 2 s: the deadline covers both. The
	// header's mark, not the charts' legend ("D disconnected").
	s := p.waitFor("the session giving up", 60*time.Second, func(s string) bool {
		return strings.Contains(s, "✕ disconnected") && strings.Contains(s, "could not reconnect within 2s") && strings.Contains(s, "r retry connect")
	})
	if strings.Contains(s, "DTTUI-EXITED") {
		t.Fatalf("dttui exited before q:\n%s", s)
	}
	p.keys("q")
	s = p.waitFor("exit", 20*time.Second, func(s string) bool { return strings.Contains(s, "DTTUI-EXITED") })
	// Exit 1 for the disconnected end, not for an unclean quit (which
	// exits 1 too): stderr says which.
	if !strings.Contains(s, "DTTUI-EXITED 1") || !strings.Contains(s, "dttui: the session ended disconnected: could not reconnect within 2s") {
		t.Fatalf("after q once the session gave up:\n%s", s)
	}
}
