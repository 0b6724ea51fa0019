package publish

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/internal/testkeys"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// orderedKeys is rotKeys with each key's place in its source's order: the seed, as a Transit
// version would be.
func orderedKeys(t *testing.T, seeds ...byte) *jwks.Set { return testkeys.Ordered(t, seeds...) }

// The README's retirement procedure with three Transit versions first published together:
// raising min_decryption_version drops v1, which the guard lets go once superseded + safe
// delay + max_token_lifetime have passed, and status says to sign with v3.
func TestRetireVersionPublishedTogether(t *testing.T) {
	cfg := testSet("prod")
	tg := fileTarget(t, t.TempDir())
	if _, err := publishAt(t, tg, cfg, orderedKeys(t, 1, 2, 3), t0, GuardOptions{}); err != nil {
		t.Fatal(err)
	}
	tl, err := ReadTimeline(context.Background(), tg, cfg, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if tl.SignWith != "k3" {
		t.Errorf("sign with %q, want k3, the newest version", tl.SignWith)
	}
	_, err = publishAt(t, tg, cfg, orderedKeys(t, 2, 3), t0.Add(time.Hour), GuardOptions{})
	var ge *GuardError
	if !errors.As(err, &ge) || len(ge.Violations) != 1 || ge.Violations[0].Rule != rotation.RuleTooEarly {
		t.Fatalf("early removal: %v, want removal-too-early", err)
	}
	if _, err := publishAt(t, tg, cfg, orderedKeys(t, 2, 3), t0.Add(24*time.Hour+time.Minute), GuardOptions{}); err != nil {
		t.Fatalf("removal after the token lifetime: %v", err)
	}
}

// Build ranks each source's keys by the source's own order, then position.
func TestBuildSourceOrder(t *testing.T) {
	pem := func(name string) string {
		b, err := os.ReadFile(filepath.Join("jwks", "testdata", "keys", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	env := map[string]string{"JWT_PUBLIC_KEY": pem("p256.pub.pem"), "JWT_PREVIOUS_PUBLIC_KEY": pem("p384.pub.pem"), "JWT_NEXT_PUBLIC_KEY": pem("ed25519.pub.pem")}
	opts := sources.Options{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	set := &config.SetConfig{Name: "prod", Sources: []config.SourceConfig{{Spec: sources.Spec{Spec: "env-prefix:JWT_"}}, {Spec: sources.Spec{Spec: "file:jwks/testdata/keys/rfc.jwks.json"}}}}
	var srcs []sources.Source
	for _, sc := range set.Sources {
		s, err := sources.New(sc.Spec, opts)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, s)
	}
	built, err := Build(context.Background(), BuildOptions{Set: set, Sources: srcs})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	var fileOrders []int
	for _, k := range built.Keys {
		if k.Spec == "env-prefix:JWT_" {
			got[k.Crv] = k.Order
		} else {
			fileOrders = append(fileOrders, k.Order)
		}
	}
	if got["P-384"] != 1 || got["P-256"] != 2 || got["Ed25519"] != 3 {
		t.Errorf("env-prefix orders %v, want previous 1, current 2, next 3", got)
	}
	for _, o := range fileOrders {
		if o < 1 || o > len(fileOrders) {
			t.Errorf("file orders %v, want positions from 1", fileOrders)
		}
	}
}

// Every source that gave no key is optional and down: diff and publish keep the live keys
// (as they do when another source works); build, which reads no target, refuses.
func TestBuildOnlyOptionalSourcesDown(t *testing.T) {
	const vault = "vault-transit:transit/jwt"
	v := deadVault(t)
	set := &config.SetConfig{Name: "prod", Sources: []config.SourceConfig{{Spec: sources.Spec{Spec: vault, Optional: true}}},
		Output: config.Output{CacheControl: "public, max-age=60"}, Rotation: rotation.Rules{MaxTokenLifetime: rotation.Duration(24 * time.Hour)}}
	s, err := sources.New(set.Sources[0].Spec, sources.Options{Vault: v})
	if err != nil {
		t.Fatal(err)
	}
	build := func(keepsLive bool) (*jwks.Set, error) {
		return Build(context.Background(), BuildOptions{Set: set, Sources: []sources.Source{s}, KeepsLive: keepsLive, Logger: slog.New(slog.DiscardHandler)})
	}
	if _, err := build(false); err == nil || !strings.Contains(err.Error(), "empty-set") {
		t.Errorf("build with nothing read: %v, want empty-set", err)
	}
	built, err := build(true)
	if err != nil || len(built.Keys) != 0 || strings.Join(built.Unavailable, ",") != vault {
		t.Fatalf("Build = %+v, %v; want no keys, %s unavailable", built, err, vault)
	}

	// Nothing live: the guard refuses the empty set.
	dir := t.TempDir()
	tg := fileTarget(t, dir)
	doc := filepath.Join(dir, ".well-known", "jwks.json")
	if _, err := publishAt(t, tg, set, built, t0, GuardOptions{}); err == nil || !strings.Contains(err.Error(), rotation.RuleEmptySet) {
		t.Errorf("first publication with the only source down: %v, want empty-set", err)
	}
	// Live keys from that source: they stay, nothing changes.
	live := twoSourceKeys(t, map[byte]string{1: vault, 2: vault})
	if _, err := publishAt(t, tg, set, live, t0, GuardOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(doc)
	p, err := publishAt(t, tg, set, built, t0.Add(time.Hour), GuardOptions{})
	if err != nil {
		t.Fatalf("publish with the only source down: %v", err)
	}
	if got := actions(p); got != "k1:keep k2:keep" || p.Changed() {
		t.Errorf("plan %q (changed %v), want both kept and nothing written", got, p.Changed())
	}
	after, _ := os.ReadFile(doc)
	if !bytes.Equal(before, after) {
		t.Error("the live document changed")
	}
}

// A failed Vault login stops every Vault source of the run; it is reported once, naming them.
func TestBuildLoginFailureOnce(t *testing.T) {
	v := deadVault(t)
	v.Login = &vault.VaultLogin{Method: vault.AuthAppRole, RoleID: "r", SecretID: "secret-id"}
	set := &config.SetConfig{Name: "prod", Sources: []config.SourceConfig{
		{Spec: sources.Spec{Spec: "vault-transit:transit/a"}},
		{Spec: sources.Spec{Spec: "vault-kv:secret/jwt#pem"}},
		{Spec: sources.Spec{Spec: "file:jwks/testdata/keys/nope.pem"}},
	}}
	var srcs []sources.Source
	for _, sc := range set.Sources {
		s, err := sources.New(sc.Spec, sources.Options{Vault: v})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, s)
	}
	_, err := Build(context.Background(), BuildOptions{Set: set, Sources: srcs})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if n := strings.Count(msg, "vault unreachable: auth/approle/login"); n != 1 {
		t.Errorf("the login failure appears %d times:\n%s", n, msg)
	}
	if !strings.Contains(msg, "vault-transit:transit/a, vault-kv:secret/jwt#pem: vault unreachable: auth/approle/login") || !strings.Contains(msg, "nope.pem") {
		t.Errorf("error does not name both Vault sources once and the file's own error:\n%s", msg)
	}
}

// Versions a source gives (Transit's 2 and 3 after v1 was dropped) are kept, so the state and
// status name them; orders that repeat or are missing become ranks.
func TestRankOrder(t *testing.T) {
	for _, tt := range []struct {
		name        string
		given, want []int
	}{
		{"versions", []int{2, 3}, []int{2, 3}},
		{"versions out of position", []int{7, 5}, []int{7, 5}},
		{"none: position", []int{0, 0, 0}, []int{1, 2, 3}},
		{"repeated", []int{4, 4, 2}, []int{2, 3, 1}},
		{"some missing", []int{0, 9}, []int{1, 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ks := make([]sources.Key, len(tt.given))
			for i, o := range tt.given {
				ks[i].Order = o
			}
			rankOrder(ks)
			for i := range ks {
				if ks[i].Order != tt.want[i] {
					t.Errorf("orders %v become %+v, want %v", tt.given, ks, tt.want)
					break
				}
			}
		})
	}
}
