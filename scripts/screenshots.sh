#!/usr/bin/env bash
# Regenerates screenshots/*.png, at 140x40, from what really happened:
#
#   - the real binary in tmux panes against the embedded SFU (--local
#     --local-port 0, its cache and env file in a temporary HOME): two
#     tracks streaming (traffic), the publish prompt, a track the path
#     cannot carry (dropping, dropping_detail), a publish the SFU refuses
#     (failed: a name already published), the charts after two minutes,
#     their last minute holding that track, a rate change and a flood, the
#     help, the log pane (logs, logs_filtered, logs_search); second dttuis
#     joining the same SFU as users do (set -a; . its env file): an empty
#     room, subscribe-only with and without tracks (and the detail of one,
#     the probe's own account), a file pushed into a
#     track (source); and the real binary against a listener that accepts
#     and never answers (connecting) and a closed port (connect_error);
#   - TestTUIRoomInTmux: the room with a livekit-client publisher in
#     headless Chromium and a second dttui with another passphrase
#     (room_table, room_detail, room_e2ee_detail);
#   - a real 60 s headless run's HTML report in headless Chromium (report).
#
# Only the states a run cannot reach on demand come from the TUI's model
# fixtures (go test ./tui -run TestWriteScreenshots): a publish the SFU
# has not answered yet (pending) and a republish after a reconnect
# (republishing). TestScenarioFiguresAddUp checks that every fixture's
# figures, in the report and on screen, obey the identities a real run
# keeps.
#
# No secrets: the UI shows the embedded SFU's API key, never its secret,
# which stays in the env file; every capture is checked for it.
#
# freeze draws only the attributes of the latest SGR sequence (it ignores
# 39/49 resets and reverse video, and forgets the style at line breaks),
# so every capture goes through scripts/sgrflat first, which re-emits the
# whole terminal state at each change; and it places backgrounds by its
# own font's advance, so its SVG goes through scripts/svgcells, which puts
# them on Agave's cells, before rsvg-convert: the PNGs show what a
# terminal shows.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
shots="$tmp/shots" # the captures, as ANSI
out="$tmp/png"     # the PNGs, which replace screenshots/*.png at the end
mkdir -p "$shots" "$out" "$tmp/home"
sock="dttui-shot-$$"
listener=
# DTTUI_SHOTS_KEEP=DIR keeps the captures there, as ANSI text, to read
# the figures of a PNG (or of a failed run) as text.
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  if [ -n "$listener" ]; then kill "$listener" 2>/dev/null || true; fi
  if [ -n "${DTTUI_SHOTS_KEEP:-}" ]; then mkdir -p "$DTTUI_SHOTS_KEEP" && cp "$shots"/*.ansi "$DTTUI_SHOTS_KEEP"/ 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# The charts are braille: freeze's own renderer has only JetBrains Mono,
# which has no braille, so the PNGs go through rsvg-convert with Agave, a
# monospaced font that has braille, box drawing and block elements (a
# fallback font for braille alone would not keep the cells aligned).
# tmux runs the binary; Chromium the browser publisher and the report;
# Node the browser harness and the silent listener.
missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v rsvg-convert >/dev/null 2>&1 || missing+=(librsvg2-bin)
fc-list Agave 2>/dev/null | grep -q . || missing+=(fonts-agave)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ] || ! command -v node >/dev/null 2>&1; then
  echo "screenshots.sh needs tmux, rsvg-convert, the Agave font, Debian's chromium and Node:" >&2
  [ "${#missing[@]}" -gt 0 ] && echo "  apt-get install ${missing[*]}" >&2
  command -v node >/dev/null 2>&1 || echo "  and Node (nodejs.org, or apt-get install nodejs npm)" >&2
  exit 1
fi
if [ ! -d interop/node_modules ]; then
  # livekit-client and playwright-core as interop/package-lock.json pins
  # them (as .ci/run installs them); playwright drives /usr/bin/chromium.
  (cd interop && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

go build -o "$tmp/sgrflat" ./scripts/sgrflat
go build -o "$tmp/svgcells" ./scripts/svgcells
go build -o "$tmp/dttui" ./cmd/dttui

# The fixture states, written first so nothing else competes for the CPU
# while the real runs are measured.
go test ./tui -run '^TestWriteScreenshots$' -count=1 -screenshots "$shots" >/dev/null

# --- driving panes -------------------------------------------------------

T() { tmux -L "$sock" -f /dev/null "$@"; }
# run NAME CMDLINE: CMDLINE in a 140x40 pane of its own; the pane stays
# when it ends, with its exit status.
run() { T new-session -d -s "$1" -x 140 -y 40 "$2; echo DTTUI-EXITED \$?; sleep 600"; }
screen() { T capture-pane -p -t "$1"; }
keys() { local p=$1; shift; T send-keys -t "$p" "$@"; }
typed() { T send-keys -t "$1" -l "$2"; }
# wait_for PANE SECONDS REGEX WHAT: until the pane shows REGEX.
wait_for() {
  local deadline=$((SECONDS + $2))
  until screen "$1" | grep -Eq -- "$3"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "screenshots.sh: timed out waiting for $4; the pane $1 shows:" >&2
      screen "$1" >&2
      exit 1
    fi
    sleep 0.2
  done
}
# shot PANE NAME: the pane, in colour, as NAME (a PNG at the end).
shot() {
  sleep 0.6 # the next 10 Hz refresh is drawn
  T capture-pane -e -p -t "$1" >"$shots/$2.ansi"
  echo "$(date +%T) captured $2"
}
# select_row PANE REGEX: moves the table's selection (›) to the first row
# matching REGEX.
select_row() {
  keys "$1" k k k k k k k k
  for _ in $(seq 12); do
    sleep 0.3
    screen "$1" | grep -E '^›' | grep -Eq -- "$2" && return
    keys "$1" j
  done
  echo "screenshots.sh: no row matching $2 in $1:" >&2
  screen "$1" >&2
  exit 1
}
# quit PANE: q, and dttui ended cleanly (every track unpublished).
quit() {
  keys "$1" q
  wait_for "$1" 30 'DTTUI-EXITED 0' "$1 to quit cleanly"
  T kill-session -t "$1"
}
env="env HOME=$tmp/home XDG_CACHE_HOME=$tmp/home/.cache TERM=xterm-256color COLORTERM=truecolor"
# A session that outlives the others: the tmux server stays up between
# runs (one starting as the last one's server exits fails).
T new-session -d -s hold -x 20 -y 2 "sleep 86400"

# --- the main run: the embedded SFU, room "lab" ---------------------------

run main "$env $tmp/dttui --local --local-port 0 --room lab --track telemetry:200:1k --track chat:20:256"
wait_for main 60 'chat .*published' "both tracks published"
envfile=$(ls "$tmp"/home/.cache/dttui/local-sfu*.env)
secret=$(sed -n "s/^LIVEKIT_API_SECRET='\(.*\)'\$/\1/p" "$envfile")
[ "${#secret}" -ge 32 ] || { echo "screenshots.sh: no secret in $envfile" >&2; exit 1; }
# Others join as the UI tells them to: set -a; . the env file; set +a.
joined="set -a; . $envfile; set +a; $env $tmp/dttui"

# The charts on their 1-minute window throughout (w cycles 5m, 15m, 1m),
# and the detail pane of the selected track, telemetry.
typed main ww
keys main d
wait_for main 30 'frames sent per second, last 1[5-9]s' "15 s of traffic"
shot main traffic

# Another dttui in the same room, publishing nothing: our two tracks are
# the room's.
run watch "$joined --subscribe-only --room lab"
wait_for watch 60 'chat .*subscribed' "the subscribe-only view of the room"
typed watch ww
sleep 12
shot watch subscribe_only
# telemetry's detail: the packets' account and the probe's own.
select_row watch telemetry
keys watch d
wait_for watch 10 'dttui probe: sent' "the probe's account of telemetry"
shot watch subscribe_only_detail
quit watch

# With credentials and no --room, the room picker lists the SFU's rooms:
# lab, with our two tracks.
run pick "$joined"
wait_for pick 60 'telemetry' "the room picker"
sleep 1
shot pick room_picker
keys pick q
wait_for pick 30 'DTTUI-EXITED' "the picker to quit"
T kill-session -t pick

# Three more users of the same SFU, in rooms of their own: one publishing
# nothing, one watching an empty room, one pushing a file into a track.
run quiet "$joined --room quiet"
wait_for quiet 60 'connected' "the empty room"
typed quiet ww
sleep 3
shot quiet empty
quit quiet
run watchq "$joined --subscribe-only --room quiet-too"
wait_for watchq 60 'connected' "the empty subscribe-only room"
typed watchq ww
sleep 3
shot watchq subscribe_only_empty
quit watchq
run file "cd $PWD/tui/testdata && $joined --room files --track telemetry:100:1k"
wait_for file 60 'telemetry .*published' "the file's track"
typed file ww
sleep 5
keys file g # generator off: the file's frames only
wait_for file 10 'generator stopped' "the generator stopped"
keys file o
wait_for file 10 'Push a file into' "the file prompt"
keys file C-u
typed file telemetry.ndjson
keys file Enter
wait_for file 20 'pushed 5/5 frames' "the file pushed"
keys file d
wait_for file 10 'telemetry  handle' "the detail pane"
shot file source
quit file

# The publish prompt, and a track the path cannot carry: 200 frames/s of
# 256 KiB (50 MiB/s; loopback SCTP carries a third to three quarters of
# it), its size and rate set with ] and +, the generator started with g.
keys main p
wait_for main 10 'Publish a data track' "the publish prompt"
keys main C-u
typed main video-meta
shot main prompt
keys main Enter
wait_for main 30 'video-meta .*published' "video-meta published"
typed main ']]]]]]]]'
typed main '++'
wait_for main 10 '"video-meta": 200/s × 256 KiB' "video-meta at 200/s × 256 KiB"
keys main g
wait_for main 10 'video-meta .*dropping' "video-meta dropping"
sleep 12
keys main d # the table and the charts
sleep 1
shot main dropping
keys main d
wait_for main 10 'dropped: queue full' "the drop reasons"
shot main dropping_detail
keys main u
wait_for main 30 'video-meta .*unpublished' "video-meta unpublished"
saturated=$SECONDS
echo "$(date +%T) video-meta unpublished"

# A publish the SFU refuses: a name this participant already publishes.
keys main p
wait_for main 10 'Publish a data track' "the publish prompt"
keys main C-u
typed main chat
keys main Enter
wait_for main 30 'failed: duplicate' "the refused publish"
select_row main 'failed'
wait_for main 10 'DUPLICATE_NAME' "the SFU's reason in the detail pane"
shot main failed
keys main x # the failed row goes

# telemetry's rate doubled, then a flood of 100 frames at once; the
# charts 20 s on, their minute spanning the saturated path, the rate
# change and the flood.
select_row main 'telemetry'
typed main '+'
wait_for main 10 '"telemetry": 400/s' "telemetry at 400/s"
echo "$(date +%T) telemetry at 400/s"
sleep 8
typed main f
wait_for main 10 'flood to "telemetry"' "the flood"
echo "$(date +%T) flood"
sleep 20
[ "$SECONDS" -lt $((saturated + 45)) ] || echo "screenshots.sh: the saturated path may be out of the charts' minute" >&2
keys main d # the charts by themselves
wait_for main 10 'charts · telemetry · last 1m' "the charts"
shot main charts

keys main '?'
wait_for main 10 'Log pane' "the help"
shot main help
keys main Escape

# The log pane as it opens (following, library INFO hidden); every level,
# pion's lines off, no wrap; then searching it (esc would close the pane).
keys main l
wait_for main 10 'logs · following' "the log pane"
shot main logs
keys main v
keys main 3
keys main w
wait_for main 10 'logs · .*all levels' "the log pane filtered"
shot main logs_filtered
keys main /
typed main 'ice conn'
keys main Enter
keys main N
wait_for main 10 '/ice conn [0-9]+/[0-9]+' "the search"
shot main logs_search
quit main

# --- no connection ---------------------------------------------------------

# A listener that accepts and never answers, and a closed port.
node -e "const s=require('net').createServer(()=>{}).listen(0,'127.0.0.1',()=>console.log(s.address().port))" >"$tmp/silent.port" &
listener=$!
for _ in $(seq 50); do [ -s "$tmp/silent.port" ] && break; sleep 0.1; done
silent=$(cat "$tmp/silent.port")
closed=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
fake="LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=$(head -c 24 /dev/urandom | base64)"
run hung "$env $fake $tmp/dttui --url ws://127.0.0.1:$silent --room lab --track telemetry:100:1k"
wait_for hung 10 'connecting to' "connecting"
sleep 1.5
shot hung connecting
T kill-session -t hung
kill "$listener"
listener=
run refused "$env $fake $tmp/dttui --url ws://127.0.0.1:$closed --room lab --track telemetry:100:1k"
wait_for refused 20 'could not connect' "the refusal"
shot refused connect_error
T kill-session -t refused

# --- the room with a browser publisher -------------------------------------

DTTUI_REQUIRE_JS=1 DTTUI_ROOM_SHOT="$shots" go test ./cmd/dttui -run '^TestTUIRoomInTmux$' -count=1 >/dev/null

# No secret on any screen: the embedded SFU's (the UI shows its API key
# only) and the made-up one of the runs that never connected.
for s in "$secret" "${fake##*=}"; do
  if grep -lF -- "$s" "$shots"/*.ansi; then
    echo "screenshots.sh: a secret is on the screens above" >&2
    exit 1
  fi
done

# --- PNGs ------------------------------------------------------------------

for f in "$shots"/*.ansi; do
  name=$(basename "${f%.ansi}")
  "$tmp/sgrflat" <"$f" | go run github.com/charmbracelet/freeze@v0.2.2 --language ansi --window --font.family Agave --font.size 19 \
    --width 1400 -o "$tmp/$name.svg" >/dev/null
  "$tmp/svgcells" <"$tmp/$name.svg" | rsvg-convert -o "$out/$name.png"
done

# The HTML report of a real headless run against the embedded SFU, opened
# in headless Chromium.
env HOME="$tmp/home" XDG_CACHE_HOME="$tmp/home/.cache" "$tmp/dttui" --headless --local --local-port 0 --duration 60s \
  --track telemetry:2000:4k --track chat:20:256 --report "$tmp/report.html" >/dev/null 2>"$tmp/report.err"
chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$tmp/chromium" --hide-scrollbars \
  --window-size=1280,1700 --screenshot="$out/report.png" "file://$tmp/report.html" >/dev/null 2>&1

# Every state or none: the set replaces the old one whole.
rm -f screenshots/*.png
mv "$out"/*.png screenshots/
ls screenshots/*.png
