package file

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/publish/target"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw       string
		dir, name string
		mode      fs.FileMode
		err       string // substring; empty means success
	}{
		{raw: "file:///srv/www/.well-known/jwks.json", dir: "/srv/www/.well-known", name: "jwks.json", mode: 0o644},
		{raw: "file:///jwks.json", dir: "/", name: "jwks.json", mode: 0o644},
		{raw: "file:///srv/a/../b/jwks.json", dir: "/srv/b", name: "jwks.json", mode: 0o644},
		{raw: "file:///srv/www/jwks.json?mode=0640", dir: "/srv/www", name: "jwks.json", mode: 0o640},
		{raw: "file:///srv/www/jwks.json?mode=600", dir: "/srv/www", name: "jwks.json", mode: 0o600},
		{raw: "file:///srv/www/jwks.json?mode=0o444", dir: "/srv/www", name: "jwks.json", mode: 0o444},
		{raw: "file:///srv/my%20www/jwks.json", dir: "/srv/my www", name: "jwks.json", mode: 0o644},
		{raw: "file:///srv/www/jwks.json?mode=01644", err: "at most 0777"},
		{raw: "file:///srv/www/jwks.json?mode=0044", err: "does not let the owner read"},
		{raw: "file:///srv/www/jwks.json?mode=0x1a4", err: `mode "0x1a4" is not an octal file mode`},
		{raw: "file:///srv/www/jwks.json?mode=0644&mode=0640", err: "mode is given 2 times"},
		{raw: "file:///srv/www/jwks.json?mode=", err: "not an octal file mode"},
		{raw: "file:///srv/www/jwks.json?metadata=skip", err: `unknown parameter "metadata": a file target takes only mode`},
		{raw: "file:///srv/www/jwks.json?create_dir=true", err: `unknown parameter "create_dir"`},
		{raw: "file://host/srv/jwks.json", err: "absolute path"},
		{raw: "file:relative/jwks.json", err: "absolute path"},
		{raw: "file:///srv/www/", err: "must name the document"},
		{raw: "file:///", err: "must name the document"},
		{raw: "file:///srv/www/jwks.json#x", err: "no user or fragment"},
		{raw: "s3://bucket/jwks.json", err: "not a file:// URL"},
		{raw: "file:///srv/" + strings.Repeat("j", 240), err: "is too long"},
		{raw: "file:///srv/a%00b", err: "NUL"},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			dir, name, mode, err := ParseURL(tc.raw)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				if !strings.Contains(err.Error(), tc.raw[:min(len(tc.raw), 30)]) {
					t.Errorf("err = %v does not name the URL", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if dir != tc.dir || name != tc.name || mode != tc.mode {
				t.Errorf("= %q %q %#o, want %q %q %#o", dir, name, mode, tc.dir, tc.name, tc.mode)
			}
		})
	}
}

func TestTempNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		temp bool
	}{
		{tempName("jwks.json", "0123456789abcdef"), true},
		{tempName("openid-configuration", "ffffffffffffffff"), true},
		{".jwks.json.jwkspub-0123456789abcdef.tmp", true},
		{".jwks.json.jwkspub-0123456789ABCDEF.tmp", false},
		{".jwks.json.jwkspub-0123456789abcde.tmp", false},
		{".jwks.json.tmp", false},
		{"jwks.json.jwkspub-0123456789abcdef.tmp", false},
		{"..jwkspub-0123456789abcdef.tmp", false},
		{"jwks.json", false},
		{".jwks.json.jwkspub-0123456789abcdef.tmp.bak", false},
	} {
		if got := isTempName(tc.name); got != tc.temp {
			t.Errorf("isTempName(%q) = %v", tc.name, got)
		}
	}
}

func TestRevision(t *testing.T) {
	names := target.NamesFor("jwks.json", true)
	objs := func(kv ...string) map[string]*target.Object {
		m := map[string]*target.Object{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = &target.Object{Name: kv[i], Body: []byte(kv[i+1])}
		}
		return m
	}
	if got := revision(names, objs()); got != "" {
		t.Errorf("nothing present: revision %q", got)
	}
	seen := map[string]string{}
	for label, m := range map[string]map[string]*target.Object{
		"jwks":           objs("jwks.json", "ab"),
		"jwks other":     objs("jwks.json", "abc"),
		"state":          objs("jwks.json.state.json", "ab"),
		"jwks+empty gz":  objs("jwks.json", "ab", "jwks.json.gz", ""),
		"both split":     objs("jwks.json", "a", "jwks.json.gz", "b"),
		"both split 2":   objs("jwks.json", "ab", "jwks.json.gz", "b"),
		"empty jwks":     objs("jwks.json", ""),
		"not in the set": objs("jwks.json", "ab", "other", "x"),
	} {
		r := revision(names, m)
		if len(r) != 64 {
			t.Errorf("%s: revision %q", label, r)
		}
		if prev, ok := seen[r]; ok && label != "not in the set" && prev != "not in the set" {
			t.Errorf("%s and %s have the same revision", label, prev)
		}
		seen[r] = label
	}
	if revision(names, objs("jwks.json", "ab", "other", "x")) != revision(names, objs("jwks.json", "ab")) {
		t.Error("an object outside the set changed the revision")
	}
}
