#!/usr/bin/env bash
# Installs (once, cached in $CACHE) and starts the real services the integration suite talks to,
# on loopback, and writes their addresses to $CACHE/services.env for `make integration`.
# Usage: .ci/services.sh start | stop
#
# Starting is idempotent: a service whose pid file names a live process that answers its
# readiness check is reused, so a developer's second `make integration` does not restart it.
set -euo pipefail
CACHE=${JWKSPUB_CACHE:-$HOME/.cache/jwkspub}
mkdir -p "$CACHE/bin" "$CACHE/run"
export PATH="$CACHE/bin:$PATH"
# JWKSPUB_SERVICES_ENV lets parallel checkouts keep their own env file.
ENVFILE=${JWKSPUB_SERVICES_ENV:-$CACHE/services.env}

# Pinned versions: the ones the integration suite was last run against. Bump deliberately.
# MinIO publishes no semver module tags, so the pin is its pseudo-version (RELEASE of 2026-02-12).
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
FAKE_GCS_VERSION=v1.56.1
AZURITE_VERSION=3.37.0
# local-kms publishes no tags either: its pseudo-version of 2026-02-28.
LOCAL_KMS_VERSION=v0.0.0-20260228092603-2a5e92d09ab6

# Loopback ports, fixed so the cached env file stays valid while the services run.
MINIO_PORT=${JWKSPUB_MINIO_PORT:-9000}
FAKE_GCS_PORT=${JWKSPUB_FAKE_GCS_PORT:-4443}
AZURITE_PORT=${JWKSPUB_AZURITE_PORT:-10000}
LOCAL_KMS_PORT=${JWKSPUB_LOCAL_KMS_PORT:-18300}


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

# Headless Chromium and the mermaid library for the browser tests of status's HTML page and of
# the step summary's Mermaid chart (internal/integration/browser_test.go). Mermaid goes into its
# own npm tree, as jose does; the tests load its browser bundle from disk.
MERMAID_VERSION=12.3.0
browser() {
	apt_install chromium fonts-dejavu-core
	local dir=$CACHE/mermaid
	if ! grep -qs "\"version\": \"$MERMAID_VERSION\"" "$dir/node_modules/mermaid/package.json"; then
		log "npm install mermaid@$MERMAID_VERSION into $dir"
		mkdir -p "$dir"
		(cd "$dir" && npm install --no-audit --no-fund --silent --prefix "$dir" "mermaid@$MERMAID_VERSION" >/dev/null)
	fi
	{
		echo "export JWKSPUB_CHROMIUM=$(command -v chromium || echo /usr/bin/chromium)"
		echo "export JWKSPUB_MERMAID_JS=$dir/node_modules/mermaid/dist/mermaid.min.js"
	} >> "$ENVFILE"
}

