package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// helpGroups orders the flags in --help; every flag is in exactly one
// (TestHelpListsEveryFlagOnce).
var helpGroups = []struct {
	title string
	flags []string
}{
	{"Server (none: the LiveKit CLI's default project, else the embedded SFU on 127.0.0.1)", []string{"url", "token", "api-key", "api-secret", "project", "room", "identity", "local", "local-port", "relay-only", "reconnect-timeout"}},
	{"Tracks", []string{"track", "encoding", "schema", "schema-check", "framing", "e2ee-passphrase", "e2ee-passphrase-file", "publish-timeout",
		"max-queued-bytes", "max-frame-age"}},
	{"Measuring", []string{"loopback", "loss-grace", "monitor", "subscribe-only", "max-held-bytes", "max-remote-tracks", "metrics-addr", "impair"}},
	{"Load mode (many participants, each its own connection; implies --headless)", []string{"participants", "subscribers", "ramp"}},
	{"Output", []string{"headless", "duration", "report", "log-file", "verbose", "mouse", "version"}},
	{"Recording (MCAP)", []string{"record", "record-compression", "record-split", "record-decrypted", "record-own"}},
	{"CI (headless and load runs)", []string{"fail-if", "warmup", "junit", "summary-md"}},
}

// printHelp writes --help: GNU-style flags, examples, the environment,
// the exit statuses, and where the rest is described.
func printHelp(w io.Writer) {
	var o options
	fs := newFlagSet(&o).set
	fmt.Fprint(w, `dttui publishes LiveKit data tracks and shows, live, what happens to every frame.

Usage: dttui [flags]
       dttui summary [--fail-if B]... [--junit F] [--summary-md F] FILE...
                                 the summary of load runs' JSON lines, merged
       dttui doctor [--url U --api-key K --api-secret S] [--junit F] [--summary-md F]
                                 check a deployment for data tracks: a ✓/✗ line per check
                                 (dttui doctor --help)
       dttui record --out FILE [flags]   record the room's data tracks to MCAP (dttui record --help)
       dttui replay FILE [--speed X] [--loop] [--ui] [flags]
                                 publish a recording's channels as data tracks, as timed
                                 (--ui: in the UI, P pauses, < > seek, ( ) speed)
       dttui mcap-info FILE...           what mcap info prints of a recording

Examples:
  dttui                                        the embedded SFU, a demo track, the UI
  dttui --track sensors:100:2KiB --track chat:5:256
  dttui --url wss://my-project.livekit.cloud --room lab --track sensors   (key and secret from LIVEKIT_API_*)
  dttui --project staging --room lab           URL, key and secret from lk's config (lk project add)
  dttui --headless --duration 10s --track bench:1k:1KiB | jq .
  cat telemetry.ndjson | dttui --headless --track telemetry:stdin --encoding telemetry=json
  dttui --track pose:30:256 --encoding pose=json --schema pose=jsonschema:./pose.schema.json
  dttui --subscribe-only --url wss://… --room lab       watch what others publish
  DTTUI_E2EE_PASSPHRASE=... dttui --track secret:10
  dttui --participants 20 --subscribers 2 --track t:50:1KiB --duration 1m > run.jsonl
  dttui --headless --track t:50 --duration 30s --warmup 5s --fail-if 'loss>0.5%' --fail-if 'p99>40ms' --junit dttui.xml
`)
	for _, g := range helpGroups {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, name := range g.flags {
			printFlag(w, fs.Lookup(name))
		}
	}
	fmt.Fprintf(w, `  -h, --help
        this help

Environment (flags win; it wins over --project and the default project):
  LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET, LIVEKIT_TOKEN
        like --url, --api-key, --api-secret, --token, as the LiveKit CLI reads them
  HOME  where the LiveKit CLI's config is read: $HOME/.livekit/cli-config.yaml
  %s, %s
        the embedded SFU's API key and secret (secret: at least 32 characters)
  %s
        like --e2ee-passphrase, out of sight of ps
  NO_COLOR
        no colours in the UI (every state is also a word)
  Secrets given as flags are visible to every user of the machine in ps:
  prefer the environment or --e2ee-passphrase-file.

Exit status:
  0  ran and stopped as asked (q, Ctrl+C, during the connect too,
     --duration, the end of the data every track reads, stdout closed)
  1  could not start or connect (--duration ran out first, say), the
     session ended disconnected and no retry (r) worked, or the UI quit
     before it had unpublished and left the room
  2  the command line is wrong, or the UI has no terminal (use --headless)
  3  --headless: a --track failed to publish or was unpublished by the SFU,
     or its data (stdin, file=) stopped on bad input;
     load mode: a participant could not connect or a track publish
  4  --headless and load mode: the run went well, but a --fail-if budget
     was broken (one stderr line each; the final JSON line lists them all);
     dttui doctor: it joined, but a check failed

Keys: press ? in the UI. The JSON lines of --headless, the states and the
counters are described in docs/headless.md and docs/ui.md (the README
lists every page).
`, envLocalAPIKey, envLocalAPISecret, envPassphrase)
}

func printFlag(w io.Writer, f *flag.Flag) {
	name, usage := flag.UnquoteUsage(f)
	line := "  --" + f.Name
	if name != "" {
		line += " " + name
	}
	fmt.Fprintf(w, "%s\n        %s\n", line, usage)
}

// printVersion writes dttui's version and revision, and the versions of
// the LiveKit and pion modules it was built with.
func printVersion(w io.Writer) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(w, "dttui (no build information)")
		return
	}
	writeVersion(w, bi)
}

func writeVersion(w io.Writer, bi *debug.BuildInfo) {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	vcs := "revision unknown: built without VCS information"
	if rev := settings["vcs.revision"]; rev != "" {
		vcs = "revision " + rev
		if t := settings["vcs.time"]; t != "" {
			vcs += ", " + t
		}
		if settings["vcs.modified"] == "true" {
			vcs += ", modified"
		}
	}
	fmt.Fprintf(w, "dttui %s (%s)\nbuilt with %s %s/%s\n", v, vcs, bi.GoVersion, runtime.GOOS, runtime.GOARCH)
	for _, d := range bi.Deps {
		if versionedDep(d.Path) {
			if d.Replace != nil {
				d = d.Replace
			}
			fmt.Fprintf(w, "%s %s\n", d.Path, d.Version)
		}
	}
}

// versionedDep picks the modules whose versions decide dttui's behaviour
// on the wire: LiveKit's server, protocol and SDK, and pion's WebRTC stack.
func versionedDep(path string) bool {
	switch {
	case path == "github.com/livekit/livekit-server", path == "github.com/livekit/protocol",
		strings.HasPrefix(path, "github.com/livekit/server-sdk-go"):
		return true
	}
	for _, p := range []string{"webrtc", "sctp", "ice", "dtls", "datachannel"} {
		if mod := "github.com/pion/" + p; path == mod || strings.HasPrefix(path, mod+"/") {
			return true
		}
	}
	return false
}
