package templates

import (
	"strings"
	"testing"
)

// FuzzRender: whatever values Validate accepts, none can add a directive or break out of the
// configuration's quoting, and an accepted listen address is written as one token.
func FuzzRender(f *testing.F) {
	d := Defaults()
	f.Add(d.Listen, d.CacheControl, d.HealthPath, d.TempDir, d.AccessLog, d.BaseImage)
	f.Add("127.0.0.1:8081", "public, max-age=60, stale-if-error=600", "/ready", "/run/nginx", "off", "nginx@sha256:00")
	f.Add("8080; include /etc/passwd", `public"; add_header X "y`, "/h{", "/tmp x", "/dev/stdout;", "a\nRUN x")
	f.Add("[::1]:80", "max-age=$x", "/.well-known/x", "/tmp/../etc", "syslog:x", "-x")
	f.Fuzz(func(t *testing.T, listen, cc, health, temp, access, image string) {
		p := Defaults()
		p.Listen, p.CacheControl, p.HealthPath, p.TempDir, p.AccessLog, p.BaseImage = listen, cc, health, temp, access, image
		out, err := Render(p)
		if err != nil {
			return
		}
		for _, v := range []string{listen, health, temp, access, image} {
			if strings.ContainsAny(v, ";{}\"'$\\ \t\r\n#") {
				t.Fatalf("accepted %q, which can change the configuration", v)
			}
		}
		if strings.ContainsAny(cc, ";{}\"'$\\\t\r\n#") {
			t.Fatalf("accepted Cache-Control %q, which can change the configuration", cc)
		}
		conf := string(out[NginxConf])
		if !strings.Contains(conf, "\n        listen "+listen+";\n") {
			t.Fatalf("listen %q not written as one directive", listen)
		}
		if n := strings.Count(conf, "location "); n != 4 {
			t.Fatalf("%d locations, want 4", n)
		}
	})
}
