package jwks

import (
	"bytes"
	"crypto/ecdh"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jwkspub/jwkspub/sources"
)

// Kid modes.
const (
	KIDKeepOrThumbprint = "keep-or-thumbprint"
	KIDThumbprint       = "thumbprint"
	KIDK8s              = "k8s"
	KIDTemplate         = "template"
)

// AssembleOptions configure Assemble.
type AssembleOptions struct {
	Policy Policy
	// KID is the set's kid mode: keep-or-thumbprint (default), thumbprint, k8s, or a Go
	// template (text containing "{{"), which KIDTemplate also supplies for mode "template".
	KID         string
	KIDTemplate string
	// Now is the time certificates are checked against. Zero means do not check validity.
	Now time.Time
}

// Set is an assembled, validated JWK Set.
type Set struct {
	Keys []JWK
	// Warnings are problems that do not stop publication (a certificate near expiry, the same
	// key given twice).
	Warnings []string
	// Unavailable lists the specs of optional sources that could not be reached (Build, see
	// sources.IsUnavailable). Their keys are not in Keys; PlanTarget keeps the ones that are
	// live at each target instead of removing them.
	Unavailable []string
	// History holds, by spec, the sources Build read that can read their earlier keys again
	// (sources.Historian): PlanTarget asks them for the live keys each target's state says
	// they gave, until the rotation rules let those go.
	History map[string]sources.Historian
}

// Violation is one reason a set is refused.
type Violation struct {
	Origin sources.Origin
	Key    string // "kid \"abc\"" or "key 3" when it has no kid yet
	Rule   string // short, stable rule name, e.g. "rsa-min-bits"
	Detail string // what exactly is wrong
	Fix    string // what to do about it
}

