#!/usr/bin/env bash
# The rotation job's steps, in one script so the GitHub Actions workflow (.github/workflows/
# rotate.yml, through the root action.yml) and the tests run exactly the same thing:
#
#   cloud login (OIDC) -> diff into the step summary -> publish -> verify --expect until the
#   URL serves it (bounded) -> status into the step summary -> outputs (changed, kids, plan).
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
#   ROTATE_VAULT_MOUNT     Vault auth mount (default jwt)
#   ROTATE_AWS_ROLE_ARN    AWS: role to assume with the job's OIDC token (audience sts.amazonaws.com)
#   ROTATE_GCP_WORKLOAD_IDENTITY_PROVIDER  GCP: projects/N/locations/global/workloadIdentityPools/P/providers/X
#   ROTATE_GCP_SERVICE_ACCOUNT             GCP: service account to impersonate (optional)
#   ROTATE_AZURE_CLIENT_ID, ROTATE_AZURE_TENANT_ID  Azure: app with a federated credential
#   ROTATE_METRICS_FILE    Prometheus textfile to write (optional)
#   JWKSPUB                the jwkspub binary (default: jwkspub on PATH)
# GitHub's variables, emulated in tests: GITHUB_STEP_SUMMARY, GITHUB_OUTPUT,
# ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN, RUNNER_TEMP, GITHUB_ACTIONS.
#
# Exit code: jwkspub's (3 refused by the guard, 4 partial, 1 error); 0 when done.
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

# Vault: jwkspub logs in itself with the job's token (one login per command).
if [ -n "${ROTATE_VAULT_ROLE:-}" ]; then
	export JWKSPUB_VAULT_AUTH=github-actions
	export JWKSPUB_VAULT_ROLE=$ROTATE_VAULT_ROLE
	# Empty: GitHub's default audience, https://github.com/OWNER.
	if [ -n "${ROTATE_VAULT_AUDIENCE:-}" ]; then export JWKSPUB_VAULT_AUDIENCE=$ROTATE_VAULT_AUDIENCE; fi
	export JWKSPUB_VAULT_AUTH_MOUNT=${ROTATE_VAULT_MOUNT:-jwt}
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

# 1. diff: the plan goes to the step summary (jwkspub appends it) and to the outputs.
rc=0
"$JWKSPUB" diff "${args[@]}" --detailed-exitcode --format json --step-summary "$SUMMARY" \
	"${metrics[@]}" > "$WORK/plan.json" || rc=$?
case $rc in
	0) changed=false ;;
	2 | 3) changed=true ;; # 3: the guard refuses this plan; it is still reported
	*) log "diff failed (exit $rc)"; exit "$rc" ;;
esac
plan=$(jq -c . "$WORK/plan.json")
kids=$(jq -c '[.plans[].keys[] | select(.action != "remove") | .kid] | unique' "$WORK/plan.json")
{
	echo "changed=$changed"
	echo "kids=$kids"
	echo "plan=$plan"
} >> "$OUTPUT"
log "diff: changed=$changed kids=$kids"
if [ "$rc" = 3 ]; then
	log "refused by the rotation guard: nothing written (the reasons are above; the plan is in the step summary)"
	exit 3
fi

# 2. publish, 3. verify: only in publish mode. publish re-plans and runs the guard itself, so a
# change between diff and publish is still checked.
if [ "$MODE" = publish ]; then
	if [ "$changed" = true ]; then
		"$JWKSPUB" publish "${args[@]}" --step-summary "$SUMMARY" "${metrics[@]}"
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
		if ! "$JWKSPUB" verify "${vargs[@]}" --url "$url" --expect --wait "${ROTATE_VERIFY_WAIT:-10m}" > "$WORK/verify.txt"; then
			cat "$WORK/verify.txt"
			{ echo "### jwkspub verify: $url has drifted"; echo '```'; cat "$WORK/verify.txt"; echo '```'; } >> "$SUMMARY"
			die "verify: $url does not serve what the sources give"
		fi
		cat "$WORK/verify.txt"
		echo "**verify** \`$url\`: serves what the sources give" >> "$SUMMARY"
	done
fi

# 4. status: when each key is safe to sign with, and which may go.
"$JWKSPUB" status "${args[@]}" > "$WORK/status.txt"
cat "$WORK/status.txt"
{ echo "### jwkspub status"; echo '```'; cat "$WORK/status.txt"; echo '```'; } >> "$SUMMARY"
