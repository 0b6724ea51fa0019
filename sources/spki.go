package sources

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The standard library refuses some well-formed keys with a message that does not say what the
// key is ("x509: unknown public key algorithm", "ecdsa: invalid uncompressed public key"), and
// reports malformed DER with Go struct dumps. These helpers read just enough of the structure to
// say what the input is and how to turn it into something jwkspub publishes.

var (
	oidRSAPSS  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidECKey   = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidEd448   = asn1.ObjectIdentifier{1, 3, 101, 113}
	oidX448    = asn1.ObjectIdentifier{1, 3, 101, 111}
	oidDSA     = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}
	oidSM2     = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
	algorithms = []struct {
		oid  asn1.ObjectIdentifier
		name string
	}{{oidEd448, "Ed448"}, {oidX448, "X448"}, {oidDSA, "DSA"}, {oidSM2, "SM2"}}
)

// ErrMalformedDER is wrapped when a block's DER cannot be read at all.
var ErrMalformedDER = errors.New("the DER is malformed or truncated")

// Fixes shared by the diagnoses; the recipes were checked with OpenSSL 3.0.
const (
	fixComplete = "check the PEM is a complete, unmodified public key (copy it again from its source)"
	fixRSAPSS   = "re-export it with the rsaEncryption identifier: " +
		"openssl rsa -pubin -in KEY.pub -RSAPublicKey_out | sed 's/RSA-PSS PUBLIC KEY/RSA PUBLIC KEY/' | openssl rsa -RSAPublicKey_in -pubout " +
		"(openssl pkey -pubout keeps the RSA-PSS identifier), and publish it with alg PS256, PS384 or PS512 as the key is meant for"
	fixRSAPSSPKCS1 = "relabel it and re-export it with the rsaEncryption identifier: " +
		"sed 's/RSA-PSS PUBLIC KEY/RSA PUBLIC KEY/' KEY.pem | openssl rsa -RSAPublicKey_in -pubout " +
		"(openssl cannot read the RSA-PSS PUBLIC KEY label back), and publish it with alg PS256, PS384 or PS512 as the key is meant for"
	fixCompressed     = "export the point uncompressed: openssl ec -pubin -in KEY.pub -pubout -conv_form uncompressed"
	fixCertCompressed = "reissue the certificate for the uncompressed point (openssl ec -in KEY -conv_form uncompressed before making the request), or publish the bare public key"
	fixKeyType        = "use an RSA, EC (P-256, P-384, P-521) or Ed25519 key"
	fixCertRSAPSS     = "publish the bare public key re-exported with the rsaEncryption identifier, or reissue the certificate for an rsaEncryption key"
)

// fixable is an error that carries its fix; the parser that reports it at a block or a key
// turns it into an *Error there.
type fixable struct {
	err error
	fix string
}

func (f *fixable) Error() string { return f.err.Error() }
func (f *fixable) Unwrap() error { return f.err }

func withFix(err error, fix string) error { return &fixable{err: err, fix: fix} }

// fixOf returns the fix an error carries, else def.
func fixOf(err error, def string) string {
	var f *fixable
	if errors.As(err, &f) {
		return f.fix
	}
	return def
}

// spkiInfo is what a SubjectPublicKeyInfo says about itself without being decoded as a key.
type spkiInfo struct {
	oid   asn1.ObjectIdentifier
	point []byte // the subjectPublicKey bit string's bytes
}

func readSPKI(der []byte) (spkiInfo, bool) {
	var (
		in         = cryptobyte.String(der)
		spki, algo cryptobyte.String
		info       spkiInfo
		bits       asn1.BitString
	)
	if !in.ReadASN1(&spki, cbasn1.SEQUENCE) || !in.Empty() ||
		!spki.ReadASN1(&algo, cbasn1.SEQUENCE) || !algo.ReadASN1ObjectIdentifier(&info.oid) ||
		!spki.ReadASN1BitString(&bits) || !spki.Empty() {
		return info, false
	}
	info.point = bits.Bytes
	return info, true
}

