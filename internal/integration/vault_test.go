//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// vaultEnv is the dev server .ci/services.sh started.
type vaultEnv struct {
	addr string
	root *api.Client // root token: sets up mounts, keys and policies
}

func newVaultEnv(t testing.TB) *vaultEnv {
	t.Helper()
	addr, token := os.Getenv("JWKSPUB_IT_VAULT_ADDR"), os.Getenv("JWKSPUB_IT_VAULT_TOKEN")
	if addr == "" || token == "" {
		t.Fatal("JWKSPUB_IT_VAULT_ADDR and JWKSPUB_IT_VAULT_TOKEN are not set: run `.ci/services.sh start` and source ~/.cache/jwkspub/services.env (make integration does both)")
	}
	return &vaultEnv{addr: addr, root: vaultClient(t, addr, token)}
}

// vaultClient is a client as the CLI builds it: no retries of its own (sources.Vault retries).
func vaultClient(t testing.TB, addr, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: addr, MaxRetries: 0, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

// unique returns a name no earlier run against the same (reused) dev server has taken.
func vaultName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func (e *vaultEnv) write(t *testing.T, path string, data map[string]any) *api.Secret {
	t.Helper()
	s, err := e.root.Logical().Write(path, data)
	if err != nil {
		t.Fatalf("vault write %s: %v", path, err)
	}
	return s
}

// oidcKey makes an identity OIDC key and a role using it, and deletes both when the test ends:
// the dev server outlives a test run, and every key it ever had would otherwise stay in
// identity/oidc/.well-known/keys until the set exceeded max_keys on a later run.
func (e *vaultEnv) oidcKey(t *testing.T) (key string) {
	t.Helper()
	key, role := vaultName("key"), vaultName("role")
	e.write(t, "identity/oidc/key/"+key, map[string]any{"allowed_client_ids": "*", "algorithm": "ES256"})
	e.write(t, "identity/oidc/role/"+role, map[string]any{"key": key})
	t.Cleanup(func() {
		for _, path := range []string{"identity/oidc/role/" + role, "identity/oidc/key/" + key} {
			if _, err := e.root.Logical().Delete(path); err != nil {
				t.Errorf("vault delete %s: %v", path, err)
			}
		}
	})
	return key
}

func (e *vaultEnv) mount(t *testing.T, typ string, opts map[string]string) string {
	t.Helper()
	path := vaultName(typ)
	if err := e.root.Sys().Mount(path, &api.MountInput{Type: typ, Options: opts}); err != nil {
		t.Fatalf("mounting %s: %v", typ, err)
	}
	t.Cleanup(func() { _ = e.root.Sys().Unmount(path) })
	return path
}

func (e *vaultEnv) enableAuth(t *testing.T, typ string) string {
	t.Helper()
	path := vaultName(typ)
	if err := e.root.Sys().EnableAuthWithOptions(path, &api.EnableAuthOptions{Type: typ}); err != nil {
		t.Fatalf("enabling auth %s: %v", typ, err)
	}
	t.Cleanup(func() { _ = e.root.Sys().DisableAuth(path) })
	return path
}

// source builds a source through sources.New, as the CLI does.
func vaultSource(t *testing.T, v *vault.Vault, spec sources.Spec) sources.Source {
	t.Helper()
	s, err := sources.New(spec, sources.Options{Vault: v})
	if err != nil {
		t.Fatalf("sources.New(%q): %v", spec.Spec, err)
	}
	return s
}

func vaultKeys(t *testing.T, s sources.Source) []sources.Key {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return keys
}

func vaultAssemble(t *testing.T, keys []sources.Key, kidTemplate string) *jwks.Set {
	t.Helper()
	opts := jwks.AssembleOptions{Now: time.Now()}
	if kidTemplate != "" {
		opts.KID, opts.KIDTemplate = jwks.KIDTemplate, kidTemplate
	}
	set, err := jwks.Assemble(keys, opts)
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	return set
}

func vaultKIDs(set *jwks.Set) []string {
	out := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		out[i] = k.KID
	}
	return out
}

// transitPublic returns Vault's own public_key of one version, parsed the standard way.
func (e *vaultEnv) transitPublic(t *testing.T, mount, name string, version int) string {
	t.Helper()
	s, err := e.root.Logical().Read(mount + "/keys/" + name)
	if err != nil {
		t.Fatal(err)
	}
	keys := s.Data["keys"].(map[string]any)
	return keys[fmt.Sprint(version)].(map[string]any)["public_key"].(string)
}

