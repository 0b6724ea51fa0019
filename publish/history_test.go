package publish

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/sources"
)

// aliasSource is a source whose key moves on, as an aws-kms: alias does: it yields only the
// key its alias points at now, and reads any key it ever had by id (sources.Historian). The
// planner's part is tested here without KMS; internal/integration runs it against local-kms.
type aliasSource struct {
	spec    string
	current byte            // the seed of the key the alias points at
	gone    map[byte]error  // keys KeyByID fails for
	reads   map[string]int  // KeyByID calls by id
	swap    map[byte][]byte // ids whose material changed (a wrong id recorded): seed to X
}

func aliasKey(spec string, seed byte) sources.Key {
	pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	id := fmt.Sprintf("arn:aws:kms:eu-west-1:111122223333:key/id%d", seed)
	return sources.Key{Kty: sources.KtyOKP, Crv: "Ed25519", X: pub, KID: fmt.Sprintf("k%d", seed), Name: fmt.Sprintf("id%d", seed), SourceKey: id,
		Origin: sources.Origin{Source: spec, Location: "key " + id}}
}

func (a *aliasSource) String() string { return a.spec }
func (a *aliasSource) Keys(context.Context) ([]sources.Key, error) {
	return []sources.Key{aliasKey(a.spec, a.current)}, nil
}

func (a *aliasSource) KeyByID(_ context.Context, id string) (sources.Key, error) {
	if a.reads == nil {
		a.reads = map[string]int{}
	}
	a.reads[id]++
	var seed byte
	if _, err := fmt.Sscanf(id[strings.LastIndex(id, "/")+1:], "id%d", &seed); err != nil {
		return sources.Key{}, err
	}
	if err := a.gone[seed]; err != nil {
		return sources.Key{}, err
	}
	k := aliasKey(a.spec, seed)
	if x, ok := a.swap[seed]; ok {
		k.X = x
	}
	return k, nil
}

// goneErr is what a Historian returns for a disabled key.
type goneErr struct{ error }

func (goneErr) Gone() bool { return true }

type unreachableErr struct{ error }

func (unreachableErr) Unavailable() bool { return true }

const aliasSpec = "aws-kms:alias/jwt"

