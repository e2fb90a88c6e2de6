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

LFW := $(SHARED)/faces/lfw-dev/lfw-deepfunneled

.PHONY: all setup build test lint demo bench fuzz clean

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

test: lint
	$(GO) test -race -count=1 ./...

demo: build
	@echo "== the engine: model pins, model ID, BLAS"
	./bin/oneface models
	@echo
	@echo "== two photos of Abel Pacheco and one of Akhmed Zakayev (LFW dev set)"
	./bin/oneface compare \
		$(LFW)/Abel_Pacheco/Abel_Pacheco_0001.jpg \
		$(LFW)/Abel_Pacheco/Abel_Pacheco_0004.jpg \
		$(LFW)/Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg

bench: setup
	$(GO) test -run '^$$' -bench . -benchtime 5x ./...

fuzz: setup
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/facerec
	$(GO) test -run '^$$' -fuzz '^FuzzJPEGOrientation$$' -fuzztime $(FUZZTIME) ./internal/facerec

clean:
	rm -rf bin .tools
