#!/usr/bin/env bash
# demo.sh — the oneface story so far, on LFW dev photos from ../shared.
# Run through `make demo` (which builds bin/oneface and runs setup first).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
oneface=./bin/oneface
lfw=${SHARED:-../shared}/faces/lfw-dev/lfw-deepfunneled
demo=.cache/demo
rm -rf "$demo" && mkdir -p "$demo"

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

step "1. the engine: model pins, model ID, BLAS"
run $oneface models

step "2. distances between two photos of Abel Pacheco and one of Akhmed Zakayev"
run $oneface compare "$lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg" "$lfw/Abel_Pacheco/Abel_Pacheco_0004.jpg" \
	"$lfw/Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg"

step "3. keys for a deployment: an issuer, a kiosk, a deployment secret, the issuer station's audit log"
run $oneface keygen issuer -name demo-issuer -o "$demo/issuer.key" > "$demo/issuer.pub"
run $oneface keygen verifier -o "$demo/kiosk.key" > "$demo/kiosk.pub"
run $oneface keygen deployment -o "$demo/deployment.secret"
run $oneface keygen log -name issuer-station.demo -o "$demo/log.key" > "$demo/log.pub"
# The controller (who answers access and erasure requests) keeps its age
# identity off the devices; the logs get only its recipient.
run $oneface audit controller-keygen -o "$demo/controller.key" > "$demo/controller.pub"
run $oneface audit init -log-key "$demo/log.key" -controller "$demo/controller.pub" "$demo/audit"
echo "issuer public key: $(cat "$demo/issuer.pub")"
echo "kiosk recipient:   $(cat "$demo/kiosk.pub")"

step "4. the issuer enrols two people from two photos each; each reference is sealed to the kiosk, its enrolment audited"
enroll() { # subject-id out photo...
	local sid=$1 out=$2
	shift 2
	# The subject ID goes in on standard input, never on the command line.
	printf '%s\n' "$sid" | run $oneface enroll -key "$demo/issuer.key" -secret "$demo/deployment.secret" -to "$(cat "$demo/kiosk.pub")" \
		-purpose door-main -subject-file - -o "$demo/$out.txt" -qr "$demo/$out.png" \
		-audit-log "$demo/audit" -log-key "$demo/log.key" "$@" | tee "$demo/$out.out"
}
enroll employee-42 abel "$lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg" "$lfw/Abel_Pacheco/Abel_Pacheco_0002.jpg"
enroll employee-77 akhmed "$lfw/Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg" "$lfw/Akhmed_Zakayev/Akhmed_Zakayev_0002.jpg"
abel_subject=$(awk '/^reference/ {print $5}' "$demo/abel.out")

step "5. the kiosk reads Abel's card (its QR code) and opens the reference"
run $oneface open -key "$demo/kiosk.key" -secret "$demo/deployment.secret" -issuer "$(cat "$demo/issuer.pub")" -purpose door-main "$demo/abel.png"

step "6. ... and refuses it for a purpose it was not issued for (expected error)"
if run $oneface open -key "$demo/kiosk.key" -secret "$demo/deployment.secret" -issuer "$(cat "$demo/issuer.pub")" -purpose vault "$demo/abel.txt"; then
	echo "demo: the reference opened for a purpose it does not allow" >&2
	exit 1
fi

step "7. the kiosk verifies: Abel's card and a live frame of Abel, with his consent (its own audit log)"
run $oneface keygen log -name kiosk-1.demo -o "$demo/kiosk-log.key" > "$demo/kiosk-log.pub"
run $oneface audit init -log-key "$demo/kiosk-log.key" -controller "$demo/controller.pub" "$demo/kiosk-audit"
printf 'We compare your face with your card, keep no image, and log the use.\n' > "$demo/notice-2026-11.txt"
# -liveness none: the "live frames" here are LFW news photos, not a kiosk
# camera; the shipped PAD threshold is for a webcam (docs/liveness.md).
kiosk() { run $oneface verify -key "$demo/kiosk.key" -secret "$demo/deployment.secret" -issuer "$(cat "$demo/issuer.pub")" -purpose door-main \
	-audit-log "$demo/kiosk-audit" -log-key "$demo/kiosk-log.key" -notice "$demo/notice-2026-11.txt" -liveness none "$@"; }
