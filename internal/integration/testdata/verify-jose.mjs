// Verifies tokens with node jose the way its documentation tells services to: one
// createRemoteJWKSet for the issuer's JWKS URL, jwtVerify per token. Reads
// {"url": ..., "tokens": [{"name": ..., "token": ...}]} on stdin and writes
// {"results": {name: {"ok": bool, "kid": ..., "error": ...}}} on stdout.
import { createRemoteJWKSet, jwtVerify } from 'jose';

let raw = '';
for await (const chunk of process.stdin) raw += chunk;
const input = JSON.parse(raw);
const jwks = createRemoteJWKSet(new URL(input.url));
const results = {};
for (const c of input.tokens) {
  try {
    const { protectedHeader } = await jwtVerify(c.token, jwks);
    results[c.name] = { ok: true, kid: protectedHeader.kid ?? '' };
  } catch (e) {
    results[c.name] = { ok: false, error: `${e.code ?? e.name}: ${e.message}` };
  }
}
process.stdout.write(JSON.stringify({ results }));
