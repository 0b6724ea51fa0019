package publish

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// twoSourceKeys is a set with Ed25519 keys k<seed>, each from the spec given for it.
func twoSourceKeys(t *testing.T, specs map[byte]string, unavailable ...string) *jwks.Set {
	t.Helper()
	var keys []sources.Key
	for s, spec := range specs {
		pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{s}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
		keys = append(keys, sources.Key{Kty: sources.KtyOKP, Crv: "Ed25519", X: pub, KID: fmt.Sprintf("k%d", s),
			Origin: sources.Origin{Source: spec, Location: fmt.Sprintf("version %d", s)}})
	}
	set, err := jwks.Assemble(keys, jwks.AssembleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range set.Keys {
		set.Keys[i].Spec = set.Keys[i].Origin.Source
	}
	set.Unavailable = unavailable
	return set
}

func actions(p *Plan) string {
	var b []string
	for _, k := range p.Keys {
		b = append(b, k.KID+":"+k.Action)
	}
	return strings.Join(b, " ")
}

// An optional source that is down keeps its live keys at the target, and only those: the
// state says which source each live kid came from.
func TestUnavailableSourceKeepsLiveKeys(t *testing.T) {
	const file, vault = "file:keys/*.pem", "vault-transit:transit/jwt"
	dir := t.TempDir()
	tg := fileTarget(t, dir)
	cfg := testSet("prod")
	if _, err := publishAt(t, tg, cfg, twoSourceKeys(t, map[byte]string{1: file, 2: vault, 3: vault}), t0, GuardOptions{}); err != nil {
		t.Fatal(err)
	}

	// Vault is down: its keys k2 and k3 stay, the file source's new key k4 is added.
	down := twoSourceKeys(t, map[byte]string{1: file, 4: file}, vault)
	p, err := publishAt(t, tg, cfg, down, t0.Add(time.Hour), GuardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := actions(p), "k1:keep k2:keep k3:keep k4:add"; got != want {
		t.Errorf("plan %q, want %q", got, want)
	}
	doc, _ := os.ReadFile(filepath.Join(dir, ".well-known", "jwks.json"))
	for _, kid := range []string{"k1", "k2", "k3", "k4"} {
		if !bytes.Contains(doc, []byte(`"kid":"`+kid+`"`)) {
			t.Errorf("published document lacks %s:\n%s", kid, doc)
		}
	}
	st, _ := os.ReadFile(filepath.Join(dir, ".well-known", "jwks.json.state.json"))
	state, err := rotation.ParseState(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"k2", "k3"} {
		k := state.Key(kid)
		if k == nil || !k.Live() || k.Source != vault {
			t.Errorf("state of %s = %+v, want live from %s", kid, k, vault)
		}
	}
	if len(down.Keys) != 2 {
		t.Errorf("PlanTarget changed the caller's set: %d keys", len(down.Keys))
	}

	// Still down, and the file source drops k1: k1 is removed, the Vault keys stay.
	p, err = publishAt(t, tg, cfg, twoSourceKeys(t, map[byte]string{4: file}, vault), t0.Add(72*time.Hour), GuardOptions{AllowRemoval: []string{"k1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := actions(p), "k1:remove k2:keep k3:keep k4:keep"; got != want {
		t.Errorf("plan %q, want %q", got, want)
	}

	// Back up with only k3: k2 is removed like any rotation.
	p, err = PlanTarget(t.Context(), tg, PlanOptions{Set: cfg, Keys: twoSourceKeys(t, map[byte]string{3: vault, 4: file}), Now: t0.Add(96 * time.Hour), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := actions(p), "k2:remove k3:keep k4:keep"; got != want {
		t.Errorf("plan %q, want %q", got, want)
	}
}

// deadVault is a Vault connection to a loopback port nothing listens on, without retries.
func deadVault(t *testing.T) *vault.Vault {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	c, err := api.NewClient(&api.Config{Address: addr, MaxRetries: 0})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken("test")
	return &vault.Vault{Client: c, Retries: -1}
}

func TestBuildOptionalSourceUnavailable(t *testing.T) {
	v := deadVault(t)
	for _, optional := range []bool{true, false} {
		t.Run(fmt.Sprintf("optional=%v", optional), func(t *testing.T) {
			set := &config.SetConfig{Name: "prod", Sources: []config.SourceConfig{
				{Spec: sources.Spec{Spec: "file:jwks/testdata/keys/p256.pub.pem"}},
				{Spec: sources.Spec{Spec: "vault-transit:transit/jwt", Optional: optional}},
			}}
			var srcs []sources.Source
			for _, sc := range set.Sources {
				s, err := sources.New(sc.Spec, sources.Options{Vault: v})
				if err != nil {
					t.Fatal(err)
				}
				srcs = append(srcs, s)
			}
			var logs bytes.Buffer
			built, err := Build(t.Context(), BuildOptions{Set: set, Sources: srcs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if !optional {
				if err == nil || !errors.Is(err, vault.ErrVaultUnreachable) {
					t.Fatalf("required source down: err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(built.Keys) != 1 || strings.Join(built.Unavailable, ",") != "vault-transit:transit/jwt" {
				t.Errorf("keys %d, unavailable %v", len(built.Keys), built.Unavailable)
			}
			if !strings.Contains(logs.String(), "optional source unavailable") {
				t.Errorf("no warning logged: %s", logs.String())
			}
		})
	}
}
