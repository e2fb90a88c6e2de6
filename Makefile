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

DEMO := .cache/demo

demo: build
	@echo "== 1. the engine: model pins, model ID, BLAS"
	./bin/oneface models
	@echo
	@echo "== 2. two photos of Abel Pacheco and one of Akhmed Zakayev (LFW dev set)"
	./bin/oneface compare \
		$(LFW)/Abel_Pacheco/Abel_Pacheco_0001.jpg \
		$(LFW)/Abel_Pacheco/Abel_Pacheco_0004.jpg \
		$(LFW)/Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg
	@echo
	@echo "== 3. keys for a deployment: an issuer, a kiosk, a shared deployment secret"
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	./bin/oneface keygen issuer -name demo-issuer -o $(DEMO)/issuer.key > $(DEMO)/issuer.pub
	./bin/oneface keygen verifier -o $(DEMO)/kiosk.key > $(DEMO)/kiosk.pub
	./bin/oneface keygen deployment -o $(DEMO)/deployment.secret
	@echo
	@echo "== 4. the issuer enrols Abel Pacheco from two photos: a signed, sealed reference and its QR code"
	./bin/oneface enroll -key $(DEMO)/issuer.key -secret $(DEMO)/deployment.secret \
		-to "$$(cat $(DEMO)/kiosk.pub)" -purpose door-main -subject employee-42 \
		-o $(DEMO)/reference.txt -qr $(DEMO)/card.png \
		$(LFW)/Abel_Pacheco/Abel_Pacheco_0001.jpg $(LFW)/Abel_Pacheco/Abel_Pacheco_0002.jpg
	@echo
	@echo "== 5. the kiosk reads the card's QR code and opens the reference"
	./bin/oneface open -key $(DEMO)/kiosk.key -issuer "$$(cat $(DEMO)/issuer.pub)" -purpose door-main $(DEMO)/card.png
	@echo
	@echo "== 6. ... and refuses it for a purpose it was not issued for (expected error)"
	! ./bin/oneface open -key $(DEMO)/kiosk.key -issuer "$$(cat $(DEMO)/issuer.pub)" -purpose vault $(DEMO)/reference.txt

bench: setup
	$(GO) test -run '^$$' -bench . -benchtime 5x ./...

fuzz: setup
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/facerec
	$(GO) test -run '^$$' -fuzz '^FuzzJPEGOrientation$$' -fuzztime $(FUZZTIME) ./internal/facerec
	for f in FuzzUnmarshalBody FuzzVerify FuzzUnseal FuzzDecodeText; do $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./internal/ref || exit 1; done
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) ./verify

clean:
	rm -rf bin .tools
