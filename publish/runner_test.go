package publish

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/target/file"
	"github.com/jwkspub/jwkspub/sources"
)

// fixedSource gives the keys of a set already assembled, so the runner's own work is tested.
type fixedSource struct{ keys []sources.Key }

func (s fixedSource) String() string { return "file:keys/*.pem" }
func (s fixedSource) Keys(context.Context) ([]sources.Key, error) {
	return s.keys, nil
}

func testRunner(t *testing.T, keys map[string][]sources.Key) *Runner {
	return &Runner{
		Sources: func(set *config.SetConfig) ([]sources.Source, error) {
			return []sources.Source{fixedSource{keys[set.Name]}}, nil
		},
		Open: func(_ context.Context, tc config.TargetConfig, _ *config.SetConfig) (Destination, error) {
			dir, name, _, err := file.ParseURL(tc.URL)
			if err != nil {
				return Destination{}, err
			}
			ft, err := file.New(dir, name, file.Options{CreateDir: true})
			if err != nil {
				return Destination{}, err
			}
			return Destination{URL: tc.URL, Target: ft}, nil
		},
		Identity: func(url string) (string, error) { return url, nil },
		Version:  "test",
		Parallel: 2,
	}
}

func sourceKeys(t *testing.T, seeds ...byte) []sources.Key {
	var out []sources.Key
	for _, k := range rotKeys(t, seeds...).Keys {
		out = append(out, sources.Key{Kty: sources.KtyOKP, Crv: "Ed25519", X: k.X, KID: k.KID, Origin: sources.Origin{Source: "file:keys/k.pem"}})
	}
	return out
}

func TestRunner(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := func(n string) string { return "file://" + filepath.Join(dir, n, "jwks.json") }
	set := func(name string, targets ...string) config.SetConfig {
		c := *testSet(name)
		for _, u := range targets {
			c.Targets = append(c.Targets, config.TargetConfig{URL: u})
		}
		return c
	}
	keys := map[string][]sources.Key{"a": sourceKeys(t, 1), "b": sourceKeys(t, 2)}

	t.Run("refusals before reading anything", func(t *testing.T) {
		r := testRunner(t, keys)
		for _, tc := range []struct {
			sets []config.SetConfig
			want string
		}{
			{[]config.SetConfig{set("a", url("x")), set("b", url("x"))}, `sets "a" and "b" both publish to`},
			{[]config.SetConfig{set("a")}, `set "a" has no targets`},
		} {
			_, err := r.Plan(ctx, tc.sets, t0)
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a ConfigError with %q", err, tc.want)
			}
		}
	})

	t.Run("a stale target does not stop the others; order is the configuration's", func(t *testing.T) {
		r := testRunner(t, keys)
		sets := []config.SetConfig{set("a", url("a1"), "file:///dev/null/x/jwks.json", url("a2")), set("b", url("b1"))}
		pl, err := r.Plan(ctx, sets, t0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range pl.Plans {
			got = append(got, p.Set+" "+filepath.Base(filepath.Dir(p.Target)))
		}
		if fmt.Sprint(got) != "[a a1 a a2 b b1]" || len(pl.Stale) != 1 || pl.Stale[0].Target != "file:///dev/null/x/jwks.json" {
			t.Fatalf("plans %v, stale %+v", got, pl.Stale)
		}
		res, _, err := r.Publish(ctx, pl.Plans, GuardOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range res {
			if x.Err != nil || !x.Written {
				t.Errorf("result %d: %+v", i, x)
			}
		}
		// Again: nothing to write anywhere.
		pl, _ = r.Plan(ctx, sets[1:], t0)
		res, _, _ = r.Publish(ctx, pl.Plans, GuardOptions{})
		if len(res) != 1 || res[0].Written {
			t.Errorf("unchanged run wrote: %+v", res)
		}
	})

	t.Run("one refusal stops every target", func(t *testing.T) {
		r := testRunner(t, keys)
		sets := []config.SetConfig{set("a", url("r1")), set("b", url("r2"))}
		pl, _ := r.Plan(ctx, sets, t0)
		if _, _, err := r.Publish(ctx, pl.Plans, GuardOptions{}); err != nil {
			t.Fatal(err)
		}
		r2 := testRunner(t, map[string][]sources.Key{"a": sourceKeys(t, 1, 3), "b": sourceKeys(t, 4)})
		pl, _ = r2.Plan(ctx, sets, t0)
		_, v, err := r2.Publish(ctx, pl.Plans, GuardOptions{})
		var ge *GuardError
		if !errors.As(err, &ge) {
			t.Fatalf("got %v, want the guard's refusal of b's key swap", err)
		}
		// The verdict the reports print is the refusal's: b refused, a not.
		if !slices.Equal(ge.Violations, v.Refused) || !v.Refuses("b", pl.Plans[1].Target) || v.Refuses("a", pl.Plans[0].Target) {
			t.Errorf("verdict %+v, error %+v", v, ge.Violations)
		}
		// a's addition was not written either.
		pl, _ = r2.Plan(ctx, sets[:1], t0)
		if !pl.Plans[0].Changed() {
			t.Error("set a was written although set b was refused")
		}
	})
}
