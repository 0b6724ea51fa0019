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

# OCI registry (CNCF distribution, Debian's docker-registry) on loopback, without auth, storing
# under $CACHE/run/registry-data. The oci:// tests push their own base image to it: nothing is
# pulled from outside. Reused when the recorded process is alive and answers /v2/.
REGISTRY_PORT=${JWKSPUB_REGISTRY_PORT:-5000}
start_registry() {
	local pidf=$CACHE/run/registry.pid addr=127.0.0.1:$REGISTRY_PORT sudo=
	if ! command -v docker-registry >/dev/null; then
		[ "$(id -u)" -eq 0 ] || sudo=sudo
		log "apt-get install docker-registry"
		$sudo apt-get install -y -q docker-registry >/dev/null ||
			{ $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q docker-registry >/dev/null; }
	fi
	if ! { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null && curl -fsS -o /dev/null "http://$addr/v2/"; }; then
		[ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null || true
		mkdir -p "$CACHE/run/registry-data"
		cat > "$CACHE/run/registry.yml" <<-EOF
		version: 0.1
		log: {level: warn}
		storage:
		  filesystem: {rootdirectory: $CACHE/run/registry-data}
		  delete: {enabled: true}
		http:
		  addr: $addr
		EOF
		log "starting docker-registry on $addr"
		nohup docker-registry serve "$CACHE/run/registry.yml" > "$CACHE/run/registry.log" 2>&1 &
		echo $! > "$pidf"
		# /v2/ answers 200 once the registry serves the API (no auth configured).
		wait_http "http://$addr/v2/" 30
	fi
	# The binary too: the credential tests start their own registry with htpasswd auth.
	{
		echo "export JWKSPUB_IT_REGISTRY=$addr"
		echo "export JWKSPUB_IT_REGISTRY_BIN=$(command -v docker-registry)"
	} >> "$ENVFILE"
}

# alive PIDFILE: the process recorded in PIDFILE is running.
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Vault dev server (in memory, root token "root"): built once by install-vault.sh, or the
# `vault` already on PATH. Reused when the recorded process is alive and answers.
VAULT_PORT=${JWKSPUB_VAULT_PORT:-18200}
start_vault() {
	local pid=$CACHE/run/vault.pid addr=http://127.0.0.1:$VAULT_PORT
	"$(dirname "$0")/install-vault.sh" >&2
	if ! alive "$pid" || ! curl -fsS -o /dev/null "$addr/v1/sys/health"; then
		[ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
		log "starting vault dev server on $addr"
		nohup vault server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$VAULT_PORT" \
			> "$CACHE/run/vault.log" 2>&1 &
		echo $! > "$pid"
		# /sys/health answers 200 once the dev server is initialised and unsealed.
		wait_http "$addr/v1/sys/health" 60
	fi
	{
		echo "export JWKSPUB_IT_VAULT_ADDR=$addr"
		echo "export JWKSPUB_IT_VAULT_TOKEN=root"
		echo "export JWKSPUB_IT_VAULT_BIN=$(command -v vault)"
	} >> "$ENVFILE"
}

# apt_install PKG...: installs the Debian packages that are missing (with sudo when not root).
apt_install() {
	local missing=() p sudo=
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	log "apt-get install ${missing[*]}"
	$sudo apt-get install -y -q "${missing[@]}" >/dev/null ||
		{ $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; }
}

# nginx and the real verifiers (node jose, PyJWT, Go jwx from go.mod). The nginx tests start
# their own nginx for each rendered context, so this section only installs. PyJWT runs under
# /usr/bin/python3: the first python3 on PATH may be another interpreter without Debian's
# packages. The Debian package may start a system nginx on port 80; the tests never use it.
JOSE_VERSION=6.2.18
nginx_verifiers() {
	apt_install nginx python3-jwt python3-cryptography wrk
	command -v node >/dev/null || apt_install nodejs npm
	local node_dir=$CACHE/jose # its own directory: other sections keep their npm trees
	if ! grep -qs "\"version\": \"$JOSE_VERSION\"" "$node_dir/node_modules/jose/package.json"; then
		log "npm install jose@$JOSE_VERSION into $node_dir"
		mkdir -p "$node_dir"
		(cd "$node_dir" && npm install --no-audit --no-fund --silent --prefix "$node_dir" "jose@$JOSE_VERSION" >/dev/null)
	fi
	local nginx_bin
	nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
	{
		echo "export JWKSPUB_NGINX=$nginx_bin"
		echo "export JWKSPUB_PYTHON=/usr/bin/python3"
		echo "export JWKSPUB_NODE_MODULES=$node_dir/node_modules"
		echo "export JWKSPUB_WRK=$(command -v wrk)"
	} >> "$ENVFILE"
}

start() {
	: > "$ENVFILE"
	# Each service section appends export lines to $ENVFILE. Sections are added by the
	# integration tests that need them.
	echo "export JWKSPUB_IT=1" >> "$ENVFILE"
	start_registry
	start_vault
	nginx_verifiers
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
