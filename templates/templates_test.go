package templates

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite ../nginx/ from the templates")

// TestNginxDirIsRendered keeps the files under nginx/ equal to the templates rendered with
// Defaults: the templates are the one source of truth. Regenerate with
// go test ./templates -update.
func TestNginxDirIsRendered(t *testing.T) {
	got, err := Render(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{NginxConf, Dockerfile} {
		path := filepath.Join("..", "nginx", name)
		if *update {
			if err := os.WriteFile(path, got[name], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./templates -update)", err)
		}
		if !bytes.Equal(got[name], want) {
			t.Errorf("nginx/%s differs from the template rendered with Defaults: run go test ./templates -update and review the diff", name)
		}
	}
}

func TestRenderSettings(t *testing.T) {
	p := Defaults()
	p.Listen = "127.0.0.1:8081"
	p.CacheControl = "public, max-age=60, stale-if-error=86400"
	p.ContentType = "application/jwk-set+json"
	p.Discovery = false
	p.AccessLog = "/var/tmp/access.log"
	p.TempDir = "/run/nginx"
	out, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	conf, docker := string(out[NginxConf]), string(out[Dockerfile])
	for _, want := range []string{
		"listen 127.0.0.1:8081;",
		`add_header Cache-Control "public, max-age=60, stale-if-error=86400";`,
		"default_type application/jwk-set+json;",
		"location = /.well-known/jwks.json {",
		"access_log /var/tmp/access.log jwkspub_json buffer=32k flush=1s;",
		"client_body_temp_path /run/nginx/client_body;",
		"server_tokens off;",
		"autoindex off;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	if strings.Contains(conf, "location = /.well-known/openid-configuration") {
		t.Error("nginx.conf serves the discovery document although Discovery is false")
	}
	for _, want := range []string{"EXPOSE 8081", `"http://127.0.0.1:8081/healthz"`, "FROM " + DefaultBaseImage} {
		if !strings.Contains(docker, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}

	p = Defaults()
	p.AccessLog = "off"
	out, err = Render(p)
	if err != nil {
		t.Fatal(err)
	}
	if conf := string(out[NginxConf]); !strings.Contains(conf, "\n    access_log off;\n") || strings.Contains(conf, "access_log off jwkspub_json") {
		t.Error("access log off is not rendered as access_log off")
	}

	p = Defaults()
	out, err = Render(p)
	if err != nil {
		t.Fatal(err)
	}
	conf = string(out[NginxConf])
	for _, want := range []string{"location = /.well-known/openid-configuration {", "listen 8080;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("default nginx.conf lacks %q", want)
		}
	}
}

// TestValidateRefuses: no value may add or break an nginx directive.
func TestValidateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Params)
		want string
	}{
		{"listen-injection", func(p *Params) { p.Listen = "8080; include /etc/passwd" }, "listen"},
		{"listen-port-range", func(p *Params) { p.Listen = "70000" }, "listen"},
		{"listen-leading-zero", func(p *Params) { p.Listen = "08080" }, "listen"},
		{"listen-hostname", func(p *Params) { p.Listen = "example.com:80" }, "listen"},
		{"cache-control-quote", func(p *Params) { p.CacheControl = `public"; add_header X "y` }, "cache-control"},
		{"cache-control-variable", func(p *Params) { p.CacheControl = "max-age=$arg_x" }, "cache-control"},
		{"cache-control-newline", func(p *Params) { p.CacheControl = "public\n}" }, "cache-control"},
		{"content-type", func(p *Params) { p.ContentType = "text/html" }, "content-type"},
		{"health-well-known", func(p *Params) { p.HealthPath = "/.well-known/jwks.json" }, "health path"},
		{"health-root", func(p *Params) { p.HealthPath = "/" }, "health path"},
		{"health-relative", func(p *Params) { p.HealthPath = "healthz" }, "health path"},
		{"temp-dotdot", func(p *Params) { p.TempDir = "/tmp/../etc" }, "temp dir"},
		{"temp-space", func(p *Params) { p.TempDir = "/tmp x" }, "temp dir"},
		{"access-log-semicolon", func(p *Params) { p.AccessLog = "/dev/stdout;" }, "access log"},
		{"error-log", func(p *Params) { p.ErrorLog = "syslog:server=x" }, "error log"},
		{"image-newline", func(p *Params) { p.BaseImage = "nginx\nRUN rm -rf /" }, "base image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Defaults()
			tc.edit(&p)
			_, err := Render(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Render: %v, want an error about %s", err, tc.want)
			}
		})
	}
	for _, ok := range []string{"8080", "127.0.0.1:8081", "[::1]:8080", "localhost:9000", "0.0.0.0:80"} {
		p := Defaults()
		p.Listen = ok
		if err := p.Validate(); err != nil {
			t.Errorf("listen %q refused: %v", ok, err)
		}
	}
}