// historyRun builds the set from src and publishes it at now, as `jwkspub publish` does.
func historyRun(t *testing.T, tg Destination, cfg *config.SetConfig, src *aliasSource, now time.Time, g GuardOptions) (*Plan, error) {
	t.Helper()
	set, err := Build(context.Background(), BuildOptions{Set: cfg, Sources: []sources.Source{src}, Now: now, KeepsLive: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanTarget(context.Background(), tg, PlanOptions{Set: cfg, Keys: set, Now: now, Version: "test", AllowRemoval: g.AllowRemoval})
	if err != nil {
		return nil, err
	}
	if err := Guard([]*Plan{p}, g); err != nil {
		return p, err
	}
	return p, Apply(context.Background(), p)
}

func targetState(t *testing.T, dir string) *rotation.State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".well-known", "jwks.json.state.json"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := rotation.ParseState(b)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func liveKeys(t *testing.T, doc []byte) []jwks.LiveKey {
	t.Helper()
	live, err := jwks.ParseLive(doc)
	if err != nil {
		t.Fatal(err)
	}
	return live
}

// The alias moves from k1 to k2: k1 stays, read again by the id the state recorded, k2
// supersedes it and is the key to sign with; once the rules allow, k1 goes.
func TestHistoryKeepsTheAliasesEarlierKey(t *testing.T) {
	dir := t.TempDir()
	tg, cfg := fileTarget(t, dir), testSet("prod") // max-age 60s, max_token_lifetime 24h
	src := &aliasSource{spec: aliasSpec, current: 1}
	if _, err := historyRun(t, tg, cfg, src, t0, GuardOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := targetState(t, dir).Key("k1").SourceKey, "arn:aws:kms:eu-west-1:111122223333:key/id1"; got != want {
		t.Fatalf("state source_key = %q, want %q", got, want)
	}

	src.current = 2
	moved := t0.Add(time.Hour)
	p, err := historyRun(t, tg, cfg, src, moved, GuardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := actions(p), "k1:keep k2:add"; got != want {
		t.Errorf("plan %q, want %q", got, want)
	}
	if src.reads["arn:aws:kms:eu-west-1:111122223333:key/id1"] != 1 {
		t.Errorf("k1 read by id %v, want once", src.reads)
	}
	st := targetState(t, dir)
	if k1 := st.Key("k1"); k1.Superseded == nil || !k1.Superseded.Equal(moved) || !k1.Live() || k1.SourceKey == "" {
		t.Errorf("k1 in the state: %+v, want live, superseded at %s, its source_key kept", k1, moved)
	}
	doc, _ := os.ReadFile(filepath.Join(dir, ".well-known", "jwks.json"))
	tl := rotation.TimelineOf("prod", cfg.Rotation, tg.URL, st, liveKeys(t, doc), cfg.Output.CacheControl, moved.Add(2*time.Minute))
	if tl.SignWith != "k2" {
		t.Errorf("sign with %q, want k2 (the alias's key)", tl.SignWith)
	}

	// Before the removal time, k1 is kept run after run; at it, it goes and the guard agrees.
	removable := moved.Add(time.Minute + 24*time.Hour)
	if p, err := historyRun(t, tg, cfg, src, removable.Add(-time.Second), GuardOptions{}); err != nil || actions(p) != "k1:keep k2:keep" {
		t.Fatalf("a second before removal: plan %q, err %v", actions(p), err)
	}
	p, err = historyRun(t, tg, cfg, src, removable, GuardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := actions(p), "k1:remove k2:keep"; got != want {
		t.Errorf("at the removal time: plan %q, want %q", got, want)
	}
	if targetState(t, dir).Key("k1").Live() {
		t.Error("k1 still live in the state after its removal")
	}
}

// An earlier key the source says is gone is not kept: its removal is the guard's to judge, and
// the refusal names the key and why it went. Other read failures stop the plan.
func TestHistoryGoneKey(t *testing.T) {
	disabled := &sources.Error{Origin: sources.Origin{Source: aliasSpec, Location: "earlier key arn:aws:kms:eu-west-1:111122223333:key/id1"},
		Err: goneErr{errors.New("key cannot be published: key id1 is Disabled, not Enabled")}, Fix: "enable it again (aws kms enable-key) until the rotation guard lets it go"}
	tests := []struct {
		name    string
		err     error
		allow   []string
		at      time.Duration // after the move
		want    string        // in the error; "" for success
		actions string
	}{
		{name: "disabled early", err: disabled, at: time.Hour,
			want: `kid "k1": removal-too-early: it leaves the set because aws-kms:alias/jwt earlier key arn:aws:kms:eu-west-1:111122223333:key/id1: key cannot be published: key id1 is Disabled, not Enabled; removable from`},
		{name: "disabled, fix", err: disabled, at: time.Hour, want: "(fix: enable it again (aws kms enable-key) until the rotation guard lets it go; or keep it in the sources"},
		{name: "disabled, allowed", err: disabled, at: time.Hour, allow: []string{"k1"}, actions: "k1:remove k2:keep"},
		{name: "disabled after the removal time", err: disabled, at: 25 * time.Hour, actions: "k1:remove k2:keep"},
		{name: "unreachable", err: unreachableErr{errors.New("AWS KMS unreachable: timeout")}, at: time.Hour,
			want: `kid "k1" stays published until the rotation guard lets it go, but reading it again failed: AWS KMS unreachable: timeout`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tg, cfg := fileTarget(t, dir), testSet("prod")
			src := &aliasSource{spec: aliasSpec, current: 1}
			if _, err := historyRun(t, tg, cfg, src, t0, GuardOptions{}); err != nil {
				t.Fatal(err)
			}
			src.current = 2
			if _, err := historyRun(t, tg, cfg, src, t0.Add(time.Minute), GuardOptions{}); err != nil {
				t.Fatal(err)
			}
			src.gone = map[byte]error{1: tc.err}
			before, _ := os.ReadFile(filepath.Join(dir, ".well-known", "jwks.json"))
			p, err := historyRun(t, tg, cfg, src, t0.Add(time.Minute+tc.at), GuardOptions{AllowRemoval: tc.allow})
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v\nwant it to contain %s", err, tc.want)
				}
				if after, _ := os.ReadFile(filepath.Join(dir, ".well-known", "jwks.json")); !bytes.Equal(before, after) {
					t.Error("the document changed although the run failed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := actions(p); got != tc.actions {
				t.Errorf("plan %q, want %q", got, tc.actions)
			}
		})
	}
}

// The source gives other material under the recorded id: the plan stops rather than publish
// it under the live kid, or drop the live key.
func TestHistoryMaterialChanged(t *testing.T) {
	dir := t.TempDir()
	tg, cfg := fileTarget(t, dir), testSet("prod")
	src := &aliasSource{spec: aliasSpec, current: 1}
	if _, err := historyRun(t, tg, cfg, src, t0, GuardOptions{}); err != nil {
		t.Fatal(err)
	}
	src.current = 2
	src.swap = map[byte][]byte{1: aliasKey(aliasSpec, 3).X}
	_, err := historyRun(t, tg, cfg, src, t0.Add(time.Hour), GuardOptions{})
	if err == nil || !strings.Contains(err.Error(), `kid "k1": aws-kms:alias/jwt arn:aws:kms:eu-west-1:111122223333:key/id1 now gives key material of thumbprint`) {
		t.Fatalf("err = %v", err)
	}
}

// Two earlier keys removable at once leave one per publication, as max_removed (1) allows.
func TestHistoryRemovesAtMostMaxRemoved(t *testing.T) {
	dir := t.TempDir()
	tg, cfg := fileTarget(t, dir), testSet("prod")
	src := &aliasSource{spec: aliasSpec, current: 1}
	for i, at := range []time.Duration{0, time.Minute, 2 * time.Minute} {
		src.current = byte(i + 1)
		if _, err := historyRun(t, tg, cfg, src, t0.Add(at), GuardOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	late := t0.Add(48 * time.Hour)
	p, err := historyRun(t, tg, cfg, src, late, GuardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := actions(p), "k1:remove k2:keep k3:keep"; got != want {
		t.Errorf("first: plan %q, want %q", got, want)
	}
	p, err = historyRun(t, tg, cfg, src, late.Add(time.Minute), GuardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := actions(p), "k2:remove k3:keep"; got != want {
		t.Errorf("second: plan %q, want %q", got, want)
	}
}
