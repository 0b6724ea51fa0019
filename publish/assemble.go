package publish

import (
	"bytes"
	"crypto/ecdh"
	"fmt"
	"math/big"
	"math/bits"
	"slices"
	"strings"
	"text/template"
	"time"
	"unicode"

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
	return listed(fmt.Sprintf("refused by policy: %d violation(s)", len(e.Violations)), e.Violations)
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
		a.violate(sources.Origin{}, "", "max-keys", fmt.Sprintf("%d keys exceed the policy maximum of %d", len(a.out), opts.Policy.maxKeys()), "remove retired keys from the sources, or raise policy.max_keys")
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
	a.violations = append(a.violations, Violation{Origin: o, Key: key, Rule: rule, Detail: detail, Fix: fix})
}

// label names a key in messages: its kid when it has one, else its index among the inputs.
func label(kid string, i int) string {
	if kid != "" {
		return fmt.Sprintf("kid %q", kid)
	}
	return fmt.Sprintf("key %d", i)
}

func (a *assembler) add(i int, k *sources.Key) {
	// The label is made only when there is something to say: most keys have nothing wrong.
	bad := func(rule, detail, fix string) { a.violate(k.Origin, label(k.KID, i), rule, detail, fix) }
	before := len(a.violations)

	for _, m := range k.Members {
		if sources.IsPrivateMember(m) {
			bad("private-member", fmt.Sprintf("input carries private member %q", m), "give the public key only")
		}
	}
	j := JWK{Kty: k.Kty, Use: "sig", Origin: k.Origin, Spec: k.Spec}
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
		bad("alg-kty", fmt.Sprintf("alg %s needs a %s %s key, this is %s", j.Alg, want.kty, want.crv, have), fmt.Sprintf("use alg %s for this key, or the matching key", inferAlg(j.Kty, j.Crv)))
	} else if !a.opts.Policy.allowsAlg(j.Alg) {
		bad("alg-not-allowed", fmt.Sprintf("alg %s is not in policy.allowed_algs (%s)", j.Alg, strings.Join(a.opts.Policy.AllowedAlgs, ", ")), "add it to policy.allowed_algs, or use a key of an allowed kind")
	}
	if k.Use != "" && k.Use != "sig" {
		bad("use", fmt.Sprintf("input says use %q; jwkspub publishes signature keys", k.Use), "publish only signing keys, with use \"sig\" or none")
	}
	a.checkCerts(k, &j, bad)
	if len(a.violations) > before {
		return
	}

	j.Thumbprint = thumbprint(&j)
	kid, err := a.kid(k, &j, i)
	if err != nil {
		bad("kid", err.Error(), "fix the kid mode or template")
		return
	}
	if kid == "" || strings.IndexFunc(kid, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		bad("kid", fmt.Sprintf("kid %q is empty or has unprintable characters", kid), "give a printable kid")
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
	if !a.opts.Now.IsZero() {
		switch {
		case a.opts.Now.After(leaf.NotAfter):
			bad("cert-expired", fmt.Sprintf("certificate %q expired on %s", leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly)), "renew the certificate, or publish the bare public key")
			return
		case a.opts.Now.Before(leaf.NotBefore):
			bad("cert-not-yet-valid", fmt.Sprintf("certificate %q is valid only from %s", leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339)), "wait, or check the clock")
			return
		case leaf.NotAfter.Sub(a.opts.Now) < CertWarnDays*24*time.Hour:
			a.warnings = append(a.warnings, fmt.Sprintf("%s: certificate %q expires on %s, within %d days", k.Origin, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly), CertWarnDays))
		}
	}
	for _, c := range k.Certs {
		j.X5C = append(j.X5C, c.Raw)
	}
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
