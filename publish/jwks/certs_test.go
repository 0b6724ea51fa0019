package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/sources"
)

// chainCert makes a certificate for key issued by parent (self-signed when parent is nil).
func chainCert(t *testing.T, cn string, key, parentKey crypto.Signer, parent *x509.Certificate, isCA bool, ku x509.KeyUsage, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter,
		IsCA: isCA, BasicConstraintsValid: true, KeyUsage: ku,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertificateRules(t *testing.T) {
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	year, lastYear, yesterday, tomorrow := now.AddDate(1, 0, 0), now.AddDate(-1, 0, 0), now.AddDate(0, 0, -1), now.AddDate(0, 0, 1)
	gen := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rootKey, intKey, leafKey := gen(), gen(), gen()
	const caUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	root := chainCert(t, "Root", rootKey, nil, nil, true, caUsage, lastYear, year)
	expiredRoot := chainCert(t, "Root", rootKey, nil, nil, true, caUsage, lastYear, yesterday)
	futureRoot := chainCert(t, "Root", rootKey, nil, nil, true, caUsage, tomorrow, year)
	inter := chainCert(t, "Intermediate", intKey, rootKey, root, true, caUsage, lastYear, year)
	expiredInter := chainCert(t, "Intermediate", intKey, rootKey, root, true, caUsage, lastYear, yesterday)
	soonInter := chainCert(t, "Intermediate", intKey, rootKey, root, true, caUsage, lastYear, now.AddDate(0, 0, 10))
	leaf := chainCert(t, "svc", leafKey, intKey, inter, false, x509.KeyUsageDigitalSignature, lastYear, year)
	noUsage := chainCert(t, "svc", leafKey, intKey, inter, false, 0, lastYear, year)
	// Some large providers sign tokens with self-signed CA certificates that allow signing.
	selfCA := chainCert(t, "tenant.example", leafKey, nil, nil, true, x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign, lastYear, year)
	encOnly := chainCert(t, "svc", leafKey, nil, nil, false, x509.KeyUsageKeyEncipherment, lastYear, year)

	keyFor := func(pub crypto.PublicKey, chain ...*x509.Certificate) sources.Key {
		k, err := sources.FromPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		k.Certs = chain
		k.Origin = sources.Origin{Source: "file:chain.pem", Location: "block 1"}
		return k
	}
	tests := []struct {
		name  string
		key   sources.Key
		rules []string // violations, in order; none means accepted
		want  []string // in the message or, when accepted, in the warnings
	}{
		{"leaf with chain", keyFor(&leafKey.PublicKey, leaf, inter, root), nil, nil},
		{"leaf without keyUsage", keyFor(&leafKey.PublicKey, noUsage, inter, root), nil, nil},
		{"self-signed CA:TRUE with digitalSignature", keyFor(&leafKey.PublicKey, selfCA), nil, nil},
		{"lone CA certificate", keyFor(&rootKey.PublicKey, root), []string{"x5c-key-usage"},
			[]string{`file:chain.pem block 1: x5c-key-usage: x5c certificate 1 ("Root") allows only keyCertSign, cRLSign, not digitalSignature`, "publish the signing (leaf) certificate", "or the bare public key"}},
		{"intermediate as leaf", keyFor(&intKey.PublicKey, inter, root), []string{"x5c-key-usage"}, []string{`x5c certificate 1 ("Intermediate")`}},
		{"encryption certificate", keyFor(&leafKey.PublicKey, encOnly), []string{"x5c-key-usage"}, []string{"allows only keyEncipherment"}},
		{"expired intermediate", keyFor(&leafKey.PublicKey, leaf, expiredInter, root), []string{"cert-expired"},
			[]string{`cert-expired: x5c certificate 2 ("Intermediate") expired on 2026-11-23`}},
		{"expired root", keyFor(&leafKey.PublicKey, leaf, inter, expiredRoot), []string{"cert-expired"}, []string{`x5c certificate 3 ("Root")`}},
		{"root not yet valid", keyFor(&leafKey.PublicKey, leaf, inter, futureRoot), []string{"cert-not-yet-valid"}, []string{`x5c certificate 3 ("Root") is valid only from 2026-11-25`}},
		{"every problem at once", keyFor(&intKey.PublicKey, expiredInter, futureRoot), []string{"x5c-key-usage", "cert-expired", "cert-not-yet-valid"}, []string{"x5c certificate 1", "x5c certificate 2"}},
		{"intermediate near expiry warns", keyFor(&leafKey.PublicKey, leaf, soonInter, root), nil, []string{`file:chain.pem block 1: x5c certificate 2 ("Intermediate") expires on 2026-12-04, within 30 days`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Assemble([]sources.Key{tt.key}, AssembleOptions{Now: now})
			if len(tt.rules) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if len(set.Keys[0].X5C) != len(tt.key.Certs) {
					t.Errorf("x5c has %d certificates, want %d", len(set.Keys[0].X5C), len(tt.key.Certs))
				}
				warnings := strings.Join(set.Warnings, "\n")
				for _, w := range tt.want {
					if !strings.Contains(warnings, w) {
						t.Errorf("warnings %q do not contain %q", warnings, w)
					}
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a PolicyError", err)
			}
			var rules []string
			for _, v := range pe.Violations {
				rules = append(rules, v.Rule)
				if v.Fix == "" {
					t.Errorf("%s has no fix", v.Rule)
				}
			}
			if strings.Join(rules, " ") != strings.Join(tt.rules, " ") {
				t.Errorf("rules %q, want %q", rules, tt.rules)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestProviderSets: real JWK Sets of large providers, whose keys carry self-signed certificates
// that are CA:TRUE or allow keyCertSign as well as digitalSignature, are accepted with their
// x5c; and the documents do exercise those cases.
func TestProviderSets(t *testing.T) {
	tests := []struct {
		file     string
		now      time.Time // inside every certificate's validity
		keys     int
		expired  time.Time // after some certificates' end
		nExpired int
	}{
		{"entra-common.jwks.json", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 10, time.Date(2029, 5, 1, 0, 0, 0, 0, time.UTC), 2},
		{"auth0-common.jwks.json", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 2, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), 1},
	}
	var caWithSigning, certSignWithSigning int
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/providers/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := sources.ParseJWK(data, sources.Origin{Source: "file:" + tt.file}, sources.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				c := k.Certs[0]
				signs := c.KeyUsage&x509.KeyUsageDigitalSignature != 0
				if c.IsCA && signs {
					caWithSigning++
				}
				if c.KeyUsage&x509.KeyUsageCertSign != 0 && signs {
					certSignWithSigning++
				}
			}
			set, err := Assemble(keys, AssembleOptions{Now: tt.now})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(set.Keys) != tt.keys {
				t.Fatalf("%d keys, want %d", len(set.Keys), tt.keys)
			}
			for _, k := range set.Keys {
				if len(k.X5C) != 1 {
					t.Errorf("kid %s: x5c has %d certificates, want 1", k.KID, len(k.X5C))
				}
			}
			// The injected clock decides validity: later, some certificates have expired.
			_, err = Assemble(keys, AssembleOptions{Now: tt.expired})
			var pe *PolicyError
			if !errors.As(err, &pe) || len(pe.Violations) != tt.nExpired || pe.Violations[0].Rule != "cert-expired" {
				t.Errorf("at %s: %v, want %d cert-expired", tt.expired.Format(time.DateOnly), err, tt.nExpired)
			}
		})
	}
	if caWithSigning == 0 || certSignWithSigning == 0 {
		t.Errorf("the documents no longer exercise CA:TRUE (%d) or keyCertSign (%d) certificates that also sign", caWithSigning, certSignWithSigning)
	}
}
