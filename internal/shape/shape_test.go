// Package shape checks the layout's promises with `go list -deps`: which of jwkspub's packages
// may link the network, the cloud SDKs and the registry client. A dependency that crosses a
// line fails here, at the import that brought it, not in review.
package shape

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/jwkspub/jwkspub/"

// Families of packages, by import-path prefix.
var (
	cloudSDKs = []string{"github.com/aws/", "cloud.google.com/", "github.com/Azure/", "google.golang.org/api/", "gocloud.dev/"}
	registry  = []string{"github.com/google/go-containerregistry/"}
	network   = []string{"net/http", "net/rpc", "net/smtp", "github.com/hashicorp/vault/"}
)

// deps lists the packages pkg links, its test files left out.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-tags", "disable_grpc_modules", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func matching(list, prefixes []string) []string {
	var out []string
	for _, p := range list {
		for _, pre := range prefixes {
			if p == pre || strings.HasPrefix(p, pre) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func TestShape(t *testing.T) {
	for _, tc := range []struct {
		pkg    string
		forbid map[string][]string
		// beyond names the package pkg builds on, whose own dependencies are not held against
		// pkg (publish for the reports, which link net/http through publish/served). What is
		// checked is that pkg adds no such package of its own, and imports none directly.
		beyond string
	}{
		// The target contract is types and rules: no I/O of its own.
		{"publish/target", map[string][]string{"network": network, "cloud SDK": cloudSDKs, "registry client": registry}, ""},
		// The library face plans and guards; the targets it is handed do the I/O.
		{"publish", map[string][]string{"cloud SDK": cloudSDKs, "registry client": registry, "printer (the command prints)": {module + "publish/report"}}, ""},
		// The key model and the rotation rules are pure: no network, cloud or registry package.
		{"publish/jwks", map[string][]string{"network": network, "cloud SDK": cloudSDKs, "registry client": registry}, ""},
		{"publish/rotation", map[string][]string{"network": network, "cloud SDK": cloudSDKs, "registry client": registry}, ""},
		// What concerns a served URL fetches over net/http, and nothing else.
		{"publish/served", map[string][]string{"cloud SDK": cloudSDKs, "registry client": registry}, ""},
		// Reports format what publish returns; they add no network, cloud or registry package.
		{"publish/report", map[string][]string{"network": network, "cloud SDK": cloudSDKs, "registry client": registry}, "publish"},
		// The schema reads bytes it is handed (publish imports it, so it cannot import publish).
		{"publish/config", map[string][]string{"cloud SDK": cloudSDKs, "registry client": registry, "target implementation or report": {module + "publish/target/", module + "publish/report"}}, ""},
		{"publish/target/file", map[string][]string{"network": network, "cloud SDK": cloudSDKs, "registry client": registry}, ""},
		{"publish/target/blob", map[string][]string{"registry client": registry}, ""},
		{"publish/target/oci", map[string][]string{"cloud SDK": cloudSDKs}, ""},
		{"publish/target/targettest", map[string][]string{"cloud SDK": cloudSDKs, "registry client": registry}, ""},
		// keygen needs the key model only.
		{"internal/keygen", map[string][]string{"network": network, "cloud SDK": cloudSDKs, "registry client": registry}, ""},
		// Keys enter through parsers; only the sources in subpackages (sources/vault,
		// sources/issuer, sources/awskms) reach the network.
		{"sources", map[string][]string{"network": network, "cloud SDK": cloudSDKs, "registry client": registry}, ""},
		{"sources/vault", map[string][]string{"cloud SDK": cloudSDKs, "registry client": registry}, ""},
		// An issuer's URL is read over net/http and nothing else; publish is not its business.
		{"sources/issuer", map[string][]string{"cloud SDK": cloudSDKs, "registry client": registry, "publish package": {module + "publish"}}, ""},
		// AWS KMS keys come through the SDK's KMS client only: no other cloud, no storage.
		{"sources/awskms", map[string][]string{"registry client": registry, "other cloud SDK": {"cloud.google.com/", "github.com/Azure/", "google.golang.org/api/", "gocloud.dev/", "github.com/aws/aws-sdk-go-v2/service/s3"}, "publish package": {module + "publish"}}, ""},
		{"templates", map[string][]string{"network": network, "cloud SDK": cloudSDKs, "registry client": registry}, ""},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			d := deps(t, tc.pkg)
			if tc.beyond != "" {
				base := map[string]bool{}
				for _, p := range deps(t, tc.beyond) {
					base[p] = true
				}
				d = slices.DeleteFunc(d, func(p string) bool { return base[p] })
				// and pkg itself imports none, though sources already links it
				imports, err := exec.Command("go", "list", "-tags", "disable_grpc_modules", "-f", `{{join .Imports " "}}`, module+tc.pkg).Output()
				if err != nil {
					t.Fatal(err)
				}
				d = append(d, strings.Fields(string(imports))...)
				if len(matching(deps(t, tc.beyond), cloudSDKs)) > 0 || len(matching(deps(t, tc.beyond), registry)) > 0 {
					t.Errorf("%s links a cloud SDK or the registry client", tc.beyond)
				}
			}
			for what, prefixes := range tc.forbid {
				if bad := matching(d, prefixes); len(bad) > 0 {
					t.Errorf("%s links a %s: %s (run `go list -deps` and find the import that brings it)", tc.pkg, what, strings.Join(bad[:min(5, len(bad))], ", "))
				}
			}
		})
	}
	// Only the object-store target and the KMS source import a cloud SDK, and only the image
	// target the registry client, among the library's packages.
	all, err := exec.Command("go", "list", "-tags", "disable_grpc_modules", module+"...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(all)) {
		rel := strings.TrimPrefix(p, module)
		if strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "internal/") {
			continue // the binary wires everything; internal test helpers may reach services
		}
		imports, err := exec.Command("go", "list", "-tags", "disable_grpc_modules", "-f", `{{join .Imports " "}}`, p).Output()
		if err != nil {
			t.Fatal(err)
		}
		direct := strings.Fields(string(imports))
		if bad := matching(direct, cloudSDKs); len(bad) > 0 && rel != "publish/target/blob" && rel != "sources/awskms" {
			t.Errorf("%s imports a cloud SDK (%s): only publish/target/blob and sources/awskms may", rel, strings.Join(bad, ", "))
		}
		if bad := matching(direct, registry); len(bad) > 0 && rel != "publish/target/oci" {
			t.Errorf("%s imports go-containerregistry (%s): only publish/target/oci may", rel, strings.Join(bad, ", "))
		}
	}
}

// TestPure: the key model and the rotation rules take every input as an argument. They import
// no package that would let them reach a file, the network, a clock of their own making, a
// logger or a context.
func TestPure(t *testing.T) {
	io := []string{"context", "os", "io/fs", "net", "net/http", "log", "log/slog", "os/exec", "syscall"}
	for _, pkg := range []string{"publish/jwks", "publish/rotation"} {
		out, err := exec.Command("go", "list", "-tags", "disable_grpc_modules", "-f", `{{join .Imports " "}}`, module+pkg).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range strings.Fields(string(out)) {
			if slices.Contains(io, imp) {
				t.Errorf("%s imports %s: it must stay pure (take what it needs as an argument)", pkg, imp)
			}
		}
	}
}
