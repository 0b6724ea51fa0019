//go:build integration

package integration

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// countingTransport counts the HTTP requests a Vault client makes.
type countingTransport struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// BenchmarkVaultBuild measures a build from one Transit key with 10 versions plus one KV v2
// secret, logging in with AppRole each time (a fresh job): wall time per build and Vault
// requests per build. The figures are in BENCHMARKS.md.
func BenchmarkVaultBuild(b *testing.B) {
	e := newVaultEnv(b)
	mount := vaultName("transit")
	if err := e.root.Sys().Mount(mount, &api.MountInput{Type: "transit"}); err != nil {
		b.Fatal(err)
	}
	defer e.root.Sys().Unmount(mount)
	kv := vaultName("kv")
	if err := e.root.Sys().Mount(kv, &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		b.Fatal(err)
	}
	defer e.root.Sys().Unmount(kv)
	mustWrite := func(path string, data map[string]any) *api.Secret {
		s, err := e.root.Logical().Write(path, data)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	mustWrite(mount+"/keys/jwt", map[string]any{"type": "rsa-2048"})
	for i := 0; i < 9; i++ {
		mustWrite(mount+"/keys/jwt/rotate", nil)
	}
	mustWrite(kv+"/data/jwt", map[string]any{"data": map[string]any{"jwks": `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`}})
	pol := vaultName("bench")
	if err := e.root.Sys().PutPolicy(pol, `path "`+mount+`/keys/jwt" { capabilities = ["read"] }
path "`+kv+`/data/jwt" { capabilities = ["read"] }`); err != nil {
		b.Fatal(err)
	}
	defer e.root.Sys().DeletePolicy(pol)
	approle := vaultName("approle")
	if err := e.root.Sys().EnableAuthWithOptions(approle, &api.EnableAuthOptions{Type: "approle"}); err != nil {
		b.Fatal(err)
	}
	defer e.root.Sys().DisableAuth(approle)
	mustWrite("auth/"+approle+"/role/bench", map[string]any{"token_policies": pol})
	rid, err := e.root.Logical().Read("auth/" + approle + "/role/bench/role-id")
	if err != nil {
		b.Fatal(err)
	}
	sid := mustWrite("auth/"+approle+"/role/bench/secret-id", nil)
	login := &vault.VaultLogin{Method: vault.AuthAppRole, Mount: approle, RoleID: rid.Data["role_id"].(string), SecretID: sid.Data["secret_id"].(string)}
	set := &config.SetConfig{Name: "bench", Sources: []config.SourceConfig{
		{Spec: sources.Spec{Spec: "vault-transit:" + mount + "/jwt", KID: "{{.Name}}-v{{.Version}}"}},
		{Spec: sources.Spec{Spec: "vault-kv:" + kv + "/jwt#jwks"}},
	}}

	var requests int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ct := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
		c, err := api.NewClient(&api.Config{Address: e.addr, MaxRetries: 0, HttpClient: &http.Client{Transport: ct}})
		if err != nil {
			b.Fatal(err)
		}
		c.ClearToken()
		v := &vault.Vault{Client: c, Login: login}
		var srcs []sources.Source
		for _, sc := range set.Sources {
			s, err := sources.New(sc.Spec, sources.Options{Vault: v})
			if err != nil {
				b.Fatal(err)
			}
			srcs = append(srcs, s)
		}
		built, err := publish.Build(context.Background(), publish.BuildOptions{Set: set, Sources: srcs, Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		if len(built.Keys) != 11 {
			b.Fatalf("%d keys, want 11", len(built.Keys))
		}
		requests += ct.n.Load()
	}
	b.ReportMetric(float64(requests)/float64(b.N), "vault-requests/op")
}
