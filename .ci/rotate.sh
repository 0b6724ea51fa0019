#!/usr/bin/env bash
# The rotation job's steps, in one script so the GitHub Actions workflow (.github/workflows/
# rotate.yml, through the root action.yml) and the tests run exactly the same thing:
#
#   cloud login (OIDC) -> diff into the step summary -> publish -> verify --expect until the
#   URL serves it (bounded) -> status into the step summary -> outputs.
#
# A refused plan (diff or publish), a failed publish and a drifted URL still end with status in
# the step summary and the outputs written; a refusal adds the guard's reasons to the summary.
#
# Outputs (GITHUB_OUTPUT):
#   changed    true when something was written (publish), or would be (diff, and not refused)
#   refused    true when the rotation guard refused the plan (nothing was written)
#   kids       JSON array of the kids in each set after the planned change
#   plan       the plan as JSON (jwkspub diff --format json)
#   sign-with  JSON array, one entry per set and target: {set, target, kid, source, version},
#              the key to sign with now (kid null when none is safe yet)
#
# Vault login is jwkspub's own (--vault-auth github-actions: it requests the job's OIDC token
# and logs in to a JWT auth role); this script only sets the variables. No stored secret is used.
#
# Inputs (environment):
#   ROTATE_MODE            diff (default) or publish
#   ROTATE_CONFIG          configuration file (default jwkspub.yaml)
#   ROTATE_SETS            set names, space or comma separated (default: every set)
#   ROTATE_VERIFY_URLS     after publish: public URLs to check with verify --expect (space
#                          separated; one set per URL, so with several sets write SET=URL)
#   ROTATE_VERIFY_WAIT     how long verify waits for the URL (a CDN) to serve it (default 10m)
#   ROTATE_VAULT_ROLE      Vault JWT auth role; set to log in with the job's OIDC token
#   ROTATE_VAULT_AUDIENCE  audience of that token, in the role's bound_audiences (default:
#                          GitHub's, https://github.com/OWNER)
#   ROTATE_VAULT_AUTH_MOUNT  Vault JWT auth mount the role is in (default jwt)
#   ROTATE_VAULT_MOUNT     deprecated name of ROTATE_VAULT_AUTH_MOUNT (it never named the Transit mount)
#   ROTATE_AWS_ROLE_ARN    AWS: role to assume with the job's OIDC token (audience sts.amazonaws.com)
#   ROTATE_GCP_WORKLOAD_IDENTITY_PROVIDER  GCP: projects/N/locations/global/workloadIdentityPools/P/providers/X
#   ROTATE_GCP_SERVICE_ACCOUNT             GCP: service account to impersonate (optional)
#   ROTATE_AZURE_CLIENT_ID, ROTATE_AZURE_TENANT_ID  Azure: app with a federated credential
#   ROTATE_METRICS_FILE    Prometheus textfile to write (optional)
#   JWKSPUB                the jwkspub binary (default: jwkspub on PATH)
# GitHub's variables, emulated in tests: GITHUB_STEP_SUMMARY, GITHUB_OUTPUT,
# ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN, RUNNER_TEMP, GITHUB_ACTIONS.
#
# Exit code: jwkspub's (3 refused by the guard, 4 partial, 2 a URL still drifted after the wait,
# 1 error); 0 when done.
set -euo pipefail

MODE=${ROTATE_MODE:-diff}
CONFIG=${ROTATE_CONFIG:-jwkspub.yaml}
JWKSPUB=${JWKSPUB:-jwkspub}
SUMMARY=${GITHUB_STEP_SUMMARY:-/dev/null}
OUTPUT=${GITHUB_OUTPUT:-/dev/null}

log() { echo "rotate: $*" >&2; }
die() { log "$*"; exit 1; }

case $MODE in
	diff | publish) ;;
	*) echo "rotate: mode must be diff or publish, got '$MODE'" >&2; exit 64 ;;
esac
command -v jq > /dev/null || die "jq is needed (GitHub's runners have it; apt-get install jq)"

# Private scratch space: OIDC token files live here and are removed on exit.
WORK=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/jwkspub-rotate.XXXXXX")
chmod 700 "$WORK"
trap 'rm -rf "$WORK"' EXIT