func TestVaultTransitKeyTypes(t *testing.T) {
	e := newVaultEnv(t)
	mount := e.mount(t, "transit", nil)
	v := &vault.Vault{Client: e.root}
	tests := []struct {
		typ, kty, crv, alg string
		bits               int
	}{
		{"rsa-2048", "RSA", "", "RS256", 2048},
		{"rsa-3072", "RSA", "", "RS256", 3072},
		{"rsa-4096", "RSA", "", "RS256", 4096},
		{"ecdsa-p256", "EC", "P-256", "ES256", 0},
		{"ecdsa-p384", "EC", "P-384", "ES384", 0},
		{"ecdsa-p521", "EC", "P-521", "ES512", 0},
		{"ed25519", "OKP", "Ed25519", "EdDSA", 0},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			name := "jwt-" + tt.typ
			e.write(t, mount+"/keys/"+name, map[string]any{"type": tt.typ})
			keys := vaultKeys(t, vaultSource(t, v, sources.Spec{Spec: "vault-transit:" + mount + "/" + name}))
			if len(keys) != 1 {
				t.Fatalf("%d keys, want 1", len(keys))
			}
			k := keys[0]
			if k.Kty != tt.kty || k.Crv != tt.crv || k.Name != name || k.Version != 1 {
				t.Errorf("key = kty %s crv %s name %s version %d; want %s %s %s 1", k.Kty, k.Crv, k.Name, k.Version, tt.kty, tt.crv, name)
			}
			if tt.bits > 0 && new(big.Int).SetBytes(k.N).BitLen() != tt.bits {
				t.Errorf("modulus has %d bits, want %d", new(big.Int).SetBytes(k.N).BitLen(), tt.bits)
			}
			if want := fmt.Sprintf("vault-transit:%s/%s version 1", mount, name); k.Origin.String() != want {
				t.Errorf("origin %q, want %q", k.Origin, want)
			}
			// The published key is Vault's key: compare with Vault's public_key decoded
			// independently of the source.
			set := vaultAssemble(t, keys, "{{.Name}}-v{{.Version}}")
			j := set.Keys[0]
			if j.KID != name+"-v1" || j.Alg != tt.alg {
				t.Errorf("kid %q alg %q, want %q %q", j.KID, j.Alg, name+"-v1", tt.alg)
			}
			pub, err := j.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			vaultPub := e.transitPublic(t, mount, name, 1)
			if tt.kty == "OKP" {
				raw, err := base64.StdEncoding.DecodeString(vaultPub)
				if err != nil || !bytes.Equal(pub.(ed25519.PublicKey), raw) {
					t.Errorf("Ed25519 key differs from Vault's public_key (%v)", err)
				}
				return
			}
			der, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode([]byte(vaultPub))
			if block == nil || !bytes.Equal(block.Bytes, der) {
				t.Errorf("published key differs from Vault's public_key")
			}
		})
	}

	t.Run("a key that cannot sign", func(t *testing.T) {
		e.write(t, mount+"/keys/aes", map[string]any{"type": "aes256-gcm96"})
		_, err := vaultSource(t, v, sources.Spec{Spec: "vault-transit:" + mount + "/aes"}).Keys(context.Background())
		if err == nil || !strings.Contains(err.Error(), `key type "aes256-gcm96" cannot sign JWTs`) || !strings.Contains(err.Error(), "vault-transit:"+mount+"/aes") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("a derived key", func(t *testing.T) {
		e.write(t, mount+"/keys/derived", map[string]any{"type": "ed25519", "derived": true})
		_, err := vaultSource(t, v, sources.Spec{Spec: "vault-transit:" + mount + "/derived"}).Keys(context.Background())
		if err == nil || !strings.Contains(err.Error(), `key "derived" is derived`) {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		_, err := vaultSource(t, v, sources.Spec{Spec: "vault-transit:" + mount + "/nope"}).Keys(context.Background())
		if !errors.Is(err, vault.ErrVaultNotFound) || !strings.Contains(err.Error(), mount+"/keys/nope does not exist") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("wrong mount", func(t *testing.T) {
		_, err := vaultSource(t, v, sources.Spec{Spec: "vault-transit:no-such-mount/jwt"}).Keys(context.Background())
		if !errors.Is(err, vault.ErrVaultNotFound) || !strings.Contains(err.Error(), "no-such-mount/keys/jwt: nothing is mounted there") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("optional and missing", func(t *testing.T) {
		keys, err := vaultSource(t, v, sources.Spec{Spec: "vault-transit:" + mount + "/nope", Optional: true}).Keys(context.Background())
		if err != nil || len(keys) != 0 {
			t.Fatalf("optional missing key: %d keys, %v", len(keys), err)
		}
	})
}

func TestVaultTransitRotation(t *testing.T) {
	e := newVaultEnv(t)
	mount := e.mount(t, "transit", nil)
	v := &vault.Vault{Client: e.root}
	e.write(t, mount+"/keys/jwt", map[string]any{"type": "ecdsa-p256"})
	spec := "vault-transit:" + mount + "/jwt"
	build := func(versions string) []string {
		t.Helper()
		return vaultKIDs(vaultAssemble(t, vaultKeys(t, vaultSource(t, v, sources.Spec{Spec: spec, Versions: versions})), "{{.Name}}-v{{.Version}}"))
	}
	if got := build(""); strings.Join(got, " ") != "jwt-v1" {
		t.Fatalf("before rotation: %v", got)
	}
	// rotate adds a version, hence a kid.
	e.write(t, mount+"/keys/jwt/rotate", nil)
	e.write(t, mount+"/keys/jwt/rotate", nil)
	if got := build("all"); strings.Join(got, " ") != "jwt-v1 jwt-v2 jwt-v3" {
		t.Fatalf("after two rotations: %v", got)
	}
	if got := build("latest"); strings.Join(got, " ") != "jwt-v3" {
		t.Fatalf("versions latest: %v", got)
	}
	if got := build("2"); strings.Join(got, " ") != "jwt-v2 jwt-v3" {
		t.Fatalf("versions 2: %v", got)
	}
	// More versions than max_keys: the refusal points at the versions option.
	set := &config.SetConfig{Name: "prod", Policy: jwks.Policy{MaxKeys: 2}, Sources: []config.SourceConfig{{Spec: sources.Spec{Spec: spec}}}}
	_, err := publish.Build(context.Background(), publish.BuildOptions{Set: set, Sources: []sources.Source{vaultSource(t, v, sources.Spec{Spec: spec})}})
	if err == nil || !strings.Contains(err.Error(), "max-keys: 3 keys exceed the policy maximum of 2") || !strings.Contains(err.Error(), spec+" gives 3 versions: publish only the recent ones with `versions: N`") {
		t.Fatalf("max_keys 2 with three versions: %v", err)
	}
	// Raising min_decryption_version removes a kid: Vault will no longer verify with it.
	e.write(t, mount+"/keys/jwt/config", map[string]any{"min_decryption_version": 2})
	if got := build("all"); strings.Join(got, " ") != "jwt-v2 jwt-v3" {
		t.Fatalf("after min_decryption_version=2: %v", got)
	}
	// Trimming (min_available_version) deletes old versions for good.
	e.write(t, mount+"/keys/jwt/config", map[string]any{"min_decryption_version": 3, "min_encryption_version": 3})
	e.write(t, mount+"/keys/jwt/trim", map[string]any{"min_available_version": 3})
	if got := build("all"); strings.Join(got, " ") != "jwt-v3" {
		t.Fatalf("after trim to 3: %v", got)
	}
	// The default kid is the thumbprint, stable across reads.
	a := vaultKIDs(vaultAssemble(t, vaultKeys(t, vaultSource(t, v, sources.Spec{Spec: spec})), ""))
	b := vaultKIDs(vaultAssemble(t, vaultKeys(t, vaultSource(t, v, sources.Spec{Spec: spec})), ""))
	if len(a) != 1 || a[0] != b[0] || len(a[0]) != 43 {
		t.Fatalf("thumbprint kids %v, %v", a, b)
	}
}

// testCert makes a self-signed P-256 certificate valid for a day.
func selfSignedCert(t *testing.T) (string, *ecdsa.PrivateKey) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jwkspub test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), priv
}

func pemOf(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestVaultKV(t *testing.T) {
	e := newVaultEnv(t)
	v := &vault.Vault{Client: e.root}
	certPEM, certKey := selfSignedCert(t)
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	jwks := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`
	var jwksObj map[string]any
	if err := json.Unmarshal([]byte(jwks), &jwksObj); err != nil {
		t.Fatal(err)
	}
	fields := map[string]any{
		"pem":      pemOf(t, &k1.PublicKey),
		"cert":     certPEM,
		"jwks":     jwks,
		"jwks_obj": jwksObj, // stored as a JSON object, not a string
		"note":     "not a key",
	}
	for _, kvVersion := range []string{"1", "2"} {
		t.Run("v"+kvVersion, func(t *testing.T) {
			mount := e.mount(t, "kv", map[string]string{"version": kvVersion})
			dataPath := mount + "/team/jwt"
			if kvVersion == "2" {
				dataPath = mount + "/data/team/jwt"
				e.write(t, dataPath, map[string]any{"data": fields})
			} else {
				e.write(t, dataPath, fields)
			}
			spec := func(field string) sources.Spec { return sources.Spec{Spec: "vault-kv:" + mount + "/team/jwt#" + field} }
			pemKeys := vaultKeys(t, vaultSource(t, v, spec("pem")))
			if len(pemKeys) != 1 || pemKeys[0].Crv != "P-256" || pemKeys[0].Name != "jwt" {
				t.Errorf("pem: %+v", pemKeys)
			}
			if want := "vault-kv:" + mount + "/team/jwt#pem field pem block 1"; pemKeys[0].Origin.String() != want {
				t.Errorf("origin %q, want %q", pemKeys[0].Origin, want)
			}
			certKeys := vaultKeys(t, vaultSource(t, v, spec("cert")))
			if len(certKeys) != 1 || len(certKeys[0].Certs) != 1 || !certKeys[0].Certs[0].PublicKey.(*ecdsa.PublicKey).Equal(&certKey.PublicKey) {
				t.Errorf("cert: %+v", certKeys)
			}
			for _, f := range []string{"jwks", "jwks_obj"} {
				ks := vaultKeys(t, vaultSource(t, v, spec(f)))
				if len(ks) != 1 || ks[0].KID != "ed-1" || ks[0].Kty != "OKP" {
					t.Errorf("%s: %+v", f, ks)
				}
			}
			set := vaultAssemble(t, append(append(pemKeys, certKeys...), vaultKeys(t, vaultSource(t, v, spec("jwks")))...), "")
			if len(set.Keys) != 3 {
				t.Errorf("assembled %d keys, want 3", len(set.Keys))
			}
			_, err := vaultSource(t, v, spec("missing")).Keys(context.Background())
			if err == nil || !strings.Contains(err.Error(), `no field "missing"`) || !strings.Contains(err.Error(), "fields: cert, jwks, jwks_obj, note, pem") {
				t.Errorf("missing field: %v", err)
			}
			_, err = vaultSource(t, v, spec("note")).Keys(context.Background())
			if err == nil || !strings.Contains(err.Error(), "field note") {
				t.Errorf("non-key field: %v", err)
			}
			_, err = vaultSource(t, v, sources.Spec{Spec: "vault-kv:" + mount + "/team/nope#pem"}).Keys(context.Background())
			if !errors.Is(err, vault.ErrVaultNotFound) {
				t.Errorf("missing secret: %v", err)
			}
			_, err = vaultSource(t, v, sources.Spec{Spec: "vault-kv:no-such-kv/team/jwt#pem"}).Keys(context.Background())
			if !errors.Is(err, vault.ErrVaultDenied) || !strings.Contains(err.Error(), "nothing is mounted there, or the token's policy grants nothing") ||
				!strings.Contains(err.Error(), `"no-such-kv/data/team/jwt" (KV v2)`) {
				t.Errorf("wrong mount: %v", err)
			}
			// A policy for another secret: the read is refused naming the exact path to grant.
			pol := vaultName("kv-other")
			if err := e.root.Sys().PutPolicy(pol, `path "`+mount+`/data/team/other" { capabilities = ["read"] }
path "`+mount+`/team/other" { capabilities = ["read"] }`); err != nil {
				t.Fatal(err)
			}
			defer e.root.Sys().DeletePolicy(pol)
			tok, err := e.root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{pol}, TTL: "5m"})
			if err != nil {
				t.Fatal(err)
			}
			limited := &vault.Vault{Client: vaultClient(t, e.addr, tok.Auth.ClientToken)}
			_, err = vaultSource(t, limited, spec("pem")).Keys(context.Background())
			aclPath := mount + "/team/jwt"
			if kvVersion == "2" {
				aclPath = mount + "/data/team/jwt"
			}
			if !errors.Is(err, vault.ErrVaultDenied) || !strings.Contains(err.Error(), `must grant "read" on "`+aclPath+`"`) {
				t.Errorf("denied: %v", err)
			}
			if kvVersion == "1" {
				_, err = vaultSource(t, v, sources.Spec{Spec: "vault-kv:" + mount + "/team/jwt?version=1#pem"}).Keys(context.Background())
				if err == nil || !strings.Contains(err.Error(), "KV v1 mount, which has no versions") {
					t.Errorf("version pin on v1: %v", err)
				}
				return
			}
			// v2: a second version; no pin reads the newest, a pin reads the one asked for.
			e.write(t, dataPath, map[string]any{"data": map[string]any{"pem": pemOf(t, &k2.PublicKey)}})
			if ks := vaultKeys(t, vaultSource(t, v, spec("pem"))); len(ks) != 1 || ks[0].Crv != "P-384" || ks[0].Version != 2 {
				t.Errorf("current version: %+v", ks)
			}
			pinned := vaultKeys(t, vaultSource(t, v, sources.Spec{Spec: "vault-kv:" + mount + "/team/jwt?version=1#pem"}))
			if len(pinned) != 1 || pinned[0].Crv != "P-256" || pinned[0].Version != 1 {
				t.Errorf("pinned version 1: %+v", pinned)
			}
			_, err = vaultSource(t, v, sources.Spec{Spec: "vault-kv:" + mount + "/team/jwt?version=9#pem"}).Keys(context.Background())
			if !errors.Is(err, vault.ErrVaultNotFound) {
				t.Errorf("pinned missing version: %v", err)
			}
			// Deleted and destroyed versions: Vault answers 404 with the version's metadata,
			// and the message says which and what to do, also for an optional source.
			e.write(t, mount+"/delete/team/jwt", map[string]any{"versions": []int{2}})
			e.write(t, mount+"/destroy/team/jwt", map[string]any{"versions": []int{1}})
			for _, tc := range []struct {
				spec     sources.Spec
				contains []string
			}{
				{spec("pem"), []string{mount + "/team/jwt version 2 is deleted", "fix: undelete it (vault kv undelete -versions=2 " + mount + "/team/jwt)"}},
				{sources.Spec{Spec: spec("pem").Spec, Optional: true}, []string{"version 2 is deleted"}},
				{sources.Spec{Spec: "vault-kv:" + mount + "/team/jwt?version=1#pem"}, []string{mount + "/team/jwt version 1 is destroyed", "fix: write the key again"}},
			} {
				_, err := vaultSource(t, v, tc.spec).Keys(context.Background())
				if !errors.Is(err, vault.ErrVaultNotFound) || strings.Contains(err.Error(), "does not exist") {
					t.Errorf("%s: error = %v", tc.spec.Spec, err)
					continue
				}
				for _, c := range tc.contains {
					if !strings.Contains(err.Error(), c) {
						t.Errorf("%s: error %v\nlacks %q", tc.spec.Spec, err, c)
					}
				}
			}
		})
	}
}

func TestVaultOIDC(t *testing.T) {
	e := newVaultEnv(t)
	v := &vault.Vault{Client: e.root}
	key := e.oidcKey(t)
	e.write(t, "identity/oidc/key/"+key+"/rotate", nil)

	resp, err := e.root.Logical().ReadRaw("identity/oidc/.well-known/keys")
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := resp.DecodeJSON(&raw); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	keys := vaultKeys(t, vaultSource(t, v, sources.Spec{Spec: "vault-oidc:"}))
	set := vaultAssemble(t, keys, "")
	if len(set.Keys) != len(raw.Keys) || len(raw.Keys) < 2 {
		t.Fatalf("published %d keys, Vault lists %d", len(set.Keys), len(raw.Keys))
	}
	want := map[string]string{}
	for _, k := range raw.Keys {
		want[k.KID] = k.Alg
	}
	es := 0
	for _, k := range set.Keys {
		alg, ok := want[k.KID]
		if !ok || alg != k.Alg {
			t.Errorf("kid %q alg %q not as Vault gives it", k.KID, k.Alg)
		}
		if k.Alg == "ES256" {
			es++
		}
	}
	if es < 2 { // the rotated key: current and previous
		t.Errorf("%d ES256 keys, want the rotated key's two", es)
	}
	_, err = vaultSource(t, v, sources.Spec{Spec: "vault-oidc:provider/" + vaultName("none")}).Keys(context.Background())
	if err == nil {
		t.Error("a missing OIDC provider gave no error")
	}
	// The endpoint is unauthenticated: no token at all reads the same keys.
	anon := vaultClient(t, e.addr, "")
	anon.ClearToken()
	if got := vaultKeys(t, vaultSource(t, &vault.Vault{Client: anon}, sources.Spec{Spec: "vault-oidc:"})); len(got) != len(keys) {
		t.Errorf("without a token: %d keys, want %d", len(got), len(keys))
	}
}

// logBuffer captures a logger's output, to check no credential is ever logged.
func captureLog() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}
