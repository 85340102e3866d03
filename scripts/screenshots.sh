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