SETS=${ROTATE_SETS:-}
SETS=${SETS//,/ }
args=(--config "$CONFIG")
for s in $SETS; do args+=(--set "$s"); done

# mask VALUE: keep VALUE out of GitHub's logs should anything ever print it.
mask() {
	if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::add-mask::$1"; fi
}

# oidc_token AUDIENCE FILE: writes the job's OIDC token for AUDIENCE to FILE (mode 600). The
# request token goes in a header file, never on a command line other users could read.
oidc_token() {
	local aud=$1 out=$2 hdr=$WORK/oidc-header
	if [ -z "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ] || [ -z "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:-}" ]; then
		die "no OIDC token endpoint: give the job 'permissions: id-token: write'"
	fi
	(umask 077 && printf 'Authorization: bearer %s\n' "$ACTIONS_ID_TOKEN_REQUEST_TOKEN" > "$hdr")
	local enc resp
	enc=$(jq -rn --arg a "$aud" '$a|@uri')
	resp=$(curl -sS --fail-with-body --max-time 30 --retry 3 -H "@$hdr" \
		"$ACTIONS_ID_TOKEN_REQUEST_URL&audience=$enc") || die "OIDC token request for audience $aud failed: $resp"
	rm -f "$hdr"
	(umask 077 && jq -j '.value // empty' <<< "$resp" > "$out")
	[ -s "$out" ] || die "OIDC token endpoint gave no token for audience $aud"
	mask "$(cat "$out")"
}

# The auth mount has two names; the old one, vault-mount, read as if it were the Transit mount.
VAULT_AUTH_MOUNT=${ROTATE_VAULT_AUTH_MOUNT:-}
if [ -n "${ROTATE_VAULT_MOUNT:-}" ]; then
	if [ -n "$VAULT_AUTH_MOUNT" ] && [ "$VAULT_AUTH_MOUNT" != "$ROTATE_VAULT_MOUNT" ]; then
		echo "rotate: vault-auth-mount '$VAULT_AUTH_MOUNT' and its deprecated name vault-mount '$ROTATE_VAULT_MOUNT' disagree: set vault-auth-mount only" >&2
		exit 64
	fi
	VAULT_AUTH_MOUNT=$ROTATE_VAULT_MOUNT
	msg="vault-mount is deprecated: it is the Vault auth mount (vault-auth-mount), not the Transit mount; rename the input"
	if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::warning::$msg"; else log "$msg"; fi
fi
VAULT_AUTH_MOUNT=${VAULT_AUTH_MOUNT:-jwt}

# Vault: jwkspub logs in itself with the job's token (one login per command).
if [ -n "${ROTATE_VAULT_ROLE:-}" ]; then
	export JWKSPUB_VAULT_AUTH=github-actions
	export JWKSPUB_VAULT_ROLE=$ROTATE_VAULT_ROLE
	# Empty: GitHub's default audience, https://github.com/OWNER.
	if [ -n "${ROTATE_VAULT_AUDIENCE:-}" ]; then export JWKSPUB_VAULT_AUDIENCE=$ROTATE_VAULT_AUDIENCE; fi
	export JWKSPUB_VAULT_AUTH_MOUNT=$VAULT_AUTH_MOUNT
fi

# AWS: the SDK assumes the role itself from a web identity token file
# (sts:AssumeRoleWithWebIdentity); the role's trust policy pins the token's sub.
if [ -n "${ROTATE_AWS_ROLE_ARN:-}" ]; then
	oidc_token sts.amazonaws.com "$WORK/aws-token"
	export AWS_ROLE_ARN=$ROTATE_AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE=$WORK/aws-token
	export AWS_ROLE_SESSION_NAME=jwkspub-${GITHUB_RUN_ID:-local}
	log "AWS: assuming $AWS_ROLE_ARN with the job's OIDC token"
fi

# GCP: workload identity federation through an external_account credential file, which the
# Google client libraries exchange at sts.googleapis.com for a federated (or impersonated) token.
if [ -n "${ROTATE_GCP_WORKLOAD_IDENTITY_PROVIDER:-}" ]; then
	p=$ROTATE_GCP_WORKLOAD_IDENTITY_PROVIDER
	oidc_token "https://iam.googleapis.com/$p" "$WORK/gcp-token"
	(umask 077 && jq -n --arg aud "//iam.googleapis.com/$p" --arg file "$WORK/gcp-token" --arg sa "${ROTATE_GCP_SERVICE_ACCOUNT:-}" '{
		type: "external_account", audience: $aud,
		subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
		token_url: "https://sts.googleapis.com/v1/token",
		credential_source: {file: $file}
	} + (if $sa == "" then {} else {service_account_impersonation_url:
		"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/\($sa):generateAccessToken"} end)' \
		> "$WORK/gcp-credentials.json")
	export GOOGLE_APPLICATION_CREDENTIALS=$WORK/gcp-credentials.json
	log "GCP: workload identity provider $p"
fi

# Azure: a federated credential on an app registration; azidentity's workload identity
# credential reads these three variables.
if [ -n "${ROTATE_AZURE_CLIENT_ID:-}" ]; then
	[ -n "${ROTATE_AZURE_TENANT_ID:-}" ] || die "ROTATE_AZURE_TENANT_ID is needed with ROTATE_AZURE_CLIENT_ID"
	oidc_token api://AzureADTokenExchange "$WORK/azure-token"
	export AZURE_CLIENT_ID=$ROTATE_AZURE_CLIENT_ID AZURE_TENANT_ID=$ROTATE_AZURE_TENANT_ID
	export AZURE_FEDERATED_TOKEN_FILE=$WORK/azure-token
	log "Azure: client $AZURE_CLIENT_ID, federated token"
fi

metrics=()
[ -n "${ROTATE_METRICS_FILE:-}" ] && metrics=(--metrics-file "$ROTATE_METRICS_FILE")

# The outputs, written by finish whatever the outcome: a refused run is the one a reviewer
# most needs to read.
changed=false refused=false kids='[]' plan='{}'

# jw OUT ERR ARGS...: jwkspub ARGS with stdout to OUT and stderr to ERR, which is then shown in
# the log as usual; kept so that a refusal can be quoted in the step summary. Returns
# jwkspub's exit code.
jw() {
	local out=$1 err=$2 rc=0
	shift 2
	"$JWKSPUB" "$@" > "$out" 2> "$err" || rc=$?
	cat "$err" >&2
	return "$rc"
}

# refusal_summary JSON ERR: every reason the guard gave, into the step summary. From the JSON's
# violations (rule, kid, what is wrong, the fix) where jwkspub reports them there, else its
# message on stderr as printed.
refusal_summary() {
	local json=$1 err=$2
	{
		echo "### jwkspub: refused by the rotation guard, nothing written"
		echo
		if jq -e '(.violations // []) | length > 0' "$json" > /dev/null 2>&1; then
			jq -r '.violations[] | "- **\(.rule)** `\(.kid // "(set)")` (set \(.set), `\(.target)`): \(.detail)  \n  fix: \(.fix)"' "$json"
		else
			echo '```'
			cat "$err"
			echo '```'
		fi
		echo
	} >> "$SUMMARY"
}

# The key to sign with, per set and target, from status --format json: sign_with is
# {kid, source, version} (or null), or, from a jwkspub before schema_version 1, a bare kid
# string ("" for none) whose source and version come from the key's own entry.
SIGN_WITH_JQ='[.timelines[]? | {set, target} + (.sign_with as $s | .keys as $keys |
	if ($s | type) == "object" then {kid: $s.kid, source: $s.source, version: $s.version}
	elif ($s | type) == "string" and $s != "" then
		(($keys // []) | map(select(.kid == $s)) | first // {}) as $k | {kid: $s, source: $k.source, version: $k.version}
	else {kid: null, source: null, version: null} end)]'

# finish CODE: status into the step summary (after a refusal or a drift too: which key to sign
# with, which may go when), the outputs, then exit CODE (status's own failure when CODE is 0).
finish() {
	local code=$1 src=0 signwith='[]'
	if "$JWKSPUB" status "${args[@]}" > "$WORK/status.txt" 2> "$WORK/status.err"; then
		cat "$WORK/status.txt"
		{ echo "### jwkspub status"; echo '```'; cat "$WORK/status.txt"; echo '```'; } >> "$SUMMARY"
		if "$JWKSPUB" status "${args[@]}" --format json > "$WORK/status.json" 2> /dev/null; then
			signwith=$(jq -c "$SIGN_WITH_JQ" "$WORK/status.json") || signwith='[]'
		fi
	else
		src=$?
		cat "$WORK/status.err" >&2
		{ echo "### jwkspub status: failed (exit $src)"; echo '```'; cat "$WORK/status.err"; echo '```'; } >> "$SUMMARY"
		if [ "$code" = 0 ]; then code=$src; fi
	fi
	{
		echo "changed=$changed"
		echo "refused=$refused"
		echo "kids=$kids"
		echo "plan=$plan"
		echo "sign-with=$signwith"
	} >> "$OUTPUT"
	log "changed=$changed refused=$refused sign-with=$signwith"
	exit "$code"
}

# 1. diff: the plan goes to the step summary (jwkspub appends it) and to the outputs. With
# --detailed-exitcode: 0 nothing to change, 2 a change the guard allows, 3 refused.
rc=0
jw "$WORK/plan.json" "$WORK/diff.err" diff "${args[@]}" --detailed-exitcode --format json \
	--step-summary "$SUMMARY" "${metrics[@]}" || rc=$?
if jq -e . "$WORK/plan.json" > /dev/null 2>&1; then
	plan=$(jq -c . "$WORK/plan.json")
	kids=$(jq -c '[.plans[].keys[] | select(.action != "remove") | .kid] | unique' "$WORK/plan.json")
fi
case $rc in
	0) ;;
	2) changed=true ;;
	3)
		refused=true
		log "diff: refused by the rotation guard: nothing written (the reasons are above and in the step summary)"
		refusal_summary "$WORK/plan.json" "$WORK/diff.err"
		finish 3
		;;
	*) log "diff failed (exit $rc)"; finish "$rc" ;;
