#!/usr/bin/env bash
# fuzz.sh — run every fuzz target of the module for FUZZTIME each (make fuzz).
# Targets are found, not listed, so a new Fuzz function is never forgotten.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
go=${GO:-go}
fuzztime=${FUZZTIME:-30s}
grep -rlE '^func Fuzz[A-Za-z0-9_]+\(' --include='*_test.go' . | sort | while read -r f; do
	pkg=./$(dirname "${f#./}")
	for name in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$f" | cut -d' ' -f2); do
		printf 'fuzz: %s %s (%s)\n' "$pkg" "$name" "$fuzztime" >&2
		"$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
	done
done
