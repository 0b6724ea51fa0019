package oci

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/jwkspub/jwkspub/internal/ocitest"
	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/templates"
)

// Documents as the publisher encodes them; the target never parses them.
const (
	jwksOne   = `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"one","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}` + "\n"
	jwksTwo   = `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"one","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},{"kty":"OKP","crv":"Ed25519","kid":"two","x":"3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"}]}` + "\n"
	discOne   = `{"issuer":"https://auth.example.com","jwks_uri":"https://auth.example.com/.well-known/jwks.json"}` + "\n"
	testCC    = "public, max-age=300"
	testCT    = "application/json"
	baseName1 = "127.0.0.1:5000/base:1"
)

// objects are a publication's objects at an image target, as the planner makes them: the
// JWKS, its .gz, the discovery document when disc is not empty, and the state object.
func objects(jwks, disc, state string) []target.Object {
	n := target.NamesFor(JWKSName, true)
	meta := map[string]string{target.MetaVersion: "test"}
	out := []target.Object{
		{Name: n.JWKS, Body: []byte(jwks), CacheControl: testCC, ContentType: testCT, Metadata: meta},
		{Name: n.Gzip, Body: templates.Gzip([]byte(jwks)), CacheControl: testCC, ContentType: testCT, ContentEncoding: "gzip", Metadata: meta},
	}
	if disc != "" {
		out = append(out, target.Object{Name: n.Discovery, Body: []byte(disc), CacheControl: testCC, ContentType: "application/json", Metadata: meta})
	}
	return append(out, target.Object{Name: n.State, Body: []byte(state), CacheControl: "no-cache", ContentType: "application/json", Metadata: meta})
}

func byName(objs []target.Object) map[string]*target.Object {
	m := map[string]*target.Object{}
	for i := range objs {
		m[objs[i].Name] = &objs[i]
	}
	return m
}

