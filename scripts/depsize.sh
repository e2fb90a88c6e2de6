#!/usr/bin/env bash
# depsize.sh — what a program that verifies links: the dependency count of
# package verify and the stripped sizes of the CLI and of the smallest
# verifying kiosk (a main importing only verify and audit, written to
# .tools/depsize/, git-ignored). Run from any checkout: scripts/depsize.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=$(mktemp -d)
trap 'rm -rf "$out" .tools/depsize' EXIT
mkdir -p .tools/depsize
cat >.tools/depsize/main.go <<'GO'
// The smallest verifying kiosk: engine, opener, audit log, one Verify.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/verify"
)

func main() {
	e, err := verify.OpenEngine(os.Args[1], verify.EngineOptions{})
	if err != nil {
		panic(err)
	}
	lg, err := audit.Open(os.Args[2], os.Args[3], audit.Options{})
	if err != nil {
		panic(err)
	}
	op, err := verify.NewOpener(verify.OpenerConfig{ModelID: e.ModelID()})
	if err != nil {
		panic(err)
	}
	v, err := verify.New(verify.VerifierConfig{Engine: e, Opener: op, Audit: lg})
	if err != nil {
		panic(err)
	}
	ref, _ := os.ReadFile(os.Args[4])
	frame, _ := os.ReadFile(os.Args[5])
	d, err := v.Verify(context.Background(), verify.Request{Reference: ref, Frames: []verify.Frame{{Encoded: frame}}})
	fmt.Println(d, err)
}
GO
echo "go list -deps ./verify: $(go list -deps ./verify | wc -l) packages, $(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./verify | wc -l) outside the standard library, $(go list -deps ./verify | grep -c '^gonum.org/' || true) from gonum.org"
go build -ldflags='-s -w' -o "$out/oneface" ./cmd/oneface
go build -ldflags='-s -w' -o "$out/kiosk" ./.tools/depsize
echo "stripped ./cmd/oneface: $(stat -c %s "$out/oneface") bytes"
echo "stripped verify+audit kiosk: $(stat -c %s "$out/kiosk") bytes"
