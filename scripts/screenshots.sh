#!/usr/bin/env bash
# Regenerates screenshots/*.png: every golden UI state rendered in true
# colour at 140x40 (the same scripted states the golden tests pin), turned
# into PNGs by charmbracelet/freeze. No secrets: the states use a fake
# session with made-up names.
set -euo pipefail
cd "$(dirname "$0")/.."
out=screenshots
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test ./tui -run '^TestWriteScreenshots$' -count=1 -screenshots "$tmp"
mkdir -p "$out"
for f in "$tmp"/*.ansi; do
  name=$(basename "${f%.ansi}")
  go run github.com/charmbracelet/freeze@v0.2.2 --window --font.size 14 --width 1400 \
    -o "$out/$name.png" < "$f" >/dev/null
  echo "wrote $out/$name.png"
done

# And the real binary against the embedded SFU, captured from a tmux pane
# (needs tmux): the demo track plus a second track with a generator.
if command -v tmux >/dev/null 2>&1; then
  go build -o "$tmp/dttui" ./cmd/dttui
  sock="dttui-shot-$$"
  tmux -L "$sock" new-session -d -s shot -x 140 -y 40 \
    "env XDG_CACHE_HOME=$tmp/cache TERM=xterm-256color COLORTERM=truecolor $tmp/dttui --local --local-port 0 --track demo:50:1k --track sensors:400:4k; sleep 5"
  trap 'tmux -L "$sock" kill-server 2>/dev/null; rm -rf "$tmp"' EXIT
  sleep 6
  tmux -L "$sock" send-keys -t shot d
  sleep 2
  tmux -L "$sock" capture-pane -e -p -t shot > "$tmp/live.ansi"
  tmux -L "$sock" send-keys -t shot q
  go run github.com/charmbracelet/freeze@v0.2.2 --window --font.size 14 --width 1400 \
    -o "$out/live.png" < "$tmp/live.ansi" >/dev/null
  echo "wrote $out/live.png"
fi