// offline is a target whose registry is never reached: for building only.
func offline(t testing.TB, set string) *Target {
	t.Helper()
	loc, err := ParseURL("oci://127.0.0.1:5000/keys:prod?base=" + baseName1)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := New(loc, Options{SetName: set})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// contextFiles are the build context Write makes of objs.
func contextFiles(t testing.TB, objs []target.Object) []File {
	t.Helper()
	files, _, err := offline(t, "prod").files(byName(objs), "")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func testBase(t testing.TB, docker bool) v1.Image {
	t.Helper()
	img, err := ocitest.Base("base 1", docker)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func buildTestImage(t *testing.T, base v1.Image, files []File) v1.Image {
	t.Helper()
	img, err := BuildImage(ImageOptions{Base: base, BaseName: baseName1, Files: files, Labels: map[string]string{LabelSet: "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// topLayer reads the document layer's headers and contents.
func topLayer(t *testing.T, img v1.Image) ([]*tar.Header, map[string][]byte) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[len(layers)-1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var hs []*tar.Header
	data := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
		b, _ := io.ReadAll(tr)
		data[h.Name] = b
	}
	return hs, data
}

// TestBuildImageReproducible: equal objects, base and settings give the same digest at any
// time and in any order; each input that matters (documents, state, base) changes it.
func TestBuildImageReproducible(t *testing.T) {
	files := contextFiles(t, objects(jwksOne, discOne, `{"state":1}`))
	base := testBase(t, false)
	first := digestOf(t, buildTestImage(t, base, files))

	// Built again, from the files in another order, at another time: the same digest.
	time.Sleep(1100 * time.Millisecond) // a build time anywhere would now differ
	rev := slices.Clone(files)
	slices.Reverse(rev)
	if again := digestOf(t, buildTestImage(t, testBase(t, false), rev)); again != first {
		t.Fatalf("same inputs, digests %s and %s", first, again)
	}

	rotated := digestOf(t, buildTestImage(t, base, contextFiles(t, objects(jwksTwo, discOne, `{"state":1}`))))
	newState := digestOf(t, buildTestImage(t, base, contextFiles(t, objects(jwksOne, discOne, `{"state":2}`))))
	otherBase, err := ocitest.Base("base 2", false)
	if err != nil {
		t.Fatal(err)
	}
	rebased := digestOf(t, buildTestImage(t, otherBase, files))
	seen := map[v1.Hash]string{first: "first"}
	for name, d := range map[string]v1.Hash{"rotation": rotated, "state": newState, "base": rebased} {
		if prev, dup := seen[d]; dup {
			t.Errorf("%s gives the digest of %s: %s", name, prev, d)
		}
		seen[d] = name
	}
}

func TestBuildImageLayer(t *testing.T) {
	files := contextFiles(t, objects(jwksOne, discOne, `{"state":1}`))
	img := buildTestImage(t, testBase(t, false), files)
	hs, data := topLayer(t, img)

	wantNames := []string{
		"srv/", "srv/jwkspub/", "srv/jwkspub/html/", "srv/jwkspub/html/.well-known/",
		"srv/jwkspub/html/.well-known/jwks.json", "srv/jwkspub/html/.well-known/jwks.json.gz",
		"srv/jwkspub/html/.well-known/jwks.json.state.json",
		"srv/jwkspub/html/.well-known/openid-configuration", "srv/jwkspub/html/.well-known/openid-configuration.gz",
		"srv/jwkspub/nginx.conf",
	}
	var names []string
	for _, h := range hs {
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d %q:%q, want 0:0 without names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		wantMode := int64(0o644)
		if h.Typeflag == tar.TypeDir {
			wantMode = 0o755
		}
		if h.Mode != wantMode {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, wantMode)
		}
	}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("layer entries:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(wantNames, "\n"))
	}
	// Each file is the context's, byte for byte, with its content-derived time; the
	// Dockerfile is not in the image.
	for _, f := range files {
		if f.Path == templates.Dockerfile {
			continue
		}
		name := "srv/jwkspub/" + f.Path
		if !bytes.Equal(data[name], f.Data) {
			t.Errorf("%s differs from the context's %s", name, f.Path)
		}
		for _, h := range hs {
			if h.Name == name && !h.ModTime.Equal(f.ModTime) {
				t.Errorf("%s: mtime %s, want %s", name, h.ModTime, f.ModTime)
			}
		}
	}
	// The discovery document's .gz is made here, from the document.
	if !bytes.Equal(data["srv/jwkspub/html/.well-known/openid-configuration.gz"], templates.Gzip([]byte(discOne))) {
		t.Error("openid-configuration.gz is not the gzip of the discovery document")
	}
}

func TestBuildImageConfig(t *testing.T) {
	for _, docker := range []bool{false, true} {
		base := testBase(t, docker)
		files := contextFiles(t, objects(jwksOne, "", "{}"))
		img := buildTestImage(t, base, files)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		// What the rendered Dockerfile says, as docker build would apply it.
		if c.User != "101" {
			t.Errorf("User %q, want the Dockerfile's 101", c.User)
		}
		wantEntry := []string{"nginx", "-p", "/srv/jwkspub/", "-c", "/srv/jwkspub/nginx.conf", "-e", "stderr", "-g", "daemon off; pid /tmp/nginx.pid;"}
		if !slices.Equal(c.Entrypoint, wantEntry) || len(c.Cmd) != 0 {
			t.Errorf("Entrypoint %q Cmd %q, want %q and none (CMD [] clears the base's)", c.Entrypoint, c.Cmd, wantEntry)
		}
		if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"}) ||
			c.Healthcheck.Interval != 30*time.Second || c.Healthcheck.Timeout != 3*time.Second || c.Healthcheck.StartPeriod != 5*time.Second || c.Healthcheck.Retries != 3 {
			t.Errorf("Healthcheck %+v", c.Healthcheck)
		}
		if _, ok := c.ExposedPorts["8080/tcp"]; !ok || c.StopSignal != "SIGQUIT" {
			t.Errorf("ExposedPorts %v StopSignal %q", c.ExposedPorts, c.StopSignal)
		}
		// The base's environment, working directory and labels are kept; ours are added.
		if !slices.Equal(c.Env, ocitest.BaseConfig.Env) || c.WorkingDir != ocitest.BaseConfig.WorkingDir {
			t.Errorf("Env %q WorkingDir %q, want the base's", c.Env, c.WorkingDir)
		}
		baseDigest := digestOf(t, base)
		for k, v := range map[string]string{"maintainer": "base image test", LabelSet: "prod", LabelBaseName: baseName1, LabelBaseDigest: baseDigest.String()} {
			if c.Labels[k] != v {
				t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
			}
		}
		// No build time: created is the newest file's content-derived time.
		var newest time.Time
		for _, f := range files {
			if f.Path != templates.Dockerfile && f.ModTime.After(newest) {
				newest = f.ModTime
			}
		}
		if !cf.Created.Time.Equal(newest) || !cf.History[len(cf.History)-1].Created.Time.Equal(newest) {
			t.Errorf("created %s, history %s; want %s", cf.Created, cf.History[len(cf.History)-1].Created, newest)
		}
		// The layer's media type follows the base's manifest.
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		wantMT := map[bool]types.MediaType{false: types.OCILayer, true: types.DockerLayer}[docker]
		if got := m.Layers[len(m.Layers)-1].MediaType; got != wantMT || len(m.Layers) != 2 {
			t.Errorf("layers %d, top media type %s, want 2 and %s", len(m.Layers), got, wantMT)
		}
	}
}

// TestBuildImageFollowsDockerfile checks the image against the Dockerfile the context holds:
// every COPY'd path is in the layer, and nothing else.
func TestBuildImageFollowsDockerfile(t *testing.T) {
	objs := objects(jwksOne, "", "{}")
	objs = slices.DeleteFunc(objs, func(o target.Object) bool { return strings.HasSuffix(o.Name, target.StateSuffix) })
	files := contextFiles(t, objs)
	var dockerfile []byte
	for _, f := range files {
		if f.Path == templates.Dockerfile {
			dockerfile = f.Data
		}
	}
	spec, err := parseDockerfile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	want := []imageCopy{{"nginx.conf", "srv/jwkspub/nginx.conf"}, {"html/", "srv/jwkspub/html/"}}
	if !slices.Equal(spec.Copies, want) {
		t.Fatalf("COPY %v, want %v", spec.Copies, want)
	}
	_, data := topLayer(t, buildTestImage(t, testBase(t, false), files))
	if _, ok := data["srv/jwkspub/html/.well-known/openid-configuration"]; ok {
		t.Error("no discovery document given, yet one in the image")
	}
	if _, ok := data["srv/jwkspub/html/.well-known/jwks.json.state.json"]; ok {
		t.Error("no state given, yet a state file in the image")
	}
}

// TestNamesAreContextPaths: the objects' names are the paths `jwkspub render` writes, which
// the rendered Dockerfile copies under the document root.
func TestNamesAreContextPaths(t *testing.T) {
	tg := offline(t, "prod")
	n := tg.Names()
	want := target.Names{
		JWKS:      "html/.well-known/jwks.json",
		Gzip:      "html/.well-known/jwks.json.gz",
		Discovery: "html/.well-known/openid-configuration",
		State:     "html/.well-known/jwks.json.state.json",
		WellKnown: true,
	}
	if n != want {
		t.Fatalf("names %+v, want %+v", n, want)
	}
	for _, name := range n.All() {
		if got := tg.paths[name]; got != "srv/jwkspub/"+name {
			t.Errorf("%s lies at /%s in the image, want /srv/jwkspub/%s", name, got, name)
		}
	}
}

// BenchmarkBuildImage is the local part of every oci:// publication: render, build the layer
// and the config, and compute the digest compared with the tag's.
func BenchmarkBuildImage(b *testing.B) {
	tg := offline(b, "prod")
	objs := byName(objects(jwksTwo, discOne, "{}"))
	base := testBase(b, false)
	b.ResetTimer()
	for b.Loop() {
		img, err := tg.build(base, objs, "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := img.Digest(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLayerFiles(t *testing.T) {
	mod := templates.ModTimeEpoch
	big := bytes.Repeat([]byte("x"), maxLayerFile+1)
	tarBytes, err := writeTar([]layerEntry{
		{Name: "srv/", ModTime: mod},
		{Name: "srv/a.json", Data: []byte("a"), ModTime: mod},
		{Name: "srv/big.bin", Data: big, ModTime: mod},
		{Name: "srv/b.json", Data: []byte("b"), ModTime: mod},
	})
	if err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarBytes)), nil })
	if err != nil {
		t.Fatal(err)
	}
	// Only the named files are read; the large one is skipped unread.
	got, err := LayerFiles(layer, func(n string) bool { return strings.HasSuffix(n, ".json") })
	if err != nil || len(got) != 2 || string(got["srv/a.json"]) != "a" || string(got["srv/b.json"]) != "b" {
		t.Fatalf("got %d files (%v), want srv/a.json and srv/b.json", len(got), err)
	}
	// A document above the bound is refused, naming it.
	if _, err := LayerFiles(layer, nil); err == nil || !strings.Contains(err.Error(), "srv/big.bin") {
		t.Fatalf("error %v, want one naming srv/big.bin", err)
	}
}
