package oci

import (
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/templates"
)

func TestParseDockerfile(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
	}{
		{"minimal", "FROM x\n", ""},
		{"continuation", "FROM x\nHEALTHCHECK --interval=1s \\\n  CMD [\"true\"]\n", ""},
		{"healthcheck none", "FROM x\nHEALTHCHECK NONE\n", ""},
		{"no from", "USER 1\n", "exactly one FROM"},
		{"two froms", "FROM x\nFROM y\n", "line 2 (FROM): multi-stage"},
		{"run", "FROM x\nRUN apk add curl\n", "line 2 (RUN): not supported without Docker"},
		{"add", "FROM x\nADD a /a\n", "line 2 (ADD)"},
		{"copy flag", "FROM x\nCOPY --chown=1 a /a\n", "without flags"},
		{"copy relative", "FROM x\nCOPY a a\n", "absolute destination"},
		{"copy dir to file", "FROM x\nCOPY html/ /srv/html\n", "both paths ending in /"},
		{"shell entrypoint", "FROM x\nENTRYPOINT nginx -g daemon\n", "JSON form"},
		{"shell cmd", "FROM x\nCMD nginx\n", "JSON form"},
		{"bad port", "FROM x\nEXPOSE 80000\n", "not a port"},
		{"bad proto", "FROM x\nEXPOSE 80/sctp\n", "not a port"},
		{"user two words", "FROM x\nUSER a b\n", "one user"},
		{"healthcheck shell", "FROM x\nHEALTHCHECK CMD wget x\n", "JSON form"},
		{"healthcheck option", "FROM x\nHEALTHCHECK --bogus=1s CMD [\"x\"]\n", "unknown option --bogus"},
		{"healthcheck duration", "FROM x\nHEALTHCHECK --interval=soon CMD [\"x\"]\n", "not a duration"},
		{"healthcheck retries", "FROM x\nHEALTHCHECK --retries=-1 CMD [\"x\"]\n", "not a count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseDockerfile([]byte(tc.in))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func FuzzParseDockerfile(f *testing.F) {
	conf, err := templates.Render(templates.Defaults())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(conf[templates.Dockerfile])
	f.Add([]byte("FROM x\nHEALTHCHECK --interval=1s \\\n CMD [\"a\"]\nENTRYPOINT null\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := parseDockerfile(data)
		if err == nil && spec == nil {
			t.Fatal("no spec and no error")
		}
	})
}