func (v Violation) String() string {
	var b strings.Builder
	if o := v.Origin.String(); o != "" {
		b.WriteString(o)
		b.WriteString(": ")
	}
	if v.Key != "" {
		b.WriteString(v.Key)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%s: %s", v.Rule, v.Detail)
	if v.Fix != "" {
		b.WriteString(" (fix: " + v.Fix + ")")
	}
	return b.String()
}

// PolicyError lists every violation found in a set. Nothing may be published when it is
// returned.
type PolicyError struct {
	Violations []Violation
}

// Error lists the first sources.ListLimit violations and counts the rest: a set of a hundred
// thousand duplicate keys printed 38 MB.
func (e *PolicyError) Error() string {
	return sources.Listed(fmt.Sprintf("refused by policy: %d violation(s)", len(e.Violations)), e.Violations)
}

// Assemble validates keys against the policy and builds the set to publish, in a stable order
// (by kid). It is a pure function of its arguments; it reports every violation at once in a
// *PolicyError and returns no set in that case.
func Assemble(keys []sources.Key, opts AssembleOptions) (*Set, error) {
	a := assembler{opts: opts, out: make([]JWK, 0, len(keys)), byKID: make(map[string]int, len(keys)), byThumb: make(map[string]int, len(keys))}
	if opts.KID == KIDTemplate && opts.KIDTemplate == "" {
		a.violate(sources.Origin{}, "", "kid-template", "kid mode is template but no template is set", "set kid_template, e.g. \"{{.Name}}-v{{.Version}}\"")
	}
	for i := range keys {
		a.add(i, &keys[i])
	}
	switch {
	case len(keys) == 0:
		a.violate(sources.Origin{}, "", "empty-set", "the sources gave no key; publishing an empty set would break every verifier", "check the sources, or keep the live set")
	case len(a.out) > opts.Policy.maxKeys():
		a.violate(sources.Origin{}, "", "max-keys", fmt.Sprintf("%d keys exceed the policy maximum of %d", len(a.out), opts.Policy.maxKeys()), maxKeysFix(a.out))
	}
	if len(a.violations) > 0 {
		return nil, &PolicyError{Violations: a.violations}
	}
	return &Set{Keys: sortByKID(a.out), Warnings: a.warnings}, nil
}

type assembler struct {
	opts       AssembleOptions
	out        []JWK
	byKID      map[string]int // kid → index in out
	byThumb    map[string]int // thumbprint → index in out
	violations []Violation
	warnings   []string
	templates  map[string]*template.Template
}

func (a *assembler) violate(o sources.Origin, key, rule, detail, fix string) {
	if o.Source != "" && strings.HasPrefix(key, "key ") {
		// The origin says where the key is ("file:set.json key 3", "block 2"); its position
		// among all the set's inputs would be a second, different number next to it.
		key = ""
	}
	a.violations = append(a.violations, Violation{Origin: o, Key: key, Rule: rule, Detail: detail, Fix: fix})
}

// label names a key in messages: its kid when it has one, else its position among the inputs,
// counted from 1 like every position in messages (violate drops it when the key has an origin).
// A kid too long to read is cut short: a template once produced a 1 MB kid.
func label(kid string, i int) string {
	if kid == "" {
		return fmt.Sprintf("key %d", i+1)
	}
	if len(kid) > maxKIDShown {
		cut := maxKIDShown
		for cut > 0 && !utf8.RuneStart(kid[cut]) {
			cut--
		}
		return fmt.Sprintf("kid %q… (%d bytes)", kid[:cut], len(kid))
	}
	return fmt.Sprintf("kid %q", kid)
}

// MaxKIDLength bounds a published kid in bytes. Real issuers' kids are thumbprints, UUIDs and
// dates, well under 100 bytes; verifiers copy the kid into every token header.
const MaxKIDLength = 256

// maxKIDShown is how much of a kid a message quotes.
const maxKIDShown = 64

// kidProblem says what is wrong with a kid about to be published, whatever produced it (the
// input, a template, Vault), or "" when nothing is.
func kidProblem(kid string) string {
	switch {
	case kid == "":
		return "the kid is empty"
	case len(kid) > MaxKIDLength:
		return fmt.Sprintf("the kid is %d bytes, longer than %d", len(kid), MaxKIDLength)
	case !utf8.ValidString(kid) || strings.IndexFunc(kid, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "the kid has unprintable characters"
	case strings.TrimSpace(kid) != kid:
		return "the kid has leading or trailing white space, which verifiers compare byte for byte"
	}
	return ""
}

// keyOpsProblem checks a key's "key_ops" against use "sig" (RFC 7517 §4.3: they must agree).
// A public signing key verifies; private input given with --derive-public may also say "sign".
func keyOpsProblem(ops []string, derived bool) string {
	var bad []string
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		if seen[op] {
			return fmt.Sprintf("key_ops lists %q twice (RFC 7517 §4.3)", op)
		}
		seen[op] = true
		if op != "verify" && (op != "sign" || !derived) {
			bad = append(bad, strconv.Quote(op))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	allowed := `"verify"`
	if derived {
		allowed = `"verify" and "sign"`
	}
	return fmt.Sprintf("key_ops %s do not agree with use \"sig\": a signing key may carry only %s", strings.Join(bad, ", "), allowed)
}

func (a *assembler) add(i int, k *sources.Key) {
	// The label is made only when there is something to say: most keys have nothing wrong.
	bad := func(rule, detail, fix string) { a.violate(k.Origin, label(k.KID, i), rule, detail, fix) }

	for _, m := range k.Members {
		if sources.IsPrivateMember(m) {
			bad("private-member", fmt.Sprintf("input carries private member %q", m), "give the public key only")
		}
	}
	j := JWK{Kty: k.Kty, Use: "sig", Origin: k.Origin, Spec: k.Spec, Order: k.Order, SourceKey: k.SourceKey}
	switch k.Kty {
	case sources.KtyOct:
		bad("symmetric-key", "kty \"oct\" is a shared secret, never publishable", "sign with an asymmetric key (RSA, EC or Ed25519) and publish its public half")
		return
	case sources.KtyRSA:
		j.N, j.E = trimZeros(k.N), trimZeros(k.E)
		if bits := bitLen(j.N); bits < a.opts.Policy.minRSABits() {
			bad("rsa-min-bits", fmt.Sprintf("RSA key has %d bits, the policy minimum is %d", bits, a.opts.Policy.minRSABits()), fmt.Sprintf("generate a key of at least %d bits (3072 recommended)", a.opts.Policy.minRSABits()))
		}
		if e, ok := smallInt(j.E); !ok || !a.opts.Policy.allowsExponent(e) {
			bad("rsa-exponent", fmt.Sprintf("RSA public exponent %s is not 65537", new(big.Int).SetBytes(j.E)), "generate a key with e=65537, or list the exponent in policy.rsa_exponents")
		}
		if rocaFingerprint(j.N) {
			bad("rsa-roca", "the RSA modulus has the ROCA fingerprint (CVE-2017-15361): it was made by a vulnerable Infineon library and can be factored", "generate a new key outside the affected smart card or TPM (update its firmware first)")
		}
	case sources.KtyEC:
		j.Crv = k.Crv
		w, ok := curveWidth[k.Crv]
		if !ok {
			bad("ec-curve", fmt.Sprintf("curve %q is not P-256, P-384 or P-521", k.Crv), "use a P-256, P-384 or P-521 key")
			return
		}
		x, xok := padTo(k.X, w)
		y, yok := padTo(k.Y, w)
		if !xok || !yok || !onCurve(k.Crv, x, y) {
			bad("ec-point", fmt.Sprintf("the point is not on curve %s", k.Crv), "the key is corrupt; export it again from its source")
			return
		}
		j.X, j.Y = x, y
	case sources.KtyOKP:
		j.Crv = k.Crv
		switch {
		case k.Crv != "Ed25519":
			bad("okp-curve", fmt.Sprintf("OKP curve %q is not Ed25519 (X25519 is for key agreement; Ed448 is not supported by common verifiers)", k.Crv), "use an Ed25519 key")
			return
		case len(k.X) != 32:
			bad("okp-key", fmt.Sprintf("Ed25519 public key is %d bytes, want 32", len(k.X)), "the key is corrupt; export it again from its source")
			return
		}
		if err := checkEd25519Point(k.X); err != nil {
			bad("okp-point", err.Error(), "the key is corrupt or forged; export it again from its private key")
			return
		}
		j.X = k.X
	default:
		bad("kty", fmt.Sprintf("unsupported kty %q", k.Kty), "use an RSA, EC or OKP (Ed25519) key")
		return
	}

	// alg: the configuration wins over inference; input and configuration must agree.
	j.Alg = k.ConfigAlg
	if j.Alg == "" {
		j.Alg = k.Alg
	} else if k.Alg != "" && k.Alg != k.ConfigAlg {
		bad("alg-conflict", fmt.Sprintf("input says alg %q but the source is configured with %q", k.Alg, k.ConfigAlg), "make them agree, or drop alg from one of them")
	}
	if j.Alg == "" {
		j.Alg = inferAlg(j.Kty, j.Crv)
	}
	if want, ok := algKty[j.Alg]; !ok {
		bad("alg", fmt.Sprintf("alg %q is not a supported asymmetric signing alg", j.Alg), "use one of "+strings.Join(SupportedAlgs, ", "))
	} else if want.kty != j.Kty || (want.crv != "" && want.crv != j.Crv) {
		have := j.Kty
		if j.Crv != "" {
			have += " " + j.Crv
		}
		need := want.kty
		if want.crv != "" {
			need += " " + want.crv
		}
		bad("alg-kty", fmt.Sprintf("alg %s needs an %s key, this is %s", j.Alg, need, have), fmt.Sprintf("use alg %s for this key, or the matching key", inferAlg(j.Kty, j.Crv)))
	} else if !a.opts.Policy.allowsAlg(j.Alg) {
		bad("alg-not-allowed", fmt.Sprintf("alg %s is not in policy.allowed_algs (%s)", j.Alg, strings.Join(a.opts.Policy.AllowedAlgs, ", ")), "add it to policy.allowed_algs, or use a key of an allowed kind")
	}
	if k.Use != "" && k.Use != "sig" {
		bad("use", fmt.Sprintf("input says use %q; jwkspub publishes signature keys", k.Use), "publish only signing keys, with use \"sig\" or none")
	}
	if detail := keyOpsProblem(k.KeyOps, k.Derived); detail != "" {
		bad("key-ops", detail, `drop "key_ops" or make it ["verify"]; publish encryption and key-agreement keys elsewhere`)
	}
	a.checkCerts(k, &j, bad)

	// A key refused above still takes part in the kid and duplicate checks, so that one run
	// reports every violation; no set is returned once any was found.
	j.Thumbprint = thumbprint(&j)
	kid, err := a.kid(k, &j, i)
	if err != nil {
		bad("kid", err.Error(), "fix the kid mode or template")
		return
	}
	if detail := kidProblem(kid); detail != "" {
		bad("kid-format", detail, "give a kid of 1 to "+strconv.Itoa(MaxKIDLength)+" printable characters without surrounding spaces")
		return
	}
	j.KID = kid

	if prev, ok := a.byKID[kid]; ok {
		p := a.out[prev]
		if p.Thumbprint == j.Thumbprint && p.Alg == j.Alg {
			a.warnings = append(a.warnings, fmt.Sprintf("%s: %s: same key as %s; published once", k.Origin, label(kid, i), p.Origin))
			return
		}
		a.violate(k.Origin, label(kid, i), "duplicate-kid", fmt.Sprintf("kid is also used by a different key (or alg) from %s", p.Origin), "give each key its own kid")
		return
	}
	if prev, ok := a.byThumb[j.Thumbprint]; ok {
		p := a.out[prev]
		a.violate(k.Origin, label(kid, i), "duplicate-key", fmt.Sprintf("the same key is already published as kid %q from %s", p.KID, p.Origin), "publish each key once, under one kid")
		return
	}
	a.byKID[kid] = len(a.out)
	a.byThumb[j.Thumbprint] = len(a.out)
	a.out = append(a.out, j)
}

// checkCerts checks a key's certificate chain (leaf first): the leaf must be for this key and
// allow signing, and every certificate must be valid now. Verifiers that read x5c check the
// whole chain, so an expired intermediate fails them as surely as an expired leaf.
func (a *assembler) checkCerts(k *sources.Key, j *JWK, bad func(rule, detail, fix string)) {
	if len(k.Certs) == 0 {
		return
	}
	leaf := k.Certs[0]
	lk, err := sources.FromPublicKey(leaf.PublicKey)
	if err != nil || !sameMaterial(lk, j) {
		bad("x5c-mismatch", "the first x5c certificate is not for this key", "put the key's own certificate first in x5c")
		return
	}
	// Some large providers sign tokens with self-signed CA:TRUE certificates that also allow
	// digitalSignature: only the key usage decides, not basic constraints.
	if hasKeyUsage(leaf) && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		bad("x5c-key-usage", fmt.Sprintf("%s allows only %s, not digitalSignature: it is not a signing key", certName(1, leaf), keyUsages(leaf.KeyUsage)),
			"publish the signing (leaf) certificate with its issuers after it, or the bare public key")
	}
	ok := true
	if !a.opts.Now.IsZero() {
		for i, c := range k.Certs {
			switch {
			case a.opts.Now.After(c.NotAfter):
				ok = false
				bad("cert-expired", fmt.Sprintf("%s expired on %s", certName(i+1, c), c.NotAfter.UTC().Format(time.DateOnly)), "renew the certificate, or publish the bare public key")
			case a.opts.Now.Before(c.NotBefore):
				ok = false
				bad("cert-not-yet-valid", fmt.Sprintf("%s is valid only from %s", certName(i+1, c), c.NotBefore.UTC().Format(time.RFC3339)), "wait, or check the clock")
			case c.NotAfter.Sub(a.opts.Now) < CertWarnDays*24*time.Hour:
				a.warnings = append(a.warnings, fmt.Sprintf("%s: %s expires on %s, within %d days", k.Origin, certName(i+1, c), c.NotAfter.UTC().Format(time.DateOnly), CertWarnDays))
			}
		}
	}
	if !ok {
		return
	}
	for _, c := range k.Certs {
		j.X5C = append(j.X5C, c.Raw)
	}
}

// certName names a certificate in messages by its position in x5c, counted from 1 (the leaf),
// and its subject.
func certName(pos int, c *x509.Certificate) string {
	name := c.Subject.CommonName
	if name == "" {
		name = c.Subject.String()
	}
	return fmt.Sprintf("x5c certificate %d (%q)", pos, name)
}

var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// hasKeyUsage tells a keyUsage extension that is present from one that is absent, which
// x509.Certificate.KeyUsage cannot: absent means any usage.
func hasKeyUsage(c *x509.Certificate) bool {
	return slices.ContainsFunc(c.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oidKeyUsage) })
}

