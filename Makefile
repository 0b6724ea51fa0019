# make test is the one test command: CI (.ci/run) and developers run exactly this.
GO        ?= go
CACHE     ?= $(HOME)/.cache/jwkspub
# A count, not a duration: Go 1.26's fuzz coordinator can report "context deadline exceeded"
# at a -fuzztime deadline on a loaded machine (go.dev/issue/75804, fixed in Go 1.27); a count
# has no deadline to race, and real findings still fail the run.
FUZZTIME  ?= 10000x
# Fuzz targets run briefly on every test run: package:FuzzName.
FUZZ_TARGETS = ./sources:FuzzParsePEM ./sources:FuzzParseJWK ./sources:FuzzParseEnvValue ./publish/config:FuzzParseConfig ./publish/target/oci:FuzzParseDockerfile ./publish/rotation:FuzzParseState ./publish/jwks:FuzzParseLive ./templates:FuzzRender
FUZZ_TARGETS += ./sources/vault:FuzzParseKVSpec ./sources:FuzzParseJWKStream
FUZZ_TARGETS += ./publish/report:FuzzWriteMetrics
FUZZ_TARGETS += ./publish/jwks:FuzzCheckPublicOnly ./publish/jwks:FuzzVerify
FUZZ_TARGETS += ./publish/target/blob:FuzzUnescapeMetadata ./sources:FuzzParse
FUZZ_TARGETS += ./publish/rotation:FuzzCacheControl
# Release builds leave out the Cloud Storage client's gRPC transport (xDS, Envoy protos): gs://
# targets use its JSON API, and the gRPC modules cost 19 MB of binary and 12 MB of resident
# memory at start-up (cloud.google.com/go/storage documents this tag).
BUILD_TAGS = disable_grpc_modules
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS = -X main.version=$(VERSION) \
          -X main.commit=$(shell git rev-parse --short HEAD 2>/dev/null || echo none) \
          -X main.date=$(shell git log -1 --format=%cI 2>/dev/null || echo unknown)

.PHONY: all build test check unit fuzz integration lint staticcheck vulncheck actionlint release-check goreleaser-check goreleaser-release dist bench clean timeline-png

all: build

build:
	$(GO) build -trimpath -tags $(BUILD_TAGS) -ldflags "$(LDFLAGS)" -o jwkspub ./cmd/jwkspub

## test: formatting and vet, unit and script tests with -race, brief fuzzing, then the
## integration suite against real services (installed and started by .ci/services.sh).
test: check unit fuzz integration

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

unit:
	$(GO) test -race -count=1 ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# SERVICES_ENV: where .ci/services.sh writes the services' addresses (JWKSPUB_SERVICES_ENV).
SERVICES_ENV ?= $(CACHE)/services.env

integration:
	JWKSPUB_SERVICES_ENV=$(SERVICES_ENV) .ci/services.sh start
	. $(SERVICES_ENV) && GOFLAGS=-tags=$(BUILD_TAGS) $(GO) test -race -count=1 -timeout 45m -tags 'integration $(BUILD_TAGS)' ./internal/integration/...

# The README's picture: status's HTML page of the three-key rotation, screenshot by headless
# Chromium in the browser test (.ci/services.sh installs Debian's chromium).
timeline-png:
	JWKSPUB_CHROMIUM=$${JWKSPUB_CHROMIUM:-$$(command -v chromium)} JWKSPUB_TIMELINE_PNG=$(CURDIR)/docs/timeline.png \
		$(GO) test -count=1 -tags 'integration $(BUILD_TAGS)' -run 'TestBrowserStatusPage$$' ./internal/integration/

# Linters run from the Go module proxy at pinned versions, so CI and a laptop run the same ones.
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK = golang.org/x/vuln/cmd/govulncheck@v1.9.0
ACTIONLINT  = github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
# GoReleaser v2.16.0: v2.18 needs Go 1.27, and one of v2.17.0's dependencies is refused by the proxy.
GORELEASER  = github.com/goreleaser/goreleaser/v2@v2.16.0
# Release targets (as in .goreleaser.yaml): static binaries, GOOS/GOARCH.
RELEASE_TARGETS = linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

## lint: the static checks CI runs.
lint: check staticcheck vulncheck actionlint

staticcheck:
	$(GO) run $(STATICCHECK) -tags integration ./...

vulncheck:
	$(GO) run $(GOVULNCHECK) ./...

## actionlint: every workflow; action.yml is checked through the workflows that `uses: ./` it.
actionlint:
	$(GO) run $(ACTIONLINT) -no-color

## goreleaser-check: .goreleaser.yaml is valid for the pinned GoReleaser (a slow first build).
goreleaser-check:
	$(GO) run $(GORELEASER) check

## goreleaser-release: the archives and the tool image of a tag (the release workflow runs it).
goreleaser-release:
	$(GO) run $(GORELEASER) release --clean

## release-check: every release target builds as a static binary (what GoReleaser builds).
release-check:
	@set -e; d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; for t in $(RELEASE_TARGETS); do \
		echo "build $$t"; \
		CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build -trimpath -tags $(BUILD_TAGS) -ldflags "-s -w $(LDFLAGS)" -o "$$d/jwkspub-$${t%/*}-$${t#*/}" ./cmd/jwkspub; \
	done

## dist: the release assets, as .github/workflows/release.yml uploads them: a static binary
## per DIST_TARGETS entry, named jwkspub-OS-ARCH (the action downloads it by that name), and
## SHA256SUMS in sha256sum's format ("HEX  NAME", checked with `sha256sum -c --ignore-missing`).
## VERSION=v1.2.3 names the release in `jwkspub --version` (default: git describe).
DIST ?= dist
DIST_TARGETS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
dist:
	rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for t in $(DIST_TARGETS); do \
		echo "build $$t"; \
		CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build -trimpath -tags $(BUILD_TAGS) -ldflags "-s -w $(LDFLAGS)" -o "$(DIST)/jwkspub-$${t%/*}-$${t#*/}" ./cmd/jwkspub; \
	done
	cd $(DIST) && sha256sum jwkspub-* > SHA256SUMS
	cat $(DIST)/SHA256SUMS

## bench: benchmarks; figures go into BENCHMARKS.md with the machine and date.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	.ci/bench-build.sh
	.ci/bench-input.sh
	.ci/bench-nginx.sh

clean:
	rm -f jwkspub
	rm -rf $(DIST)
