#!/usr/bin/env bash
# Measures nginx serving a rendered jwkspub context against the same nginx serving the same
# file with a bare configuration (the ceiling), with wrk on loopback: full responses, gzip and
# 304 revalidations, and the bytes on the wire per verifier refresh. Figures go into
# BENCHMARKS.md. Usage: .ci/bench-nginx.sh [CONFIG] (default examples/jwkspub.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-examples/jwkspub.yaml}
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-50}
ROUNDS=${BENCH_ROUNDS:-3}
NGINX=${JWKSPUB_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
WRK=${JWKSPUB_WRK:-$(command -v wrk)}
work=$(mktemp -d /tmp/jwkspub-bench-XXXXXX)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -QUIT "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
OURS=$(free_port); BARE=$(free_port)

go run ./cmd/jwkspub render --config "$CONFIG" --dir "$work/ctx" --listen "127.0.0.1:$OURS" \
	--access-log "$work/access.log" --temp-dir "$work" >/dev/null
cat > "$work/bare.conf" <<CONF
worker_processes auto;
error_log stderr warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $work/bare_body; proxy_temp_path $work/bare_proxy;
    fastcgi_temp_path $work/bare_fastcgi; uwsgi_temp_path $work/bare_uwsgi; scgi_temp_path $work/bare_scgi;
    server { listen 127.0.0.1:$BARE; root $work/ctx/html; }
}
CONF
"$NGINX" -p "$work/ctx/" -c "$work/ctx/nginx.conf" -e stderr -g "daemon off; pid $work/ours.pid;" & pids+=($!)
OURS_PID=$!
"$NGINX" -p "$work/" -c "$work/bare.conf" -e stderr -g "daemon off; pid $work/bare.pid;" & pids+=($!)
BARE_PID=$!
for p in $OURS $BARE; do
	for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$p/.well-known/jwks.json" 2>/dev/null && break; sleep 0.1; done
done

url() { echo "http://127.0.0.1:$1/.well-known/jwks.json"; }
etag() { curl -fsS -o /dev/null -D - "$@" | tr -d '\r' | awk 'tolower($1)=="etag:"{print $2}'; }
# cpu_ticks MASTER_PID: user+system clock ticks of nginx's workers so far.
cpu_ticks() {
	local t=0 p f
	for p in $(pgrep -P "$1"); do
		read -r -a f < "/proc/$p/stat"
		t=$((t + f[13] + f[14]))
	done
	echo "$t"
}
# measure PORT MASTER_PID [wrk header args]: "best-req/s median-cpu-us-per-request" over
# $ROUNDS runs. On a shared machine requests/s swings with the neighbours' load; the CPU
# nginx's workers spend per request is the steadier figure.
measure() {
	local port=$1 master=$2 best=0 out n r c0 c1 cpus=(); shift 2
	local hz; hz=$(getconf CLK_TCK)
	for _ in $(seq "$ROUNDS"); do
		c0=$(cpu_ticks "$master")
		out=$("$WRK" -t2 -c"$CONNS" -d"$DURATION" "$@" "$(url "$port")")
		c1=$(cpu_ticks "$master")
		n=$(awk '/requests in/{print $1}' <<<"$out")
		r=$(awk '/Requests\/sec/{print int($2)}' <<<"$out")
		[ "$r" -gt "$best" ] && best=$r
		cpus+=($(( (c1 - c0) * 1000000 * 100 / hz / n )))  # hundredths of a microsecond
	done
	local med; med=$(printf '%s\n' "${cpus[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p")
	echo "$best $med"
}
wire() { curl -fsS -o /dev/null -w '%{size_header} %{size_download} %{http_code}' "$@"; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
e_ours=$(etag "$(url "$OURS")"); e_bare=$(etag "$(url "$BARE")")
gz_ours=$(etag -H 'Accept-Encoding: gzip' "$(url "$OURS")")
us() { printf '%d.%02d' $(($1 / 100)) $(($1 % 100)); }
printf '| case | bare: req/s (best) | ours: req/s (best) | ratio | bare: CPU µs/req | ours: CPU µs/req | ratio (bare/ours) |\n|---|---|---|---|---|---|---|\n'
row() {
	local name=$1 b bc o oc; shift
	read -r b bc <<<"$(measure "$BARE" "$BARE_PID" "${@:1:2}")"
	read -r o oc <<<"$(measure "$OURS" "$OURS_PID" "${@:3:2}")"
	printf '| %s | %d | %d | %d%% | %s | %s | %d%% |\n' "$name" "$b" "$o" $((100 * o / b)) "$(us "$bc")" "$(us "$oc")" $((100 * bc / oc))
}
row "200, full document" -H "X-Bench: full" -H "X-Bench: full"
row "304, If-None-Match" -H "If-None-Match: $e_bare" -H "If-None-Match: $e_ours"
echo
read -r g gc <<<"$(measure "$OURS" "$OURS_PID" -H 'Accept-Encoding: gzip')"
echo "gzip 200 (ours only; the bare configuration serves no .gz): $g req/s, $(us "$gc") CPU µs/req"
echo
printf '| response (jwkspub config) | header bytes | body bytes | status |\n|---|---|---|---|\n'
read -r h b s <<<"$(wire "$(url "$OURS")")"; printf '| full, identity | %s | %s | %s |\n' "$h" "$b" "$s"
read -r h b s <<<"$(wire -H 'Accept-Encoding: gzip' "$(url "$OURS")")"; printf '| full, gzip | %s | %s | %s |\n' "$h" "$b" "$s"
read -r h b s <<<"$(wire -H "If-None-Match: $e_ours" "$(url "$OURS")")"; printf '| revalidation, unchanged | %s | %s | %s |\n' "$h" "$b" "$s"
read -r h b s <<<"$(wire -H 'Accept-Encoding: gzip' -H "If-None-Match: $gz_ours" "$(url "$OURS")")"; printf '| revalidation, unchanged, gzip | %s | %s | %s |\n' "$h" "$b" "$s"
echo
echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "document: $(wc -c < "$work/ctx/html/.well-known/jwks.json") bytes, gzip $(wc -c < "$work/ctx/html/.well-known/jwks.json.gz") bytes; wrk -t2 -c$CONNS -d$DURATION, best of $ROUNDS; $(nproc) cores; $("$NGINX" -v 2>&1)"
