package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"github.com/dttui/dttui/e2ee"
	"github.com/dttui/dttui/internal/testsfu"
	"github.com/dttui/dttui/packetizer"
	"github.com/dttui/dttui/record"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/session"
	"github.com/dttui/dttui/session/probe"
)

// readChannels reads a recording back, by track name: its channel and
// its messages.
func readChannels(t *testing.T, file string) (map[string]record.Track, map[string][][]byte) {
	t.Helper()
	tracks, msgs := map[string]record.Track{}, map[string][][]byte{}
	if err := record.Read(file, func(ch *record.Channel, m *mcap.Message) error {
		tracks[ch.Track.Name] = ch.Track
		msgs[ch.Track.Name] = append(msgs[ch.Track.Name], bytes.Clone(m.Data))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return tracks, msgs
}

// An E2EE track is recorded as received (key index, IV, ciphertext; the
// channel says "sealed") by a recorder without the passphrase, and
// decrypted only with --record-decrypted; --record-own adds our own
// tracks, in the same layout, to the room's. The sealed file replays
// with the passphrase, encrypted again, and a subscriber with it gets the
// frames byte-exact; without the passphrase replay refuses it (exit 2).
func TestRecordE2EEAndOwnEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SFUs")
	}
	const pass = "room passphrase"
	key, err := e2ee.NewKey(pass)
	if err != nil {
		t.Fatal(err)
	}
	testsfu.Run(t, func(t *testing.T, kind testsfu.Kind) {
		srv, room, ctx := e2eRoom(t, kind, "e2ee", 90*time.Second)
		dir := t.TempDir()
		conn := []string{"--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.APISecret}

		sealed, decrypted, own := filepath.Join(dir, "sealed.mcap"), filepath.Join(dir, "decrypted.mcap"), filepath.Join(dir, "own.mcap")
		keyed := filepath.Join(dir, "keyed.mcap")
		runs := []struct {
			name string
			args []string
			out  lockedBuffer
			err  lockedBuffer
			done chan int
		}{
			{name: "sealed", args: []string{"record", "--out", sealed, "--identity", "rec-sealed", "--duration", "20s"}},
			// The passphrase alone decrypts for the monitor, not for the file.
			{name: "keyed", args: []string{"record", "--out", keyed, "--identity", "rec-keyed", "--duration", "20s",
				"--e2ee-passphrase", pass}},
			{name: "decrypted", args: []string{"record", "--out", decrypted, "--identity", "rec-plain", "--duration", "20s",
				"--e2ee-passphrase", pass, "--record-decrypted"}},
			{name: "own", args: []string{"--headless", "--record", own, "--record-own", "--identity", "rec-own", "--duration", "20s",
				"--track", "mine:20:100"}},
		}
		for i := range runs {
			r := &runs[i]
			r.done = make(chan int, 1)
			go func() {
				r.done <- run(ctx, append(append(r.args, "--room", room), conn...), env(nil), stdio{out: &r.out, err: &r.err})
			}()
		}
		for i := range runs {
			waitUntil(t, 60*time.Second, runs[i].name+" joined", func() bool { return strings.Contains(runs[i].out.String(), `"connected"`) })
		}
		pub, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: room,
			Identity: "robot", E2EEPassphrase: pass})
		if err != nil {
			t.Fatal(err)
		}
		typ := schema.Decl{Frame: schema.FrameEncoding{WellKnown: schema.FrameJSON}}
		h, err := pub.PublishWith(ctx, session.PublishOptions{Name: "secret", E2EE: true, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		// Every recorder's monitor holds the track (its JSON line says so).
		held := regexp.MustCompile(`"name":"secret","sid":"[^"]*","publisher":"robot","state":"subscribed"`)
		for i := range runs {
			waitUntil(t, 30*time.Second, runs[i].name+" subscribed", func() bool { return held.MatchString(runs[i].out.String()) })
		}
		var sent [][]byte
		for i := range 60 {
			p := fmt.Appendf(nil, `{"i":%d,"pin":"%04d"}`, i, i*7)
			sent = append(sent, p)
			if err := h.Push(ctx, bytes.Clone(p), uint64(time.Now().UnixMilli())); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = h.Flush(ctx)
		for i := range runs {
			if code := <-runs[i].done; code != exitOK {
				t.Fatalf("%s: exit %d: %s", runs[i].name, code, runs[i].err.String())
			}
		}
		_ = pub.Close()

		// As received, by the recorder without the passphrase and by the
		// one with it but without --record-decrypted: each message opens,
		// with the room's key, to a frame sent. opened holds the sealed
		// file's, which its replay below must deliver.
		var opened [][]byte
		for _, file := range []string{keyed, sealed} {
			chans, msgs := readChannels(t, file)
			c := chans["secret"]
			if !c.E2EE || !c.Sealed || c.Type != typ || c.Identity != "robot" || len(msgs["secret"]) < 50 {
				t.Fatalf("%s: channel %+v, %d messages", filepath.Base(file), c, len(msgs["secret"]))
			}
			opened = opened[:0]
			for i, m := range msgs["secret"] {
				ki, iv, ct, err := record.Unseal(m)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(ct, []byte(`"pin"`)) {
					t.Fatalf("%s: message %d holds the plaintext", filepath.Base(file), i)
				}
				p, err := key.OpenFrame(nil, ct, &packetizer.E2EE{KeyIndex: ki, IV: iv})
				if err != nil {
					t.Fatalf("%s: message %d does not open: %v", filepath.Base(file), i, err)
				}
				opened = append(opened, p)
			}
			if !inOrderSubset(opened, sent) {
				t.Fatalf("%s does not open to the frames sent, in order", filepath.Base(file))
			}
		}
		// Decrypted on request.
		chans, msgs := readChannels(t, decrypted)
		if c := chans["secret"]; !c.E2EE || c.Sealed || len(msgs["secret"]) < 50 || !inOrderSubset(msgs["secret"], sent) {
			t.Fatalf("decrypted recording: channel %+v, %d messages, byte-exact: %v", c, len(msgs["secret"]), inOrderSubset(msgs["secret"], sent))
		}
		// Our own track beside the room's, in the same layout.
		chans, msgs = readChannels(t, own)
		mine := chans["mine"]
		if mine.Identity != "rec-own" || !strings.HasPrefix(mine.SID, "DTR_") || mine.E2EE || len(msgs["mine"]) < 50 || !chans["secret"].Sealed {
			t.Fatalf("own recording: %+v, %d frames; room's %+v", mine, len(msgs["mine"]), chans["secret"])
		}
		for i, m := range msgs["mine"] {
			if _, ok := probe.Decode(m); !ok || len(m) != 100 {
				t.Fatalf("own frame %d is not the probe frame sent (%d bytes)", i, len(m))
			}
		}

		// Replayed: refused without the passphrase, opened and encrypted again with it.
		var refused lockedBuffer
		if code := run(ctx, append([]string{"replay", sealed, "--room", room + "-x"}, conn...), env(nil),
			stdio{out: &bytes.Buffer{}, err: &refused}); code != exitUsage || !strings.Contains(refused.String(), "recorded encrypted") {
			t.Fatalf("replay of a sealed file without the passphrase: exit %d: %s", code, refused.String())
		}
		room2 := room + "-replay"
		var seen frameLog
		sub, err := session.Connect(ctx, session.Config{URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret, Room: room2,
			Identity: "watcher", Monitor: true, OnRemoteFrame: seen.on, E2EEPassphrase: pass})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		var repErr lockedBuffer
		lctx, stop := context.WithCancel(ctx)
		done := make(chan int, 1)
		go func() {
			done <- run(lctx, append([]string{"replay", sealed, "--room", room2, "--identity", "player", "--loop", "--e2ee-passphrase", pass}, conn...),
				env(nil), stdio{out: &bytes.Buffer{}, err: &repErr})
		}()
		waitUntil(t, 60*time.Second, "a whole pass of the sealed track, decrypted, byte-exact", func() bool {
			for _, ts := range sub.Monitor().Snapshot() {
				if rt, ok := sub.Monitor().Track(ts.SID); ok && rt.Info().PublisherIdentity == "player" && rt.Info().Name == "secret" {
					return rt.Info().E2EE() && containsRun(seen.of(ts.SID), opened)
				}
			}
			return false
		})
		stop()
		if code := <-done; code != exitOK {
			t.Fatalf("replay: exit %d: %s", code, repErr.String())
		}
	})
}
