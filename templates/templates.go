// Package templates holds the nginx configuration and the Dockerfile of the image that serves a
// JWK Set, embedded in the binary. They are the one source of truth: the files under nginx/ in
// the repository are these templates rendered with Defaults, and a golden test keeps them equal.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

//go:embed nginx.conf.tmpl Dockerfile.tmpl
var files embed.FS

// File names in the build context.
const (
	NginxConf  = "nginx.conf"
	Dockerfile = "Dockerfile"
	// DocRoot is the directory, relative to nginx's prefix (-p), that documents are served from.
	DocRoot = "html"
)

// Paths that the configuration serves.
const (
	JWKSPath      = "/.well-known/jwks.json"
	DiscoveryPath = "/.well-known/openid-configuration"
)

// DefaultBaseImage is nginx's official unprivileged image (uid 101, port 8080), pinned to a
// release. Pin it by digest with Params.BaseImage for reproducible images.
const DefaultBaseImage = "nginxinc/nginx-unprivileged:1.28.0-alpine"

// Params are the settings the templates take. Every field is checked by Validate before it is
// written into a configuration, so no value can add a directive.
type Params struct {
	// Listen is nginx's listen address: a port ("8080") or host:port ("127.0.0.1:8081").
	Listen string
	// CacheControl is sent with both documents.
	CacheControl string
	// ContentType is the JWK Set's media type: application/json or application/jwk-set+json.
	ContentType string
	// Discovery serves the OpenID Connect discovery document too.
	Discovery bool
	// HealthPath answers 200 "ok" for health checks, without an access log line.
	HealthPath string
	// TempDir holds nginx's temporary directories; it must be writable (a tmpfs in the image).
	TempDir string
	// AccessLog is where JSON access log lines go: a file or /dev/stdout.
	AccessLog string
	// ErrorLog is nginx's error_log: "stderr" or a file.
	ErrorLog string
	// BaseImage is the Dockerfile's FROM.
	BaseImage string
}

// Defaults are the settings of the files under nginx/ and of `jwkspub render` without flags.
func Defaults() Params {
	return Params{
		Listen:       "8080",
		CacheControl: "public, max-age=900",
		ContentType:  "application/json",
		Discovery:    true,
		HealthPath:   "/healthz",
		TempDir:      "/tmp",
		AccessLog:    "/dev/stdout",
		ErrorLog:     "stderr",
		BaseImage:    DefaultBaseImage,
	}
}

var (
	// Cache-Control and paths are written inside double quotes or bare: none of quote,
	// semicolon, brace, $ (an nginx variable), backslash or whitespace other than a space in
	// Cache-Control may reach the configuration.
	cacheControlRE = regexp.MustCompile(`^[A-Za-z0-9=,\- ]+$`)
	pathRE         = regexp.MustCompile(`^/[A-Za-z0-9._/\-]*$`)
	imageRE        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@\-]*$`)
)

// Validate checks every field against what the templates can safely hold, and returns every
// problem at once.
func (p Params) Validate() error {
	var errs []error
	bad := func(field, value, want string) {
		errs = append(errs, fmt.Errorf("%s %q: %s", field, value, want))
	}
	if _, err := listenPort(p.Listen); err != nil {
		bad("listen", p.Listen, err.Error())
	}
	if !cacheControlRE.MatchString(p.CacheControl) {
		bad("cache-control", p.CacheControl, "use directives such as \"public, max-age=900\"")
	}
	switch p.ContentType {
	case "application/json", "application/jwk-set+json":
	default:
		bad("content-type", p.ContentType, "use application/json or application/jwk-set+json")
	}
	if !pathRE.MatchString(p.HealthPath) || p.HealthPath == "/" || strings.HasPrefix(p.HealthPath, "/.well-known/") || strings.Contains(p.HealthPath, "..") {
		bad("health path", p.HealthPath, "use an absolute path such as /healthz outside /.well-known/")
	}
	if !pathRE.MatchString(p.TempDir) || strings.Contains(p.TempDir, "..") || p.TempDir != path.Clean(p.TempDir) {
		bad("temp dir", p.TempDir, "use an absolute, clean path such as /tmp")
	}
	if p.AccessLog != "off" && (!pathRE.MatchString(p.AccessLog) || strings.Contains(p.AccessLog, "..")) {
		bad("access log", p.AccessLog, "use an absolute path, /dev/stdout or off")
	}
	if p.ErrorLog != "stderr" && (!pathRE.MatchString(p.ErrorLog) || strings.Contains(p.ErrorLog, "..")) {
		bad("error log", p.ErrorLog, "use stderr or an absolute path")
	}
	if !imageRE.MatchString(p.BaseImage) {
		bad("base image", p.BaseImage, "use an image reference such as "+DefaultBaseImage)
	}
	return errors.Join(errs...)
}

// listenPort checks a listen address and returns its port.
func listenPort(listen string) (int, error) {
	portText, host := listen, ""
	if strings.Contains(listen, ":") {
		var err error
		if host, portText, err = net.SplitHostPort(listen); err != nil {
			return 0, errors.New("use a port or host:port, e.g. 8080 or 127.0.0.1:8081")
		}
		if ip := net.ParseIP(host); ip == nil && host != "localhost" {
			return 0, errors.New("the host must be an IP address or localhost")
		}
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 || strconv.Itoa(port) != portText {
		return 0, errors.New("use a port or host:port, e.g. 8080 or 127.0.0.1:8081")
	}
	return port, nil
}

// document is one served file, for the nginx template.
type document struct {
	Path        string
	ContentType string
}

// data is what the templates see.
type data struct {
	Params
	Documents []document
	Port      int
	HealthURL string
}

var tmpl = template.Must(template.New("").Option("missingkey=error").ParseFS(files, "*.tmpl"))

// Render returns the nginx configuration and the Dockerfile for p, keyed by their file names
// (NginxConf, Dockerfile).
func Render(p Params) (map[string][]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("rendering nginx configuration: %w", err)
	}
	port, _ := listenPort(p.Listen)
	host := "127.0.0.1"
	if h, _, err := net.SplitHostPort(p.Listen); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
		host = h
	}
	d := data{
		Params:    p,
		Documents: []document{{JWKSPath, p.ContentType}},
		Port:      port,
		HealthURL: "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + p.HealthPath,
	}
	if p.Discovery {
		// The discovery document is always JSON (OpenID Connect Discovery §4).
		d.Documents = append(d.Documents, document{DiscoveryPath, "application/json"})
	}
	out := map[string][]byte{}
	for name, t := range map[string]string{NginxConf: "nginx.conf.tmpl", Dockerfile: "Dockerfile.tmpl"} {
		var b bytes.Buffer
		if err := tmpl.ExecuteTemplate(&b, t, d); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", name, err)
		}
		out[name] = b.Bytes()
	}
	return out, nil
}
