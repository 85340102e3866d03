#!/usr/bin/env bash
# Regenerates screenshots/*.png: every golden UI state rendered in true
# colour at 140x40 (the same scripted states the golden tests pin), turned
# into PNGs by charmbracelet/freeze; the real binary (live.png) and its
# room with a livekit-client publisher in headless Chromium (room.png);
# and, with Debian's chromium, the HTML report of a real 60 s headless
# run (report.png). No secrets: the states
# use a fake session with made-up names; the report holds none.
#
# freeze draws only the attributes of the latest SGR sequence (it ignores
# 39/49 resets and reverse video, and forgets the style at line breaks),
# so every capture goes through scripts/sgrflat first, which re-emits the
# whole terminal state at each change: the PNGs show what a terminal shows.
set -euo pipefail
cd "$(dirname "$0")/.."
out=screenshots
tmp=$(mktemp -d)
sock="dttui-shot-$$"
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The charts are braille: freeze's own renderer has only JetBrains Mono,
# which has no braille, so the PNGs go through rsvg-convert with Agave, a
# monospaced font that has braille, box drawing and block elements (a
# fallback font for braille alone would not keep the cells aligned).
if ! command -v rsvg-convert >/dev/null 2>&1 || ! fc-list Agave | grep -q .; then
  echo "screenshots.sh needs rsvg-convert and the Agave font: apt-get install librsvg2-bin fonts-agave" >&2
  exit 1
fi
go build -o "$tmp/sgrflat" ./scripts/sgrflat
freeze() { # freeze NAME < ansi
  "$tmp/sgrflat" | go run github.com/charmbracelet/freeze@v0.2.2 --language ansi --window --font.family Agave --font.size 19 \
    --width 1400 -o "$out/$1.png" >/dev/null
  echo "wrote $out/$1.png"
}

go test ./tui -run '^TestWriteScreenshots$' -count=1 -screenshots "$tmp"
mkdir -p "$out"
for f in "$tmp"/*.ansi; do
  freeze "$(basename "${f%.ansi}")" < "$f"
done

# And the real binary against the embedded SFU, captured from a tmux pane
# (needs tmux): the demo track plus a second track with a generator, with
# the detail pane and the charts open once there is some history.
if command -v tmux >/dev/null 2>&1; then
  go build -o "$tmp/dttui" ./cmd/dttui
  tmux -L "$sock" new-session -d -s shot -x 140 -y 40 \
    "env XDG_CACHE_HOME=$tmp/cache TERM=xterm-256color COLORTERM=truecolor $tmp/dttui --local --local-port 0 --track demo:50:1k --track sensors:400:4k; sleep 5"
  for _ in $(seq 100); do
    tmux -L "$sock" capture-pane -p -t shot | grep -q 'sensors.*published' && break
    sleep 0.2
  done
  sleep 25
  # The detail pane, and the charts (shown by themselves at 140x40) on
  # their 1-minute window: w cycles 5m, 15m, 1m.
  tmux -L "$sock" send-keys -t shot d w w
  sleep 1.5
  tmux -L "$sock" capture-pane -e -p -t shot > "$tmp/live.ansi"
  tmux -L "$sock" send-keys -t shot q
  freeze live < "$tmp/live.ansi"
fi

# The room with a real browser publisher (needs tmux, chromium and
# interop/node_modules: cd interop && npm ci): the end-to-end test of the
# room view writes the pane while livekit-client's JSON track is open in
# the detail pane, next to a second dttui publishing with another
# passphrase.
if command -v tmux >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 && [ -d interop/node_modules ]; then
  DTTUI_ROOM_SHOT="$tmp/room.ansi" go test ./cmd/dttui -run '^TestTUIRoomInTmux$' -count=1 >/dev/null
  freeze room < "$tmp/room.ansi"
fi

# The HTML report of a real headless run against the embedded SFU, opened
# in headless Chromium (needs chromium).
if command -v chromium >/dev/null 2>&1; then
  go build -o "$tmp/dttui-report" ./cmd/dttui
  env XDG_CACHE_HOME="$tmp/cache" "$tmp/dttui-report" --headless --local --local-port 0 --duration 60s \
    --track telemetry:2000:4k --track chat:20:256 --report "$tmp/report.html" >/dev/null 2>"$tmp/report.err"
  chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$tmp/chromium" --hide-scrollbars \
    --window-size=1280,1700 --screenshot="$out/report.png" "file://$tmp/report.html" >/dev/null 2>&1
  echo "wrote $out/report.png"
fi
