#!/usr/bin/env bash
# fetch-models.sh — obtain model files from their public sources.
#
#   scripts/fetch-models.sh FILE...        e.g. dlib_face_recognition_resnet_model_v1.dat
#   scripts/fetch-models.sh -list          the files it knows, with their sources
#
# For each FILE it tries the sources listed in scripts/models.sources, in
# order, and accepts a result only when its SHA-256 equals the pin there:
#   npm      `npm pack` of a pinned package version; the tarball's SHA-256 is
#            checked before a file is taken out of it;
#   faceapi  the same for @vladmandic/face-api, whose face-recognition
#            weights internal/cmd/faceapi2dlib converts into dlib's ResNet
#            file (needs the Go toolchain);
#   url      an HTTP(S) download (.bz2 is decompressed);
#   debian   a file a Debian package installs (the package is not installed
#            here: scripts/setup.sh does that).
# It prints the path of each file on stdout (in the cache; a Debian file
# where the package installed it); messages go to stderr. A file already in the cache with the right hash is not fetched
# again. On failure it names the file, the expected SHA-256 and each source
# tried, and exits 1 without leaving a partial file.
#
# Environment:
#   ONEFACE_MODEL_CACHE   where fetched files go (default .cache/models)
#   ONEFACE_MODEL_MIRROR  fetch url sources from this base URL instead of
#                         their own host, keeping the path (a local mirror,
#                         or the tests' server); the pins still apply
set -euo pipefail
set -f # no globbing: source lines are split into words, never expanded

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sources=$root/scripts/models.sources
cache=${ONEFACE_MODEL_CACHE:-$root/.cache/models}

say() { printf 'fetch-models: %s\n' "$*" >&2; }
die() { printf 'fetch-models: error: %s\n' "$*" >&2; exit 1; }

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# lines FILE: the source lines of FILE.
lines() {
	awk -v f="$1" '$1 == f' "$sources"
}

# npm_pack SPEC WANT DIR: `npm pack` SPEC into DIR, check the tarball's
# SHA-256, print its path.
npm_pack() {
	local spec=$1 want=$2 dir=$3 tgz got
	command -v npm >/dev/null || { say "npm not found (install Node.js/npm)"; return 1; }
	tgz=$(cd "$dir" && npm pack --silent --pack-destination "$dir" "$spec" 2>"$dir/npm.log" | tail -n 1) || {
		say "npm pack $spec failed: $(tail -n 3 "$dir/npm.log" | tr '\n' ' ')"
		return 1
	}
	[ -n "$tgz" ] && [ -f "$dir/$tgz" ] || { say "npm pack $spec wrote no tarball"; return 1; }
	got=$(sha256 "$dir/$tgz")
	if [ "$got" != "$want" ]; then
		say "npm tarball of $spec has SHA-256 $got, pinned $want"
		return 1
	fi
	printf '%s\n' "$dir/$tgz"
}

# fetch_one METHOD ARGS... : write the file to $out (a temporary path).
fetch_one() {
	local method=$1
	shift
	case "$method" in
	npm)
		local tgz
		tgz=$(npm_pack "$1" "$2" "$work") || return 1
		tar -xzf "$tgz" -C "$work" "$3" 2>/dev/null || { say "$1: no $3 in its tarball"; return 1; }
		mv "$work/$3" "$out" ;;
	faceapi)
		local tgz
		tgz=$(npm_pack "$1" "$2" "$work") || return 1
		command -v go >/dev/null || { say "the Go toolchain is needed to convert $1"; return 1; }
		(cd "$root" && go run ./internal/cmd/faceapi2dlib -tgz "$tgz" -o "$out") >/dev/null || return 1 ;;
	url)
		local url=$1
		if [ -n "${ONEFACE_MODEL_MIRROR:-}" ]; then
			url=${ONEFACE_MODEL_MIRROR%/}/$(printf '%s' "$url" | sed -E 's|^[a-z]+://[^/]+/||')
		fi
		command -v curl >/dev/null || { say "curl not found"; return 1; }
		say "downloading $url"
		curl -fsSL --retry 2 --connect-timeout 20 -o "$work/download" "$url" || { say "download of $url failed"; return 1; }
		case "$url" in
		*.bz2)
			command -v bunzip2 >/dev/null || { say "bunzip2 not found (Debian package bzip2)"; return 1; }
			bunzip2 -c "$work/download" >"$out" || { say "$url is not bzip2"; return 1; } ;;
		*) mv "$work/download" "$out" ;;
		esac ;;
	debian)
		if [ -f "$2" ]; then
			say "$2 (Debian package $1) has another SHA-256"
		else
			say "$2 not installed (apt-get install $1)"
		fi
		return 1 ;;
	*)
		say "unknown method $method in $sources"
		return 1 ;;
	esac
}

# fetch NAME: print the cached path of NAME, fetching it if needed.
fetch() {
	local name=$1 want tried=() line method target
	case "$name" in
	*/* | .* | "") die "not a model file name: $name" ;;
	esac
	want=$(awk -v f="$name" '$1 == f { print $2; exit }' "$sources")
	[ -n "$want" ] || die "$name: unknown model file (scripts/fetch-models.sh -list)"
	target=$cache/$name
	# A cached copy is used only with the pinned hash.
	if [ -f "$target" ] && [ "$(sha256 "$target")" = "$want" ]; then
		printf '%s\n' "$target"
		return
	fi
	mkdir -p "$cache"
	while read -r _ _ method args; do
		[ -n "$method" ] || continue
		# shellcheck disable=SC2086 # the arguments are words
		set -- $args
		tried+=("$method $*")
		# A Debian file is used where the package put it, not copied.
		if [ "$method" = debian ] && [ -f "$2" ] && [ "$(sha256 "$2")" = "$want" ]; then
			say "$name: SHA-256 $want (pinned) at $2 (Debian package $1)"
			printf '%s\n' "$2"
			return
		fi
		work=$(mktemp -d "$cache/.fetch.XXXXXX")
		out=$work/$name.part
		say "$name: trying $method $*"
		if fetch_one "$method" "$@" && [ -f "$out" ]; then
			got=$(sha256 "$out")
			if [ "$got" = "$want" ]; then
				chmod 0644 "$out"
				mv -f "$out" "$target"
				rm -rf "$work"
				say "$name: SHA-256 $want (pinned) from $method $*"
				printf '%s\n' "$target"
				return
			fi
			say "$name from $method $* has SHA-256 $got, expected $want; discarded"
		fi
		rm -rf "$work"
	done < <(lines "$name")
	die "$name: no source gave the file with SHA-256 $want; tried: $(printf '[%s] ' "${tried[@]}")— see docs/models.md, or put the file in \$ONEFACE_MODELS"
}

[ $# -gt 0 ] || die "usage: scripts/fetch-models.sh FILE... | -list"
if [ "$1" = "-list" ]; then
	grep -v '^\s*#' "$sources" | awk 'NF { $2 = substr($2, 1, 12) "…"; print }'
	exit 0
fi
work=""
trap '[ -z "$work" ] || rm -rf "$work"' EXIT
for name in "$@"; do
	fetch "$name"
done
