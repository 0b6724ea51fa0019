#!/usr/bin/env bash
# bench-build.sh: the whole-process benchmark of BENCHMARKS.md. Builds jwkspub and the bare
# standard-library loop, makes the 10,000-key corpus once (cached outside the repository),
# and measures both side by side in one run (internal/benchrun), then prints the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
CACHE=${CACHE:-$HOME/.cache/jwkspub}
CORPUS=$CACHE/bench-corpus
RUNS=${RUNS:-11}

if [ ! -f "$CORPUS/.complete" ]; then
	rm -rf "$CORPUS"
	echo "making the corpus in $CORPUS" >&2
	$GO run ./internal/benchcorpus -dir "$CORPUS"
	touch "$CORPUS/.complete"
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
# The release build: see BUILD_TAGS in the Makefile.
$GO build -trimpath -tags disable_grpc_modules -o "$bin/jwkspub" ./cmd/jwkspub
$GO build -trimpath -o "$bin/benchloop" ./internal/benchloop
$GO build -trimpath -o "$bin/benchrun" ./internal/benchrun

"$bin/benchrun" -jwkspub "$bin/jwkspub" -loop "$bin/benchloop" -dir "$CORPUS" -runs "$RUNS"
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $($GO version | cut -d' ' -f3-), $(date -u +%Y-%m-%dT%H:%MZ)"
