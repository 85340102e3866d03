#!/usr/bin/env bash
# Regenerates screenshots/*.png: every golden UI state rendered in true
# colour at 140x40 (the same scripted states the golden tests pin), turned
# into PNGs by charmbracelet/freeze. No secrets: the states use a fake
# session with made-up names.
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

go build -o "$tmp/sgrflat" ./scripts/sgrflat
freeze() { # freeze NAME < ansi
  "$tmp/sgrflat" | go run github.com/charmbracelet/freeze@v0.2.2 --language ansi --window --font.size 14 --width 1400 \
    -o "$out/$1.png" >/dev/null
  echo "wrote $out/$1.png"
}

go test ./tui -run '^TestWriteScreenshots$' -count=1 -screenshots "$tmp"
mkdir -p "$out"
for f in "$tmp"/*.ansi; do
  freeze "$(basename "${f%.ansi}")" < "$f"
done

# And the real binary against the embedded SFU, captured from a tmux pane
# (needs tmux): the demo track plus a second track with a generator, with
# the detail pane open once the per-second sparkline has some history.
if command -v tmux >/dev/null 2>&1; then
  go build -o "$tmp/dttui" ./cmd/dttui
  tmux -L "$sock" new-session -d -s shot -x 140 -y 40 \
    "env XDG_CACHE_HOME=$tmp/cache TERM=xterm-256color COLORTERM=truecolor $tmp/dttui --local --local-port 0 --track demo:50:1k --track sensors:400:4k; sleep 5"
  for _ in $(seq 100); do
    tmux -L "$sock" capture-pane -p -t shot | grep -q 'sensors.*published' && break
    sleep 0.2
  done
  sleep 12
  tmux -L "$sock" send-keys -t shot d
  sleep 1.5
  tmux -L "$sock" capture-pane -e -p -t shot > "$tmp/live.ansi"
  tmux -L "$sock" send-keys -t shot q
  freeze live < "$tmp/live.ansi"
fi
