package issuer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jwkspub/jwkspub/internal/httpsrule"
	"github.com/jwkspub/jwkspub/sources"
)

// Errors a document is refused with, for errors.Is. Each is wrapped with the URL and a fix.
var (
	// ErrHTML: the issuer answered 200 with an HTML page (a login page, a proxy's error page, a
	// wrong path on a single-page app) where a JSON document belongs.
	ErrHTML = errors.New("an HTML page, not a JWK Set")
	// ErrNotDocument: the answer is neither a JWK Set nor a discovery document.
	ErrNotDocument = errors.New("neither a JWK Set nor an OpenID discovery document")
	// ErrPrivateMember: the issuer's JWK Set carries private key material. It wraps
	// sources.ErrPrivateKey, as every refusal of private input does.
	ErrPrivateMember = fmt.Errorf("%w in the issuer's JWK Set", sources.ErrPrivateKey)
	// ErrDuplicateKID: two keys of the issuer's JWK Set share a kid, so verifiers cannot tell
	// which one signed a token.
	ErrDuplicateKID = errors.New("duplicate kid in the issuer's JWK Set")
	// ErrJWKSURI: a discovery document's jwks_uri is missing, not a URL, or breaks the https rule.
	ErrJWKSURI = errors.New("unusable jwks_uri")
)

// Document is what one fetched answer turned out to be: a JWK Set's keys, or the jwks_uri of
// a discovery document (Keys nil).
type Document struct {
	Keys    []sources.Key
	JWKSURI string
}

// ParseDocument reads one answer of an issuer: a JWK Set ({"keys": [...]}) or an OpenID
// discovery document (with "jwks_uri"). contentType is the answer's Content-Type header, so
// that an HTML page is named as one. at names the URL in every error. The whole document is
// refused, not only the key, when a key carries private members or two keys share a kid: both
// mean the issuer's endpoint is broken, and publishing the rest would hide it.
//
// opts' DerivePublic and ReportPrivate are ignored: private material from an issuer is never
// turned into a public key, whatever the run allows for local files.
func ParseDocument(body []byte, contentType string, at sources.Origin, opts sources.Options) (Document, error) {
	opts.DerivePublic, opts.ReportPrivate = false, false
	fail := func(err error, fix string) (Document, error) {
		return Document{}, &sources.Error{Origin: at, Err: err, Fix: fix}
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), " \t\r\n")
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "text/html" || mt == "application/xhtml+xml" || len(trimmed) > 0 && trimmed[0] == '<' {
		return fail(ErrHTML, "check the URL: a login page, a proxy's error page or a wrong path answers 200 with HTML; give the issuer's JWKS URL or its /.well-known/openid-configuration")
	}
	var top map[string]json.RawMessage
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &top) != nil {
		return fail(fmt.Errorf("%w: not a JSON object", ErrNotDocument), "give the issuer's JWKS URL or its /.well-known/openid-configuration")
	}
	if _, ok := top["keys"]; !ok {
		raw, ok := top["jwks_uri"]
		if !ok {
			return fail(fmt.Errorf("%w: it has no \"keys\" and no \"jwks_uri\"", ErrNotDocument), "give the issuer's JWKS URL or its /.well-known/openid-configuration")
		}
		var uri string
		if err := json.Unmarshal(raw, &uri); err != nil || uri == "" {
			return fail(fmt.Errorf("%w: jwks_uri is not a non-empty string", ErrJWKSURI), "fix the issuer's discovery document, or give its JWKS URL directly")
		}
		if err := CheckURL(uri); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrJWKSURI, err), "the issuer must serve its keys over https; give its JWKS URL directly if it does")
		}
		return Document{JWKSURI: uri}, nil
	}
	if err := scanKeys(top["keys"], at); err != nil {
		return Document{}, err
	}
	keys, err := sources.ParseJWK(trimmed, at, opts)
	if err != nil {
		return Document{}, err
	}
	return Document{Keys: keys}, nil
}

// scanKeys refuses a JWK Set whose keys carry private members or repeat a kid, naming every
// such key. Elements that are not objects are left to sources.ParseJWK to name.
func scanKeys(raw json.RawMessage, at sources.Origin) error {
	var elems []map[string]json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		return nil // not an array of objects: ParseJWK says what is wrong
	}
	var (
		errs  []error
		first = map[string]int{} // kid → the key that first had it, from 1
	)
	for i, m := range elems {
		kat := at
		kat.Location = joinLoc(at.Location, "key "+strconv.Itoa(i+1))
		kid := ""
		if r, ok := m["kid"]; ok {
			_ = json.Unmarshal(r, &kid)
		}
		var private []string
		for name := range m {
			if sources.IsPrivateMember(name) {
				private = append(private, name)
			}
		}
		if len(private) > 0 {
			slices.Sort(private)
			errs = append(errs, &sources.Error{Origin: kat, Err: fmt.Errorf("%w: key%s has member(s) %s", ErrPrivateMember, kidNote(kid), strings.Join(private, ", ")),
				Fix: "the issuer publishes secret key material: rotate those keys and fix its JWKS endpoint; jwkspub publishes nothing from it meanwhile"})
		}
		if kid == "" {
			continue
		}
		if j, ok := first[kid]; ok {
			errs = append(errs, &sources.Error{Origin: kat, Err: fmt.Errorf("%w: kid %q is also key %d's", ErrDuplicateKID, kid, j),
				Fix: "the issuer must give each key its own kid; until it does, verifiers may pick the wrong key"})
			continue
		}
		first[kid] = i + 1
	}
	if len(errs) > sources.ListLimit {
		return &sources.List{Errs: errs}
	}
	return errors.Join(errs...)
}

func kidNote(kid string) string {
	if kid == "" {
		return ""
	}
	return fmt.Sprintf(" (kid %q)", kid)
}

func joinLoc(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// ErrInsecureURL is wrapped by refusals of a URL the rule forbids.
var ErrInsecureURL = errors.New("insecure issuer URL")

// CheckURL applies the one https rule (internal/httpsrule) to an issuer URL: https, or plain
// http to a loopback host. It also refuses credentials in the URL, which would end up in
// messages: a bearer token goes in token_file.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if u.User != nil {
		return fmt.Errorf("%w: %s carries credentials in the URL; put a bearer token in token_file instead", ErrInsecureURL, u.Redacted())
	}
	switch httpsrule.Check(u) {
	case httpsrule.OK:
		return nil
	case httpsrule.NoHost:
		return fmt.Errorf("%q has no host", raw)
	case httpsrule.PlainHTTP:
		return fmt.Errorf("%w: %q is plain http to a non-loopback host; keys must come over TLS (use https://)", ErrInsecureURL, raw)
	}
	return fmt.Errorf("%w: %q: scheme %q is not https", ErrInsecureURL, raw, u.Scheme)
}
