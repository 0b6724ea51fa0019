#!/usr/bin/env bash
# Installs (once, cached in $CACHE) and starts the real services the integration suite talks to,
# on loopback, and writes their addresses to $CACHE/services.env for `make integration`.
# Usage: .ci/services.sh start | stop
set -euo pipefail
CACHE=${JWKSPUB_CACHE:-$HOME/.cache/jwkspub}
mkdir -p "$CACHE/bin" "$CACHE/run"
export PATH="$CACHE/bin:$PATH"
ENVFILE=$CACHE/services.env

log() { echo "services: $*" >&2; }

# wait_http URL SECONDS: bounded readiness loop.
wait_http() {
	local url=$1 n=${2:-60}
	for _ in $(seq "$n"); do
		curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
		sleep 1
	done
	log "not ready after ${n}s: $url"; return 1
}

start() {
	: > "$ENVFILE"
	# Each service section appends export lines to $ENVFILE. Sections are added by the
	# integration tests that need them.
	echo "export JWKSPUB_IT=1" >> "$ENVFILE"
}

stop() {
	for p in "$CACHE"/run/*.pid; do
		[ -f "$p" ] || continue
		kill "$(cat "$p")" 2>/dev/null || true
		rm -f "$p"
	done
}

case "${1:-start}" in
	start) start ;;
	stop) stop ;;
	*) echo "usage: $0 start|stop" >&2; exit 64 ;;
esac
