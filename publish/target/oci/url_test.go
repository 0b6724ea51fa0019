package oci

import (
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, tag, base, platform, err string
		settle                       time.Duration
	}{
		{in: "oci://127.0.0.1:5000/keys:prod?base=127.0.0.1:5000/base:1", tag: "127.0.0.1:5000/keys:prod", base: "127.0.0.1:5000/base:1", platform: "linux/amd64", settle: DefaultSettle},
		{in: "oci://registry.example.com/team/keys:v2", tag: "registry.example.com/team/keys:v2", base: "index.docker.io/nginxinc/nginx-unprivileged:1.28.0-alpine", platform: "linux/amd64", settle: DefaultSettle},
		{in: "oci://r.example.com/keys:prod?platform=linux/arm64", tag: "r.example.com/keys:prod", platform: "linux/arm64", base: "index.docker.io/nginxinc/nginx-unprivileged:1.28.0-alpine", settle: DefaultSettle},
		{in: "oci://r.example.com/keys:prod?settle=0", tag: "r.example.com/keys:prod", platform: "linux/amd64", base: "index.docker.io/nginxinc/nginx-unprivileged:1.28.0-alpine"},
		{in: "oci://r.example.com/keys:prod?settle=2500ms", tag: "r.example.com/keys:prod", platform: "linux/amd64", base: "index.docker.io/nginxinc/nginx-unprivileged:1.28.0-alpine", settle: 2500 * time.Millisecond},
		{in: "oci://r.example.com/keys:prod?settle=2", err: `settle=2 is not a duration from 0s to 1m0s (fix: settle=1s, the default, or settle=0 to skip`},
		{in: "oci://r.example.com/keys:prod?settle=-1s", err: `settle=-1s is not a duration`},
		{in: "oci://r.example.com/keys:prod?settle=2h", err: `settle=2h is not a duration`},
		{in: "oci://r.example.com/keys:prod?setle=1s", err: `unknown parameter "setle"; did you mean "settle"? (known: base, platform, settle)`},
		{in: "oci://r.example.com/keys", err: "with a tag"},
		{in: "oci://r.example.com/keys:prod?bsae=x", err: `unknown parameter "bsae"`},
		{in: "oci://user:pw@r.example.com/keys:prod", err: "want oci://"},
		{in: "oci://r.example.com/keys:prod?base=UPPER/Case", err: "base image"},
		{in: "s3://bucket/keys", err: "want oci://"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			loc, err := ParseURL(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "pw@") {
					t.Fatalf("error repeats the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if loc.Tag.Name() != tc.tag || loc.Base.Name() != tc.base || loc.Platform.String() != tc.platform || loc.Settle != tc.settle {
				t.Fatalf("got tag %s base %s platform %s settle %v", loc.Tag.Name(), loc.Base.Name(), loc.Platform.String(), loc.Settle)
			}
		})
	}
}
