#!/usr/bin/env bash
# Builds the Vault dev server once and caches it outside the repository: Vault is not in Debian and
# `go install` of its main module fails on replace directives, so we build it from a scratch module
# (recipe in shared/services.md). About 18 minutes on 2 cores the first time; reused afterwards.
set -euo pipefail
VAULT_VERSION=${VAULT_VERSION:-v1.21.0}
CACHE=${JWKSPUB_CACHE:-$HOME/.cache/jwkspub}
BIN=$CACHE/bin
mkdir -p "$BIN"
if command -v vault >/dev/null 2>&1; then echo "vault on PATH: $(command -v vault)"; exit 0; fi
if [ -x "$BIN/vault" ]; then echo "vault cached: $BIN/vault"; exit 0; fi
# Parallel checkouts share the cache: one builds, the others wait for it instead of building again.
exec 9>"$CACHE/vault-build.lock"
flock 9
if [ -x "$BIN/vault" ]; then echo "vault cached: $BIN/vault"; exit 0; fi
work=$CACHE/vault-build
mkdir -p "$work"
cd "$work"
cat > go.mod <<MOD
module vaultbuild

go 1.26

require github.com/hashicorp/vault $VAULT_VERSION

replace github.com/99designs/keyring => github.com/Jeffail/keyring v1.2.3

replace github.com/ma314smith/signedxml v1.1.1 => github.com/moov-io/signedxml v1.1.1
MOD
cat > main.go <<'GO'
package main

import _ "github.com/hashicorp/vault"

func main() {}
GO
go mod tidy -e >/dev/null 2>&1 || true
go build -o "$BIN/vault.tmp" github.com/hashicorp/vault
mv "$BIN/vault.tmp" "$BIN/vault"
echo "vault built: $BIN/vault"
