package targettest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/jwkspub/jwkspub/publish/target"
)

// Headers the suite writes with every object, as jwkspub would.
const (
	cacheControl = "public, max-age=300"
	contentType  = "application/json"
	gzipEncoding = "gzip"
	toolVersion  = "test"
)

// publication is one set of objects a publisher writes: a JWK Set of kids, its gzip when the
// target serves one, a discovery document and a state object that lists the kids the state
// knows. label tells publications apart in every object, so that "old or new" and "whose" can
// be decided object by object.
type publication struct {
	label     string
	jwksKids  []string
	stateKids []string
	// jwks, when set, is the JWKS body instead of one built from jwksKids, and the .gz
	// sibling is deleted (BigObject).
	jwks []byte
}

// pub is a publication whose JWKS and state list the same kids.
func pub(label string, kids ...string) publication {
	return publication{label: label, jwksKids: kids, stateKids: kids}
}

// objects returns the publication's objects at a target with names n, in jwkspub's write
// order: the JWKS, its .gz sibling, the discovery document, the state object.
func (p publication) objects(n target.Names) []target.Object {
	jwks := p.jwks
	if jwks == nil {
		jwks = jwksBody(p.jwksKids)
	}
	out := []target.Object{object(n.JWKS, jwks, "")}
	switch {
	case n.Gzip != "" && p.jwks != nil:
		// Compressing 4 MiB under the race detector takes seconds, for nothing the target
		// checks: the big publication turns gzip off.
		out = append(out, deleted(n.Gzip))
	case n.Gzip != "":
		out = append(out, object(n.Gzip, gzipBody(jwks), gzipEncoding))
	}
	disc, _ := json.Marshal(map[string]any{
		"issuer":                                "https://issuer.example/" + p.label,
		"jwks_uri":                              "https://issuer.example/" + n.JWKS,
		"id_token_signing_alg_values_supported": []string{"EdDSA"},
	})
	st, _ := json.Marshal(stateDoc{Version: 1, Publication: p.label, Kids: sorted(p.stateKids)})
	state := object(n.State, st, "")
	state.CacheControl = "no-cache" // as jwkspub writes it: never cached, never served by nginx
	return append(out, object(n.Discovery, disc, ""), state)
}

// object is a stored object with the headers and metadata jwkspub writes: the JWKS's
// Cache-Control and Content-Type on the JWKS, its .gz and the discovery document (an image
// serves them so and refuses others).
func object(name string, body []byte, encoding string) target.Object {
	o := target.Object{Name: name, Body: body, CacheControl: cacheControl, ContentType: contentType, ContentEncoding: encoding}
	o.Metadata = map[string]string{target.MetaSHA256: o.SHA256(), target.MetaVersion: toolVersion}
	return o
}

// deleted is the removal of the object called name.
func deleted(name string) target.Object { return target.Object{Name: name, Delete: true} }

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	X   string `json:"x"`
	// X5c pads the big JWKS with what makes real ones big: certificate chains.
	X5c []string `json:"x5c,omitempty"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

type stateDoc struct {
	Version     int      `json:"version"`
	Publication string   `json:"publication"`
	Kids        []string `json:"kids"`
}

// key is an Ed25519 public JWK whose x is derived from kid, so equal kids give equal bytes.
func key(kid string) jwk {
	x := sha256.Sum256([]byte(kid))
	return jwk{Kty: "OKP", Crv: "Ed25519", Use: "sig", Alg: "EdDSA", Kid: kid, X: base64.RawURLEncoding.EncodeToString(x[:])}
}

func jwksBody(kids []string) []byte {
	s := jwkSet{Keys: []jwk{}}
	for _, k := range sorted(kids) {
		s.Keys = append(s.Keys, key(k))
	}
	b, _ := json.Marshal(s)
	return b
}

// bigJWKS is a JWK Set of exactly size bytes: one key whose certificate chain fills the rest
// with base64 text. The chain is a random block repeated and spliced in rather than marshalled:
// encoding 4 MiB byte by byte under the race detector takes a second.
func bigJWKS(size int) []byte {
	k := key("big")
	k.X5c = []string{"@"}
	b, _ := json.Marshal(jwkSet{Keys: []jwk{k}})
	before, after, _ := bytes.Cut(b, []byte(`"@"`))
	n := size - len(before) - len(after) - 2
	block := make([]byte, 3<<10)
	_, _ = rand.NewChaCha8([32]byte{'t', 'a', 'r', 'g', 'e', 't'}).Read(block)
	pad := bytes.Repeat([]byte(base64.StdEncoding.EncodeToString(block)), n/(4<<10)+1)
	out := make([]byte, 0, size)
	out = append(append(out, before...), '"')
	out = append(out, pad[:n]...)
	return append(append(out, '"'), after...)
}

// gzipBody compresses b with no name or time in the header, so equal bodies give equal bytes.
func gzipBody(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// jwksKids parses a JWKS body and returns its kids.
func jwksKids(b []byte) ([]string, error) {
	var s jwkSet
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("the JWKS is not whole JSON: %w", err)
	}
	var kids []string
	for _, k := range s.Keys {
		kids = append(kids, k.Kid)
	}
	return sorted(kids), nil
}

// stateKids parses a state body and returns its kids.
func stateKids(b []byte) ([]string, error) {
	var s stateDoc
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("the state object is not whole JSON: %w", err)
	}
	return sorted(s.Kids), nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// differs says how live differs from want, or "" when live is want: its body and, where the
// target keeps them, its headers and body hash. The tool version in the metadata is
// informational (target.Object.Same ignores it), and an image keeps none per object.
func differs(want target.Object, live *target.Object, attributes bool) string {
	if live == nil {
		return "absent"
	}
	var d []string
	if live.Name != want.Name {
		d = append(d, fmt.Sprintf("named %q in its Object", live.Name))
	}
	sameBody := bytes.Equal(live.Body, want.Body)
	if !sameBody {
		d = append(d, fmt.Sprintf("body is %d bytes (sha256 %.12s), want %d bytes (sha256 %.12s)",
			len(live.Body), live.SHA256(), len(want.Body), want.SHA256()))
	}
	if attributes {
		for _, h := range []struct{ name, got, want string }{
			{"Cache-Control", live.CacheControl, want.CacheControl},
			{"Content-Type", live.ContentType, want.ContentType},
			{"Content-Encoding", live.ContentEncoding, want.ContentEncoding},
			{"metadata " + target.MetaSHA256, live.Metadata[target.MetaSHA256], want.Metadata[target.MetaSHA256]},
		} {
			// Another body has another hash: said once, by the body.
			if h.got != h.want && (sameBody || h.name != "metadata "+target.MetaSHA256) {
				d = append(d, fmt.Sprintf("%s is %q, want %q", h.name, h.got, h.want))
			}
		}
	}
	return strings.Join(d, "; ")
}