# bin_version BIN: the main module version `go version -m` records in a Go binary.
bin_version() {
	go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

# go_tool NAME MODULE VERSION: installs MODULE@VERSION into $CACHE/bin unless that version is
# already there.
go_tool() {
	local name=$1 mod=$2 ver=$3
	if [ -x "$CACHE/bin/$name" ] && [ "$(bin_version "$CACHE/bin/$name")" = "$ver" ]; then
		return 0
	fi
	log "installing $mod@$ver (minutes, once)"
	GOBIN=$CACHE/bin go install "$mod@$ver"
}

start_minio() {
	go_tool minio github.com/minio/minio "$MINIO_VERSION"
	local url=http://127.0.0.1:$MINIO_PORT
	if ! alive "$CACHE/run/minio.pid"; then
		mkdir -p "$CACHE/run/minio-data"
		MINIO_ROOT_USER=minioadmin MINIO_ROOT_PASSWORD=minioadmin MINIO_BROWSER=off \
			nohup minio server --quiet --address "127.0.0.1:$MINIO_PORT" \
			--console-address "127.0.0.1:$((MINIO_PORT + 1))" "$CACHE/run/minio-data" \
			>"$CACHE/run/minio.log" 2>&1 &
		echo $! >"$CACHE/run/minio.pid"
	fi
	wait_http "$url/minio/health/live" 60
	# The well-known local credentials of this throwaway server, not secrets. The suite passes
	# them to the AWS SDK through its standard environment chain.
	cat >>"$ENVFILE" <<-EOF
	export JWKSPUB_IT_S3_ENDPOINT=$url
	export AWS_ACCESS_KEY_ID=minioadmin
	export AWS_SECRET_ACCESS_KEY=minioadmin
	export AWS_REGION=us-east-1
	EOF
}

start_fake_gcs() {
	go_tool fake-gcs-server github.com/fsouza/fake-gcs-server "$FAKE_GCS_VERSION"
	if ! alive "$CACHE/run/fake-gcs.pid"; then
		nohup fake-gcs-server -scheme http -host 127.0.0.1 -port "$FAKE_GCS_PORT" \
			-public-host "127.0.0.1:$FAKE_GCS_PORT" -external-url "http://127.0.0.1:$FAKE_GCS_PORT" \
			-backend memory -log-level error >"$CACHE/run/fake-gcs.log" 2>&1 &
		echo $! >"$CACHE/run/fake-gcs.pid"
	fi
	wait_http "http://127.0.0.1:$FAKE_GCS_PORT/storage/v1/b" 60
	# STORAGE_EMULATOR_HOST is the Go storage client's own switch to the emulator.
	cat >>"$ENVFILE" <<-EOF
	export STORAGE_EMULATOR_HOST=127.0.0.1:$FAKE_GCS_PORT
	EOF
}

start_azurite() {
	local dir=$CACHE/node
	if [ "$(cat "$dir/azurite.version" 2>/dev/null)" != "$AZURITE_VERSION" ]; then
		log "installing azurite@$AZURITE_VERSION"
		mkdir -p "$dir"
		npm install --no-audit --no-fund --prefix "$dir" "azurite@$AZURITE_VERSION" >&2
		echo "$AZURITE_VERSION" >"$dir/azurite.version"
	fi
	if ! alive "$CACHE/run/azurite.pid"; then
		mkdir -p "$CACHE/run/azurite-data"
		nohup "$dir/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$AZURITE_PORT" \
			--location "$CACHE/run/azurite-data" --skipApiVersionCheck --silent --loose \
			>"$CACHE/run/azurite.log" 2>&1 &
		echo $! >"$CACHE/run/azurite.pid"
	fi
	# Azurite answers an unauthenticated request with an error status; any HTTP answer means ready.
	local n=60
	until curl -sS -o /dev/null "http://127.0.0.1:$AZURITE_PORT/devstoreaccount1?comp=list" 2>/dev/null; do
		n=$((n - 1)); [ "$n" -gt 0 ] || { log "azurite not ready"; return 1; }
		sleep 1
	done
	# Azurite's published development account key (documented by Microsoft, not a secret).
	local key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
	cat >>"$ENVFILE" <<-EOF
	export AZURE_STORAGE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$AZURITE_PORT/devstoreaccount1;'
	EOF
}

# local-kms, an AWS KMS emulator (in its own leveldb under $CACHE/run/local-kms-data). It listens
# on every interface (it has no host option); the suite reaches it on loopback. Its answers are
# signed with any credentials: the suite passes the dummy ones MinIO's section exports. Reused
# when the recorded process is alive and answers (any HTTP answer: it has no health route).
start_local_kms() {
	go_tool local-kms github.com/nsmithuk/local-kms "$LOCAL_KMS_VERSION"
	local url=http://127.0.0.1:$LOCAL_KMS_PORT
	if ! alive "$CACHE/run/local-kms.pid"; then
		mkdir -p "$CACHE/run/local-kms-data"
		KMS_ACCOUNT_ID=111122223333 KMS_REGION=us-east-1 KMS_DATA_PATH="$CACHE/run/local-kms-data" \
			KMS_SEED_PATH=/nonexistent PORT="$LOCAL_KMS_PORT" \
			nohup local-kms >"$CACHE/run/local-kms.log" 2>&1 &
		echo $! >"$CACHE/run/local-kms.pid"
	fi
	local n=60
	until curl -sS -o /dev/null "$url/" 2>/dev/null; do
		n=$((n - 1)); [ "$n" -gt 0 ] || { log "local-kms not ready"; return 1; }
		sleep 1
	done
	cat >>"$ENVFILE" <<-EOF
	export JWKSPUB_IT_KMS_ENDPOINT=$url
	export JWKSPUB_IT_KMS_REGION=us-east-1
	EOF
}

start() {
	: > "$ENVFILE"
	# Each service section appends export lines to $ENVFILE. Sections are added by the
	# integration tests that need them.
	echo "export JWKSPUB_IT=1" >> "$ENVFILE"
	start_registry
	start_vault
	nginx_verifiers
	browser
	start_minio
	start_fake_gcs
	start_azurite
	start_local_kms
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
