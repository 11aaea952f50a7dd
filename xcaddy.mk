# Build and run Caddy with the error_envelope module.
#
#   make -f xcaddy.mk run     build ./caddy (installing xcaddy if missing) and serve Caddyfile.example
#   make -f xcaddy.mk build   only build ./caddy
#   make -f xcaddy.mk test    the test command of the README
#
# CADDY_VERSION pins the Caddy release built into ./caddy; keep it equal to
# the caddy/v2 version in go.mod. The module is named with a placeholder
# version (@v0.0.0) so that xcaddy takes it from this folder and never asks
# the module proxy for an unpublished "latest".

CADDY_VERSION  ?= v2.11.9
XCADDY_VERSION ?= v0.4.5
MODULE         := github.com/errenvelope/caddy-errenvelope
GOBIN          := $(shell go env GOBIN)
ifeq ($(GOBIN),)
GOBIN          := $(shell go env GOPATH)/bin
endif
XCADDY         := $(or $(shell command -v xcaddy 2>/dev/null),$(GOBIN)/xcaddy)

.PHONY: build run test xcaddy

build: caddy

caddy: $(wildcard *.go) page.html go.mod go.sum | xcaddy
	$(XCADDY) build $(CADDY_VERSION) --output ./caddy --with $(MODULE)@v0.0.0=.

xcaddy:
	@test -x "$(XCADDY)" || go install github.com/caddyserver/xcaddy/cmd/xcaddy@$(XCADDY_VERSION)

run: caddy
	./caddy run --config Caddyfile.example --adapter caddyfile

test:
	go test -race ./...
