# oneface — see README.md. `make setup` once (idempotent), then `make test`
# or `make demo`; both run setup themselves.

SHARED      ?= ../shared
MODELDIR    ?= .models
GO          ?= go
FUZZTIME    ?= 30s

export ONEFACE_MODELDIR := $(abspath $(MODELDIR))
export ONEFACE_FACES    := $(abspath $(SHARED))/faces
# Tests that need the engine or the dev faces fail (not skip) under make.
export ONEFACE_REQUIRE_ENGINE := 1

.PHONY: all setup build test lint demo bench fuzz calibrate clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	$(GO) build -o bin/oneface ./cmd/oneface

lint: setup
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	.tools/bin/staticcheck ./...
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 $(GO) vet ./...

# The race detector runs every test but the long dev-set sweeps (-short);
# those run in full, without it, right after.
test: lint
	$(GO) test -race -short -count=1 -timeout 30m ./...
	$(GO) test -count=1 -timeout 30m ./...

demo: build
	@SHARED=$(SHARED) bash scripts/demo.sh

bench: setup
	$(GO) test -run '^$$' -bench . -benchtime 5x ./...

fuzz: setup
	@GO=$(GO) FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

calibrate: setup
	cd internal/calib && $(GO) generate .
	@git diff --stat internal/calib/calibration.json

clean:
	rm -rf bin .tools
