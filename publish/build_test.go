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

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/sources"
)

// fakeSource stands in for a buggy or failing source; real sources are tested in package sources.
type fakeSource struct {
	name string
	keys []sources.Key
	err  error
}

func (f fakeSource) Keys(context.Context) ([]sources.Key, error) { return f.keys, f.err }
func (f fakeSource) String() string                              { return f.name }

func TestBuildCatchesLeakySource(t *testing.T) {
	k := parseJWK(t, `{"kty":"OKP","crv":"Ed25519","x":"`+rfc8037X+`"}`)
	k.Members = append(k.Members, "d") // a source that forgot to strip the private scalar
	k.Origin = sources.Origin{Source: "leaky:src", Location: "key 0"}
	_, err := Build(context.Background(), BuildOptions{Set: &config.SetConfig{Name: "s"}, Sources: []sources.Source{fakeSource{name: "leaky:src", keys: []sources.Key{k}}}})
	var pe *jwks.PolicyError
	if !errors.As(err, &pe) || pe.Violations[0].Rule != "private-member" || !strings.Contains(err.Error(), "leaky:src key 0") {
		t.Fatalf("err = %v", err)
	}
}

func TestBuildReportsEverySourceError(t *testing.T) {
	good := parseJWK(t, `{"kty":"OKP","crv":"Ed25519","x":"`+rfc8037X+`"}`)
	weak := sources.Key{Kty: "RSA", N: []byte{0xc3}, E: []byte{1, 0, 1}, Origin: sources.Origin{Source: "s3"}}
	srcs := []sources.Source{
		fakeSource{name: "s1", err: errors.New("s1 is broken")},
		fakeSource{name: "s2", keys: []sources.Key{good}},
		fakeSource{name: "s3", keys: []sources.Key{weak}},
	}
	_, err := Build(context.Background(), BuildOptions{Set: &config.SetConfig{Name: "prod"}, Sources: srcs})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`set "prod"`, "s1 is broken", "rsa-min-bits"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// Only failing sources: the empty set is a consequence, not a second finding.
	_, err = Build(context.Background(), BuildOptions{Set: &config.SetConfig{Name: "prod"}, Sources: srcs[:1]})
	if err == nil || strings.Contains(err.Error(), "empty-set") {
		t.Errorf("err = %v", err)
	}
}

func TestBuildLogsWarnings(t *testing.T) {
	k := parseJWK(t, `{"kty":"OKP","crv":"Ed25519","x":"`+rfc8037X+`"}`)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	set, err := Build(context.Background(), BuildOptions{Set: &config.SetConfig{Name: "s"}, Sources: []sources.Source{fakeSource{name: "a", keys: []sources.Key{k, k}}}, Logger: log})
	if err != nil || len(set.Keys) != 1 {
		t.Fatalf("%v %v", set, err)
	}
	if !strings.Contains(logs.String(), "published once") {
		t.Errorf("warning not logged: %s", logs.String())
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "jwks.json")
	for _, content := range []string{"one", "two"} {
		if err := WriteFileAtomic(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if string(got) != content {
			t.Fatalf("got %q", got)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x.json"), []byte("x"), 0o644); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
