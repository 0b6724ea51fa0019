#!/usr/bin/env bash
# bench-input.sh: the input-bounds benchmark of BENCHMARKS.md. Makes three JWK Sets of about
# 61 MB each once (internal/benchinput, cached outside the repository), then runs
# `jwkspub build` on each and on all three as the sources of one set, and prints per case the
# exit code, peak RSS (GNU time's maximum resident set size) and how much it wrote to stderr.
# JWKSPUB=path measures another binary (an older build, for a before/after comparison).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
CACHE=${CACHE:-$HOME/.cache/jwkspub}
INPUT=$CACHE/bench-input
if [ ! -f "$INPUT/.complete" ]; then
	rm -rf "$INPUT"
	echo "making the inputs in $INPUT" >&2
	$GO run ./internal/benchinput -dir "$INPUT"
	touch "$INPUT/.complete"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=${JWKSPUB:-}
if [ -z "$bin" ]; then
	bin=$work/jwkspub
	# The release build: see BUILD_TAGS in the Makefile.
	$GO build -trimpath -tags disable_grpc_modules -o "$bin" ./cmd/jwkspub
fi

run() { # name, then jwkspub's arguments
	local name=$1
	shift
	local size=0 a
	for a in "$@"; do
		case $a in file:*) size=$((size + $(stat -c %s "${a#file:}"))) ;; esac
	done
	set +e
	/usr/bin/time -f '%M %e' -o "$work/time" "$bin" build "$@" -o "$work/out.json" >/dev/null 2>"$work/stderr"
	local code=$?
	set -e
	read -r rss wall < <(tail -n 1 "$work/time") # GNU time first notes a non-zero exit
	printf '| %s | %d MB | %d | %d MB | %d bytes, %d lines | %s s |\n' "$name" $((size / 1000000)) "$code" \
		$((rss / 1024)) "$(stat -c %s "$work/stderr")" "$(wc -l <"$work/stderr")" "$wall"
}

echo '| case | input | exit | peak RSS | stderr | wall |'
echo '|---|---|---|---|---|---|'
run 'one RSA-2048 key under 156,696 kids' --source "file:$INPUT/rsa-dup.json"
run '636,575 distinct Ed25519 keys' --source "file:$INPUT/okp-many.json"
run '3,269,006 elements without kty' --source "file:$INPUT/broken.json"
run 'the three in one set' --source "file:$INPUT/rsa-dup.json" --source "file:$INPUT/okp-many.json" --source "file:$INPUT/broken.json"
if "$bin" build --help | grep -q max-input-bytes; then
	run 'the three in one set, --max-input-bytes 256MiB' --max-input-bytes 256MiB --source "file:$INPUT/rsa-dup.json" --source "file:$INPUT/okp-many.json" --source "file:$INPUT/broken.json"
fi
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $($GO version | cut -d' ' -f3-), $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