// keyUsages lists the usages a keyUsage value allows, with RFC 5280's names.
func keyUsages(ku x509.KeyUsage) string {
	names := []string{"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}
	var out []string
	for i, n := range names {
		if ku&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, ", ")
}

// sameMaterial compares a certificate's key with a normalised JWK.
func sameMaterial(c sources.Key, j *JWK) bool {
	if c.Kty != j.Kty || c.Crv != j.Crv {
		return false
	}
	switch c.Kty {
	case sources.KtyRSA:
		return bytes.Equal(trimZeros(c.N), j.N) && bytes.Equal(trimZeros(c.E), j.E)
	case sources.KtyEC:
		return bytes.Equal(c.X, j.X) && bytes.Equal(c.Y, j.Y)
	}
	return bytes.Equal(c.X, j.X)
}

// kidData is what a kid template sees.
type kidData struct {
	Thumbprint string // RFC 7638
	K8s        string // Kubernetes style
	KID        string // the kid the input carried
	Name       string // the source's key name (Vault key, env-prefix slot)
	Version    int    // the source's key version (Vault)
	Index      int    // position among all input keys
	Kty, Alg   string
}

func (a *assembler) kid(k *sources.Key, j *JWK, i int) (string, error) {
	mode := a.opts.KID
	if k.ConfigKID != "" {
		mode = k.ConfigKID
	}
	switch mode {
	case "", KIDKeepOrThumbprint:
		if k.KID != "" {
			return k.KID, nil
		}
		return j.Thumbprint, nil
	case KIDThumbprint:
		return j.Thumbprint, nil
	case KIDK8s:
		return k8sKID(j)
	case KIDTemplate:
		mode = a.opts.KIDTemplate
	}
	if !strings.Contains(mode, "{{") {
		return "", fmt.Errorf("unknown kid mode %q (keep-or-thumbprint, thumbprint, k8s, or a template)", mode)
	}
	t, err := a.template(mode)
	if err != nil {
		return "", err
	}
	d := kidData{Thumbprint: j.Thumbprint, KID: k.KID, Name: k.Name, Version: k.Version, Index: i, Kty: j.Kty, Alg: j.Alg}
	if strings.Contains(mode, ".K8s") {
		if d.K8s, err = k8sKID(j); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("kid template: %w", err)
	}
	return b.String(), nil
}

func (a *assembler) template(text string) (*template.Template, error) {
	if t, ok := a.templates[text]; ok {
		return t, nil
	}
	t, err := ParseKIDTemplate(text)
	if err != nil {
		return nil, err
	}
	if a.templates == nil {
		a.templates = map[string]*template.Template{}
	}
	a.templates[text] = t
	return t, nil
}

// ParseKIDTemplate parses a kid template; fields are Thumbprint, K8s, KID, Name, Version,
// Index, Kty and Alg.
func ParseKIDTemplate(text string) (*template.Template, error) {
	t, err := template.New("kid").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("kid template: %w", err)
	}
	if err := t.Execute(new(strings.Builder), kidData{}); err != nil {
		return nil, fmt.Errorf("kid template: %w", err)
	}
	return t, nil
}

