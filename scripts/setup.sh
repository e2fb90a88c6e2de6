#!/usr/bin/env bash
# setup.sh — make this checkout ready to build and test oneface.
#
#   1. installs the Debian packages go-face needs to build against Debian's
#      dlib, and OpenCV's dnn module for internal/onnx (only those that are
#      missing; 'apt-get update' first);
#   2. assembles the model directory .models/ that go-face loads, and checks
#      every file against the SHA-256 sums pinned in
#      internal/facerec/models.sha256; adds the ArcFace-class embedding
#      network checked against internal/embed/models.sha256, and the
#      passive presentation-attack networks into .models/antispoof/, checked
#      against internal/liveness/pad/models.sha256;
#   3. installs the pinned Go tools (staticcheck) into .tools/bin.
#
# It is idempotent and prints nothing when everything is already in place.
# Environment:
#   ONEFACE_MODELS  directory holding dlib_face_recognition_resnet_model_v1.dat
#                   and mmod_human_face_detector.dat (and optionally
#                   shape_predictor_5_face_landmarks.dat), and fr_feature.onnx
#                   either there or in its arcface/ subfolder; default
#                   ../shared/models
#   ONEFACE_MODELDIR where to assemble the models (default .models)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- packages
# Keep this list in sync with the README ("Requirements").
packages=(
	g++ make
	libdlib-dev libdlib-data
	libblas-dev liblapack-dev libatlas-base-dev libjpeg62-turbo-dev
	libopenblas0-pthread
	libopencv-dnn-dev
	openssh-client sqlite3 bzip2 curl
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "missing Debian packages (${missing[*]}) and not root; install them: apt-get install ${missing[*]}"
		sudo=(sudo)
	fi
	say "installing Debian packages: ${missing[*]}"
	"${sudo[@]}" apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------- models
sums=internal/facerec/models.sha256
dest=${ONEFACE_MODELDIR:-.models}
src=${ONEFACE_MODELS:-$root/../shared/models}
debian_predictor=/usr/share/dlib/shape_predictor_68_face_landmarks.dat

where_to_get() {
	case "$1" in
	dlib_face_recognition_resnet_model_v1.dat)
		echo "the converted ResNet described in ../shared/models/README.md (set ONEFACE_MODELS to its folder). dlib.net's official http://dlib.net/files/dlib_face_recognition_resnet_model_v1.dat.bz2 is a different file with a different hash: to use it, add its SHA-256 to $sums (this changes the model ID)" ;;
	mmod_human_face_detector.dat)
		echo "../shared/models/ or http://dlib.net/files/mmod_human_face_detector.dat.bz2 (decompress it)" ;;
	shape_predictor_5_face_landmarks.dat)
		echo "Debian package libdlib-data ($debian_predictor, the 68-point predictor under the 5-point name) or http://dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2 (decompress it)" ;;
	fr_feature.onnx)
		echo "the npm package faceplugin-face-recognition-js@0.0.1, file model/fr_feature.onnx (see ../shared/models/arcface/README.md; set ONEFACE_MODELS to a folder holding it or its arcface/ subfolder)" ;;
	*) echo "unknown" ;;
	esac
}

mkdir -p "$dest"
while read -r want name; do
	[ -n "$name" ] || continue
	from=""
	case "$name" in
	shape_predictor_5_face_landmarks.dat)
		if [ -n "${ONEFACE_MODELS:-}" ] && [ -f "$ONEFACE_MODELS/$name" ]; then
			from="$ONEFACE_MODELS/$name"
		else
			from=$debian_predictor
		fi ;;
	*)
		from="$src/$name" ;;
	esac
	[ -f "$from" ] || from=$(bash scripts/fetch-models.sh "$name" </dev/null) || exit 1 # HOOK fetch-models: not in $ONEFACE_MODELS or ../shared/models: fetch from the public source (scripts/models.sources), pinned SHA-256
	[ -f "$from" ] || die "model file $name not found at $from; expected SHA-256 $want; obtain it from $(where_to_get "$name")"
	from=$(realpath "$from")

	# Link the large Debian predictor, copy the rest: the copy keeps working
	# when ../shared moves. Refresh only when the source is not already there.
	target="$dest/$name"
	if [ "$from" = "$debian_predictor" ]; then
		if [ "$(readlink "$target" 2>/dev/null)" != "$from" ]; then
			ln -sfn "$from" "$target"
		fi
	elif [ -L "$target" ] || ! cmp -s "$from" "$target"; then
		rm -f "$target"
		cp "$from" "$target"
	fi
	got=$(sha256sum "$target" | cut -d' ' -f1)
	if [ "$got" != "$want" ]; then
		die "model file $name (from $from) has SHA-256 $got, expected $want; obtain it from $(where_to_get "$name")"
	fi
done <"$sums"

# The ArcFace-class embedding network (internal/embed), copied and checked
# against its own pin file.
while read -r want name; do
	[ -n "$name" ] || continue
	from="$src/arcface/$name"
	[ -f "$from" ] || from="$src/$name"
	[ -f "$from" ] || from=$(bash scripts/fetch-models.sh "$name" </dev/null) || exit 1 # not in $ONEFACE_MODELS or ../shared/models: its npm package, pinned SHA-256
	[ -f "$from" ] || die "model file $name not found in $src/arcface or $src; expected SHA-256 $want; obtain it from $(where_to_get "$name")"
	target="$dest/$name"
	if [ -L "$target" ] || ! cmp -s "$from" "$target"; then
		rm -f "$target"
		cp "$from" "$target"
	fi
	got=$(sha256sum "$target" | cut -d' ' -f1)
	if [ "$got" != "$want" ]; then
		die "model file $name (from $from) has SHA-256 $got, expected $want; obtain it from $(where_to_get "$name")"
	fi
done <internal/embed/models.sha256

# The passive presentation-attack networks (internal/liveness/pad), copied
# into the antispoof/ subfolder and checked against their own pin file.
mkdir -p "$dest/antispoof"
while read -r want name; do
	[ -n "$name" ] || continue
	from="$src/antispoof/$name"
	[ -f "$from" ] || die "PAD network $name not found in $src/antispoof; expected SHA-256 $want; it has no public prebuilt source: export it from its pinned PyTorch weights as docs/models.md says, and put it in \$ONEFACE_MODELS/antispoof/"
	target="$dest/antispoof/$name"
	if [ -L "$target" ] || ! cmp -s "$from" "$target"; then
		rm -f "$target"
		cp "$from" "$target"
	fi
	got=$(sha256sum "$target" | cut -d' ' -f1)
	if [ "$got" != "$want" ]; then
		die "PAD network $name (from $from) has SHA-256 $got, expected $want; see ../shared/models/antispoof/README.md"
	fi
done <internal/liveness/pad/models.sha256

# ---------------------------------------------------------------- Go tools
staticcheck_version=v0.8.2
tools=$root/.tools/bin
if [ ! -x "$tools/staticcheck" ] || [ "$(cat "$root/.tools/staticcheck.version" 2>/dev/null)" != "$staticcheck_version" ]; then
	say "installing staticcheck $staticcheck_version into .tools/bin"
	GOBIN=$tools go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
	echo "$staticcheck_version" >"$root/.tools/staticcheck.version"
fi
