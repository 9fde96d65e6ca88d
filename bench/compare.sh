#!/bin/bash
# Side-by-side benchmark of go-smtp-source and go-smtp-sink against
# Postfix's smtp-source and smtp-sink, on this machine over loopback.
#
# Builds ./cmd/go-smtp-source, ./cmd/go-smtp-sink and the harness
# (./bench/compare) into a temporary directory, then runs the harness with
# our binaries' paths; every argument is passed on to it. See
# bench/README.md, or bench/compare.sh -h.
#
#   bench/compare.sh                              # all scenarios, 5 runs
#   bench/compare.sh -runs 2 -messages 2000       # a quick look
#   bench/compare.sh -only reuse-s100,sink-reuse  # some scenarios
#   bench/compare.sh -o bench/RESULTS.md          # the committed results
#
# If ./cmd/go-smtp-sink does not build, its scenarios are skipped and the
# report says so.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

go -C "$root" build -o "$tmp/go-smtp-source" ./cmd/go-smtp-source
go -C "$root" build -o "$tmp/compare" ./bench/compare

sink=(-sink "$tmp/go-smtp-sink")
if ! go -C "$root" build -o "$tmp/go-smtp-sink" ./cmd/go-smtp-sink; then
	echo "compare.sh: ./cmd/go-smtp-sink does not build;" \
		"skipping its scenarios" >&2
	sink=()
fi

"$tmp/compare" -repo "$root" -source "$tmp/go-smtp-source" \
	"${sink[@]}" "$@"