// sortByKID orders keys by kid. It sorts indexes and copies each JWK once, instead of swapping
// the large structs in place: ten thousand keys are common enough to matter.
func sortByKID(keys []JWK) []JWK {
	idx := make([]int32, len(keys))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(keys[a].KID, keys[b].KID) })
	out := make([]JWK, len(keys))
	for i, j := range idx {
		out[i] = keys[j]
	}
	return out
}

// bitLen is the bit length of a big-endian unsigned integer, as big.Int.BitLen gives it.
func bitLen(b []byte) int {
	b = trimZeros(b)
	if len(b) == 0 {
		return 0
	}
	return (len(b)-1)*8 + bits.Len8(b[0])
}

// smallInt returns a big-endian unsigned integer as an int64, and false when it does not fit
// (as big.Int.IsInt64 would say).
func smallInt(b []byte) (int64, bool) {
	b = trimZeros(b)
	if len(b) > 8 || len(b) == 8 && b[0]&0x80 != 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return int64(v), true
}

func trimZeros(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// padTo left-pads b with zeros to n bytes; it fails when b is longer than n after removing
// leading zeros.
func padTo(b []byte, n int) ([]byte, bool) {
	b = trimZeros(b)
	if len(b) > n {
		return nil, false
	}
	if len(b) == n {
		return b, true
	}
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out, true
}

func onCurve(crv string, x, y []byte) bool {
	var c ecdh.Curve
	switch crv {
	case "P-256":
		c = ecdh.P256()
	case "P-384":
		c = ecdh.P384()
	case "P-521":
		c = ecdh.P521()
	default:
		return false
	}
	raw := make([]byte, 0, 1+len(x)+len(y))
	raw = append(append(append(raw, 4), x...), y...)
	_, err := c.NewPublicKey(raw)
	return err == nil
}

// WithoutRule returns vs without the violations of rule, reusing vs's array: a caller that
// explains a failure better itself (no key could be read, so the set is empty) drops the rule
// that merely restates it.
func WithoutRule(vs []Violation, rule string) []Violation {
	out := vs[:0]
	for _, v := range vs {
		if v.Rule != rule {
			out = append(out, v)
		}
	}
	return out
}