esac
log "diff: changed=$changed kids=$kids"

# 2. publish, 3. verify: only in publish mode. publish re-plans and runs the guard itself, so a
# change between diff and publish is still checked. From here on `changed` says what publish
# wrote, not what diff planned.
if [ "$MODE" = publish ]; then
	changed=false
	if [ "$rc" = 2 ]; then
		prc=0
		jw "$WORK/publish.json" "$WORK/publish.err" publish "${args[@]}" --format json \
			--step-summary "$SUMMARY" "${metrics[@]}" || prc=$?
		# Written: per target (results[].outcome, before schema_version 1) or .changed. A
		# refusal before any write prints the plan, which says nothing about writing.
		written=$(jq -r 'if has("results") then ([.results[] | select(.outcome == "published")] | length > 0)
			elif has("refused") then .changed == true else false end' "$WORK/publish.json" 2> /dev/null) || true
		if [ "$written" = true ]; then changed=true; fi
		jq -r 'def n(a): [.plan.keys[]? | select(.action == a)] | length;
			.results[]? | "set \(.set) -> \(.target): \(.outcome)" +
			(if .outcome == "published" then " (\(n("add")) added, \(n("remove")) removed, \(n("change")) changed)" else "" end) +
			(if .error then ": \(.error)" else "" end)' "$WORK/publish.json" 2> /dev/null || true
		log "publish: exit $prc, changed=$changed"
		case $prc in
			0) ;;
			3)
				refused=true
				log "publish: refused by the rotation guard (the reasons are above and in the step summary)"
				refusal_summary "$WORK/publish.json" "$WORK/publish.err"
				finish 3
				;;
			*) log "publish failed (exit $prc)"; finish "$prc" ;;
		esac
	else
		log "nothing to publish"
	fi
	for v in ${ROTATE_VERIFY_URLS:-}; do
		vargs=(--config "$CONFIG")
		url=$v
		if [[ $v == *=* && $v != http* ]]; then
			vargs+=(--set "${v%%=*}"); url=${v#*=}
		else
			for s in $SETS; do vargs+=(--set "$s"); done
		fi
		log "verify: waiting up to ${ROTATE_VERIFY_WAIT:-10m} for $url to serve what the sources give"
		vrc=0
		"$JWKSPUB" verify "${vargs[@]}" --url "$url" --expect --wait "${ROTATE_VERIFY_WAIT:-10m}" > "$WORK/verify.txt" || vrc=$?
		cat "$WORK/verify.txt"
		if [ "$vrc" != 0 ]; then
			{ echo "### jwkspub verify: $url has drifted"; echo '```'; cat "$WORK/verify.txt"; echo '```'; } >> "$SUMMARY"
			log "verify: $url does not serve what the sources give (exit $vrc)"
			finish "$vrc"
		fi
		echo "**verify** \`$url\`: serves what the sources give" >> "$SUMMARY"
	done
fi

# 4. status: when each key is safe to sign with, and which may go.
finish 0