kiosk -consented -receipt "$demo/abel-door.receipt" "$demo/abel.png" "$lfw/Abel_Pacheco/Abel_Pacheco_0004.jpg"
# The exit status is the decision: 0 MATCH, 3 NO MATCH, 4 REFUSED (1 error, 2 usage).
expect() { local want=$1 got=0; shift; "$@" || got=$?; [ "$got" -eq "$want" ] || { echo "demo: exit status $got, want $want" >&2; exit 1; }; echo "  (exit status $got)"; }
step "   ... Akhmed presents Abel's card (an impostor): NO MATCH, exit status 3"
expect 3 kiosk -consented "$demo/abel.png" "$lfw/Akhmed_Zakayev/Akhmed_Zakayev_0003.jpg"
step "   ... no consent: refused before any biometric processing, exit status 4"
expect 4 kiosk "$demo/abel.png" "$lfw/Abel_Pacheco/Abel_Pacheco_0004.jpg"
run $oneface audit show "$demo/kiosk-audit"
run $oneface audit check-receipt -key "$demo/kiosk-log.pub" "$demo/abel-door.receipt"

step "8. the issuer's audit log: entries hold tokens and a commitment, never a name, image or descriptor"
run $oneface audit show "$demo/audit"
run $oneface audit checkpoint "$demo/audit" | tee "$demo/checkpoint-before-erase"

step "9. Abel's receipt (re-issued with the controller's identity, which opens his record), checked offline with the log's public key only"
$oneface audit receipt -log-key "$demo/log.key" -controller-identity "$demo/controller.key" "$demo/audit" 0 > "$demo/abel.receipt"
run $oneface audit check-receipt -key "$demo/log.pub" "$demo/abel.receipt"

step "10. Abel asks the controller for his records (subject access): only the controller's identity opens them ..."
run $oneface audit export -log-key "$demo/log.key" -controller-identity "$demo/controller.key" -subject "$abel_subject" "$demo/audit" | head -8
echo "  ..."

step "11. ... and for erasure: his key is destroyed, the erasure recorded"
run $oneface audit erase -log-key "$demo/log.key" -controller-identity "$demo/controller.key" -subject "$abel_subject" "$demo/audit"
run $oneface audit export -log-key "$demo/log.key" -controller-identity "$demo/controller.key" -subject "$abel_subject" "$demo/audit"

step "12. an auditor verifies the log against the checkpoint taken before the erasure, and Abel's old receipt"
run $oneface audit verify -key "$demo/log.pub" -checkpoint "$demo/checkpoint-before-erase" "$demo/audit"
run $oneface audit check-receipt -key "$demo/log.pub" "$demo/abel.receipt"

step "13. tampering: an entry is rewritten on disk; verification names the entry (expected error)"
cp -r "$demo/audit" "$demo/audit-tampered"
python3 - "$demo/audit-tampered/entries" <<'PY' 2>/dev/null || sed -i 's/reason issued/reason forged/' "$demo/audit-tampered/entries"
import sys
p = sys.argv[1]
b = open(p, 'rb').read()
open(p, 'wb').write(b.replace(b'reason issued', b'reason forged', 1))
PY
if run $oneface audit verify -key "$demo/log.pub" -checkpoint "$demo/checkpoint-before-erase" "$demo/audit-tampered"; then
	echo "demo: a tampered log verified" >&2
	exit 1
fi

step "14. rollback: the last entry is cut off a copy; the auditor's checkpoint reports it and the device refuses to open it (expected errors)"
run $oneface audit checkpoint "$demo/audit" > "$demo/checkpoint-latest"
cp -r "$demo/audit" "$demo/audit-rolled-back"
python3 - "$demo/audit-rolled-back/entries" <<'PY'
import sys
p = sys.argv[1]
b = open(p, 'rb').read()
i = b.rfind(b'oneface audit entry v')
open(p, 'wb').write(b[:i - 4])
PY
if run $oneface audit verify -key "$demo/log.pub" -checkpoint "$demo/checkpoint-latest" "$demo/audit-rolled-back"; then
	echo "demo: a rolled-back log verified" >&2
	exit 1
fi
if run $oneface audit prove -log-key "$demo/log.key" "$demo/audit-rolled-back" 0; then
	echo "demo: the device opened a rolled-back log" >&2
	exit 1
fi
printf '\ndemo: done (files in %s)\n' "$demo"
