#!/usr/bin/env bash
# Installs jwkspub for the composite action (action.yml), in two phases around an actions/cache
# step, so the action, its tests and a person debugging it run the same thing:
#
#   install-jwkspub.sh download   a released binary for VERSION, checked against the release's
#                                 SHA256SUMS; or, when there is none (and INSTALL is auto), the
#                                 key and directory the build phase caches by
#   install-jwkspub.sh build      from source, unless the cache step restored the binary
#
# Inputs (environment):
#   VERSION      release tag (v1.2.3); empty: the action's own source (the commit you pinned)
#   INSTALL      auto (default): download VERSION's binary, build from source when the release
#                has none for this runner; download: the binary or fail; source: always build
#   RELEASE_URL  where releases are (default https://github.com/jwkspub/jwkspub/releases/download):
#                VERSION's assets are RELEASE_URL/VERSION/jwkspub-OS-ARCH and .../SHA256SUMS
#   ACTION_REF   the ref the action was used at (github.action_ref): a commit SHA makes a
#                source build cacheable; anything else (uses: ./) is built every time
# GitHub's variables: GITHUB_ACTION_PATH, GITHUB_ENV, GITHUB_OUTPUT, RUNNER_TEMP,
# RUNNER_TOOL_CACHE, RUNNER_OS, RUNNER_ARCH.
#
# A checksum that does not match, or a SHA256SUMS without the asset, fails the step: it never
# falls back to another way of installing.
set -euo pipefail

phase=${1:-}
VERSION=${VERSION:-}
INSTALL=${INSTALL:-auto}
RELEASE_URL=${RELEASE_URL:-https://github.com/jwkspub/jwkspub/releases/download}
OUTPUT=${GITHUB_OUTPUT:-/dev/null}
TOOLS=${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:?RUNNER_TEMP is not set}/tool-cache}

log() { echo "install-jwkspub: $*" >&2; }
die() { log "$*"; exit 1; }

case $INSTALL in
	auto | download | source) ;;
	*) log "install must be auto, download or source, got '$INSTALL'"; exit 64 ;;
esac
if [ "$INSTALL" = download ] && [ -z "$VERSION" ]; then
	log "install: download needs a version (the release to download, v1.2.3)"
	exit 64
fi

case ${RUNNER_OS:-$(uname -s)} in
	Linux | linux) os=linux ;;
	macOS | Darwin) os=darwin ;;
	*) os=other ;; # no released binary: built from source
esac
case ${RUNNER_ARCH:-$(uname -m)} in
	X64 | x86_64 | amd64) arch=amd64 ;;
	ARM64 | aarch64 | arm64) arch=arm64 ;;
	*) arch=other ;;
esac
asset=jwkspub-$os-$arch

sha256() {
	if command -v sha256sum > /dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1
}

# use BIN: checks that BIN runs (and, for a release, is that release), then makes it the one
# the rotate step runs.
use() {
	local bin=$1 v
	v=$("$bin" --version) || die "$bin does not run on this runner ($os/$arch)"
	if [ -n "$VERSION" ] && [[ $v != "jwkspub version $VERSION "* ]]; then
		die "$bin says '$v', want jwkspub $VERSION"
	fi
	log "$v: $bin"
	echo "JWKSPUB=$bin" >> "${GITHUB_ENV:-/dev/null}"
	echo "installed=true" >> "$OUTPUT"
}

# download: VERSION's binary for this runner into the tool cache, checked against SHA256SUMS.
# Returns 1 when the release has no such asset (or cannot be reached); dies on a bad checksum.
download() {
	local tmp want got
	if [ -x "$dir/jwkspub" ] && [ -f "$dir.complete" ]; then
		log "$VERSION from the runner's tool cache"
		use "$dir/jwkspub"
		return 0
	fi
	tmp=$(mktemp -d "${RUNNER_TEMP:-/tmp}/jwkspub-download.XXXXXX")
	local base=${RELEASE_URL%/}/$VERSION
	log "downloading $base/$asset"
	if ! curl -fsSL --retry 3 --max-time 300 -o "$tmp/SHA256SUMS" "$base/SHA256SUMS" ||
		! curl -fsSL --retry 3 --max-time 300 -o "$tmp/$asset" "$base/$asset"; then
		rm -rf "$tmp"
		return 1
	fi
	want=$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1 }' "$tmp/SHA256SUMS")
	[ -n "$want" ] || die "$base/SHA256SUMS has no line for $asset: refusing an unchecked binary"
	got=$(sha256 "$tmp/$asset")
	if [ "$got" != "$want" ]; then
		die "$base/$asset has SHA-256 $got, but SHA256SUMS says $want: not installed (a corrupted or replaced asset; report it, do not work around it)"
	fi
	log "SHA-256 $got matches SHA256SUMS"
	mkdir -p "$dir"
	install -m 0755 "$tmp/$asset" "$dir/jwkspub"
	rm -rf "$tmp"
	use "$dir/jwkspub"
	touch "$dir.complete"
}

# dir and key: the directory a source build goes to and the cache key it is kept under: by
# version, or by the pinned commit; no key for a local checkout, which can change between runs.
if [ -n "$VERSION" ]; then
	key=jwkspub-bin-$os-$arch-$VERSION dir=$TOOLS/jwkspub/$VERSION/$arch
elif [[ ${ACTION_REF:-} =~ ^[0-9a-f]{40}$ ]]; then
	key=jwkspub-bin-$os-$arch-src-$ACTION_REF dir=$TOOLS/jwkspub/src-$ACTION_REF/$arch
else
	key='' dir=$RUNNER_TEMP/jwkspub-bin
fi

case $phase in
download)
	if [ -n "$VERSION" ] && [ "$INSTALL" != source ]; then
		if [ "$os" != other ] && [ "$arch" != other ] && download; then
			exit 0
		fi
		[ "$INSTALL" = auto ] || die "no released binary $asset for $VERSION at $RELEASE_URL (install: download)"
		log "no released binary $asset for $VERSION at $RELEASE_URL: building from source instead"
	fi
	echo "cache-path=$dir" >> "$OUTPUT"
	echo "cache-key=$key" >> "$OUTPUT"
	;;
build)
	if [ -x "$dir/jwkspub" ] && [ -n "$key" ]; then
		log "source build of ${VERSION:-$ACTION_REF} from the cache"
		use "$dir/jwkspub"
		exit 0
	fi
	command -v go > /dev/null || die "building from source needs Go: add actions/setup-go (go-version 1.26 or later) before this action, or use a version with released binaries"
	mkdir -p "$dir"
	ldflags="-X main.version=${VERSION:-${ACTION_REF:-dev}}"
	if [ -z "$VERSION" ]; then
		(cd "${GITHUB_ACTION_PATH:?}" && CGO_ENABLED=0 go build -trimpath -tags disable_grpc_modules -ldflags "$ldflags" -o "$dir/jwkspub" ./cmd/jwkspub)
	else
		GOBIN=$dir CGO_ENABLED=0 go install -trimpath -tags disable_grpc_modules -ldflags "$ldflags" "github.com/jwkspub/jwkspub/cmd/jwkspub@$VERSION"
	fi
	use "$dir/jwkspub"
	;;
*)
	log "usage: install-jwkspub.sh download|build"
	exit 64
	;;
esac
