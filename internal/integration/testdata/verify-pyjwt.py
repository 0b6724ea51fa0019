"""Verifies tokens with PyJWT's PyJWKClient as consumer services are told to: fetch the key
for the token's kid, then jwt.decode with the algorithm pinned. The pinned algorithm is the
JWK's own "alg" (a service that accepts several algorithms pins them per key; PyJWT does not
bind a JWK's alg to verification by itself).

Reads {"url": ..., "tokens": [{"name": ..., "token": ...}], "algorithms": [...]} on stdin
("algorithms", optional, replaces the per-key pin with one list for every token) and writes
{"kids": [...], "results": {name: {"ok": bool, "kid": ..., "error": ...}}} on stdout."""
import json
import sys

import jwt
from jwt import PyJWKClient

inp = json.load(sys.stdin)
client = PyJWKClient(inp["url"])
# Every key PyJWKClient can use; PyJWKSet silently drops keys it cannot parse.
kids = sorted(k.key_id for k in client.get_signing_keys())
results = {}
for c in inp["tokens"]:
    try:
        key = client.get_signing_key_from_jwt(c["token"])
        algs = inp.get("algorithms") or [getattr(key, "algorithm_name", None) or key._jwk_data.get("alg")]
        jwt.decode(c["token"], key.key, algorithms=algs, options={"verify_aud": False})
        results[c["name"]] = {"ok": True, "kid": key.key_id}
    except Exception as e:  # every failure is a rejection to report
        results[c["name"]] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
json.dump({"kids": kids, "results": results}, sys.stdout)