// spkiProblem says what is wrong with a SubjectPublicKeyInfo that the standard library may
// refuse, or nil when it sees nothing specific. cert selects the fixes for a certificate's key,
// which cannot be re-exported without reissuing the certificate.
func spkiProblem(der []byte, cert bool) error {
	info, ok := readSPKI(der)
	if !ok {
		return withFix(ErrMalformedDER, fixComplete)
	}
	switch {
	case info.oid.Equal(oidRSAPSS):
		if cert {
			return withFix(errors.New("the certificate's key has the RSASSA-PSS algorithm identifier (1.2.840.113549.1.1.10), which verifiers and jwkspub do not read as a JWK"), fixCertRSAPSS)
		}
		return withFix(errors.New("an RSA key with the RSASSA-PSS algorithm identifier (1.2.840.113549.1.1.10) instead of rsaEncryption, which verifiers and jwkspub do not read as a JWK"), fixRSAPSS)
	case info.oid.Equal(oidECKey) && len(info.point) > 0 && (info.point[0] == 2 || info.point[0] == 3):
		if cert {
			return withFix(errors.New("the certificate's EC key is a compressed point, which a JWK cannot carry as it is"), fixCertCompressed)
		}
		return withFix(errors.New("an EC key given as a compressed point, which a JWK cannot carry as it is"), fixCompressed)
	}
	for _, a := range algorithms {
		if info.oid.Equal(a.oid) {
			return withFix(fmt.Errorf("unsupported key algorithm %s", a.name), fixKeyType)
		}
	}
	return nil
}

// parsePKIX reads a PUBLIC KEY block's DER, explaining refusals in words.
func parsePKIX(der []byte) (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err == nil {
		return pub, nil
	}
	if _, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return nil, withFix(errors.New("the block holds a PKCS#1 RSA public key, not a PKIX one"), "label it -----BEGIN RSA PUBLIC KEY----- (and END), or convert it: openssl rsa -RSAPublicKey_in -in KEY.pem -pubout")
	}
	if perr := spkiProblem(der, false); perr != nil {
		return nil, perr
	}
	return nil, withFix(fmt.Errorf("parsing PKIX public key: %w", inWords(err)), fixComplete)
}

// parsePKCS1 reads an RSA PUBLIC KEY block's DER, explaining refusals in words.
func parsePKCS1(der []byte) (crypto.PublicKey, error) {
	pub, err := x509.ParsePKCS1PublicKey(der)
	if err == nil {
		return pub, nil
	}
	if _, ok := readSPKI(der); ok {
		return nil, withFix(errors.New("the block holds a PKIX public key, not a PKCS#1 RSA one"), "label it -----BEGIN PUBLIC KEY----- (and END)")
	}
	return nil, withFix(fmt.Errorf("parsing PKCS#1 public key: %w", inWords(err)), fixComplete)
}

// certSPKI returns the SubjectPublicKeyInfo of a certificate's DER, for a diagnosis when the
// certificate itself could not be parsed or its key could not be read.
func certSPKI(der []byte) ([]byte, bool) {
	var (
		in        = cryptobyte.String(der)
		cert, tbs cryptobyte.String
		spki      cryptobyte.String
	)
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !cert.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!tbs.SkipASN1(cbasn1.INTEGER) || // serial
		!tbs.SkipASN1(cbasn1.SEQUENCE) || // signature algorithm
		!tbs.SkipASN1(cbasn1.SEQUENCE) || // issuer
		!tbs.SkipASN1(cbasn1.SEQUENCE) || // validity
		!tbs.SkipASN1(cbasn1.SEQUENCE) || // subject
		!tbs.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil, false
	}
	return spki, true
}

// parseCert reads a certificate's DER and its key, explaining refusals in words.
func parseCert(der []byte) (*x509.Certificate, error) {
	const fixCert = "check the certificate is complete and unmodified (copy it again from its source)"
	cert, err := x509.ParseCertificate(der)
	if err == nil && cert.PublicKey != nil {
		return cert, nil
	}
	if spki, ok := certSPKI(der); ok {
		if perr := spkiProblem(spki, true); perr != nil && !errors.Is(perr, ErrMalformedDER) {
			return nil, perr
		}
	}
	if err == nil {
		return nil, withFix(fmt.Errorf("the certificate's key algorithm (%v) is not supported", cert.PublicKeyAlgorithm), "use a certificate for an RSA, EC (P-256, P-384, P-521) or Ed25519 key")
	}
	return nil, withFix(fmt.Errorf("parsing certificate: %w", inWords(err)), fixCert)
}

// inWords replaces encoding/asn1's errors, which print Go struct internals, with a sentence.
func inWords(err error) error {
	var (
		se asn1.StructuralError
		sy asn1.SyntaxError
	)
	if errors.As(err, &se) || errors.As(err, &sy) {
		return ErrMalformedDER
	}
	return err
}

// pkcs8Algorithm returns the algorithm identifier of a PKCS#8 PrivateKeyInfo without touching
// the key itself, so that a refusal can name the algorithm.
func pkcs8Algorithm(der []byte) (asn1.ObjectIdentifier, bool) {
	var (
		in        = cryptobyte.String(der)
		info, alg cryptobyte.String
		version   int
		oid       asn1.ObjectIdentifier
	)
	if !in.ReadASN1(&info, cbasn1.SEQUENCE) || !info.ReadASN1Integer(&version) ||
		!info.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, false
	}
	return oid, true
}
