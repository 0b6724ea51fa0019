package sources

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"golang.org/x/crypto/ssh"
)

// ErrPrivateKey is wrapped by every refusal of private key input made without
// Options.DerivePublic.
var ErrPrivateKey = errors.New("private key material refused")

// ErrNoKeys is returned when input holds no key at all.
var ErrNoKeys = errors.New("no public key found")

const fixPrivate = "publish the public key instead (openssl pkey -pubout), or pass --derive-public to keep only its public half"

// Parse reads every key in data, whichever of the supported formats it is in: JWK or JWK Set
// JSON, PEM blocks (public keys, certificates and, with DerivePublic, private keys), or OpenSSH
// public key lines. Problems with individual blocks are joined into the returned error; the keys
// that could be read are returned alongside. A leading UTF-8 byte-order mark, which Windows
// editors write, is ignored.
func Parse(data []byte, origin Origin, opts Options) ([]Key, error) {
	data = trimBOM(data)
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return nil, &Error{Origin: origin, Err: ErrNoKeys, Fix: "give a PEM public key, a certificate, a JWK, a JWK Set or an OpenSSH public key"}
	case trimmed[0] == '{':
		return ParseJWK(trimmed, origin, opts)
	case bytes.Contains(trimmed, []byte("-----BEGIN ")):
		return ParsePEM(trimmed, origin, opts)
	case isSSH(data):
		return parseSSH(data, origin, opts)
	}
	return nil, &Error{Origin: origin, Err: errors.New("unrecognised key format"),
		Fix: "give a PEM public key, a certificate, a JWK, a JWK Set or an OpenSSH public key"}
}

// utf8BOM is the byte-order mark some editors put at the start of UTF-8 text.
var utf8BOM = []byte("\xef\xbb\xbf")

func trimBOM(data []byte) []byte { return bytes.TrimPrefix(data, utf8BOM) }

// ParsePEM reads every PEM block in data. Blocks are numbered from 1 in Origin.Location.
//
// The certificates of a file are grouped into chains whatever their order (see groupCerts):
// each leaf is one key, named by its block, and carries its issuers after it in Certs.
func ParsePEM(data []byte, origin Origin, opts Options) ([]Key, error) {
	type found struct {
		block int
		key   Key
	}
	var (
		keys  []found
		errs  problems
		certs []pemCert
	)
	rest := trimBOM(data)
	counted := opts.keyCount()
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		at := origin
		at.Location = joinLoc(origin.Location, fmt.Sprintf("block %d", n))
		if err := counted.upTo(len(keys)+len(certs)+1, at); err != nil {
			errs.add(err)
			break // the rest is not read: it would not fit
		}
		fail := func(err error, fix string) {
			errs.add(&Error{Origin: at, Err: err, Fix: fixOf(err, fix)})
		}
		add := func(pub any) {
			k, err := fromCrypto(pub)
			if err != nil {
				fail(err, fixKeyType)
				return
			}
			k.Origin = at
			keys = append(keys, found{n, k})
		}

		if len(block.Headers) > 0 && block.Headers["Proc-Type"] != "" {
			fail(fmt.Errorf("encrypted PEM block %q", block.Type), "give the public key; jwkspub never decrypts keys")
			continue
		}
		switch block.Type {
		case "PUBLIC KEY":
			pub, err := parsePKIX(block.Bytes)
			if err != nil {
				fail(err, fixComplete)
				continue
			}
			add(pub)
		case "RSA PUBLIC KEY":
			pub, err := parsePKCS1(block.Bytes)
			if err != nil {
				fail(err, fixComplete)
				continue
			}
			add(pub)
		case "RSA-PSS PUBLIC KEY":
			// openssl rsa -RSAPublicKey_out writes this label for an RSA-PSS key.
			fail(errors.New("an RSA key restricted to RSASSA-PSS, in PKCS#1 form"), fixRSAPSSPKCS1)
		case "CERTIFICATE":
			cert, err := parseCert(block.Bytes)
			if err != nil {
				fail(err, fixComplete)
				continue
			}
			certs = append(certs, pemCert{cert: cert, at: at, block: n})
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY":
			if !opts.DerivePublic {
				fail(fmt.Errorf("%w: %s block", ErrPrivateKey, block.Type), fixPrivate)
				continue
			}
			pub, err := publicFromPrivatePEM(block)
			if errors.Is(err, ErrPrivateMismatch) {
				fail(err, fixMismatch)
				continue
			}
			if err != nil {
				fail(err, "give the public key instead")
				continue
			}
			before := len(keys)
			add(pub)
			if len(keys) > before {
				keys[len(keys)-1].key.Derived = true
				opts.Log().Info("derived public key from private key input; the private half is discarded", "origin", at.String())
			}
		case "ENCRYPTED PRIVATE KEY":
			fail(fmt.Errorf("%w: encrypted private key", ErrPrivateKey), "give the public key (openssl pkey -pubout); jwkspub never decrypts keys")
		case "EC PARAMETERS":
			// openssl ecparam -genkey writes this before the key; it carries no key.
		default:
			fail(fmt.Errorf("unsupported PEM block type %q", block.Type), "give a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block")
		}
	}

	groups := groupCerts(certs)
	for _, err := range groups.errs {
		errs.add(err)
	}
	for _, i := range groups.spare {
		opts.Log().Warn("certificate is in no leaf's chain (another path to a root); left out of x5c", "origin", certs[i].at.String(), "subject", certs[i].cert.Subject.String())
	}
	for _, chain := range groups.chains {
		leaf := certs[chain[0]]
		k, err := fromCrypto(leaf.cert.PublicKey)
		if err != nil {
			errs.add(&Error{Origin: leaf.at, Err: fmt.Errorf("certificate key: %w", err), Fix: "use a certificate for an RSA, EC or Ed25519 key"})
			continue
		}
		k.Origin = leaf.at
		for _, i := range chain {
			k.Certs = append(k.Certs, certs[i].cert)
		}
		keys = append(keys, found{leaf.block, k})
	}
	slices.SortStableFunc(keys, func(a, b found) int { return a.block - b.block })

	out := make([]Key, len(keys))
	for i, f := range keys {
		out[i] = f.key
	}
	if len(out) == 0 && len(errs.errs) == 0 {
		errs.add(&Error{Origin: origin, Err: ErrNoKeys, Fix: "check the file holds complete PEM blocks"})
	}
	return out, errs.err()
}

func publicFromPrivatePEM(block *pem.Block) (crypto.PublicKey, error) {
	var (
		priv any
		err  error
	)
	switch block.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	case "OPENSSH PRIVATE KEY":
		priv, err = ssh.ParseRawPrivateKey(pem.EncodeToMemory(block))
	}
	if err != nil {
		if oid, ok := pkcs8Algorithm(block.Bytes); ok && block.Type == "PRIVATE KEY" && oid.Equal(oidRSAPSS) {
			return nil, withFix(errors.New("an RSA private key restricted to RSASSA-PSS (algorithm identifier 1.2.840.113549.1.1.10)"),
				"give its public key re-exported with the rsaEncryption identifier: "+
					"openssl pkey -in KEY -pubout | openssl rsa -pubin -RSAPublicKey_out | sed 's/RSA-PSS PUBLIC KEY/RSA PUBLIC KEY/' | openssl rsa -RSAPublicKey_in -pubout")
		}
		// The parser's message never includes key bytes, but keep ours generic regardless.
		return nil, fmt.Errorf("parsing %s block failed", block.Type)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", priv)
	}
	if p, ok := signer.(*ed25519.PrivateKey); ok { // ssh returns a pointer for Ed25519
		signer = *p
	}
	if err := checkPrivate(signer); err != nil {
		return nil, err
	}
	return signer.Public(), nil
}

// fromCrypto converts a standard library public key into a Key's raw members.
func fromCrypto(pub any) (Key, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return Key{Kty: KtyRSA, N: p.N.Bytes(), E: big.NewInt(int64(p.E)).Bytes()}, nil
	case *ecdsa.PublicKey:
		raw, err := p.Bytes()
		if err != nil {
			return Key{}, fmt.Errorf("encoding EC key: %w", err)
		}
		w := (len(raw) - 1) / 2
		return Key{Kty: KtyEC, Crv: p.Curve.Params().Name, X: raw[1 : 1+w], Y: raw[1+w:]}, nil
	case ed25519.PublicKey:
		return Key{Kty: KtyOKP, Crv: "Ed25519", X: []byte(p)}, nil
	case *ecdh.PublicKey:
		if p.Curve() == ecdh.X25519() {
			return Key{Kty: KtyOKP, Crv: "X25519", X: p.Bytes()}, nil
		}
		return Key{}, errors.New("ECDH public key is for key agreement, not signatures")
	}
	return Key{}, fmt.Errorf("unsupported public key type %T", pub)
}

// sshSigningTypes are the OpenSSH key types with a JWS algorithm. Security-key types (sk-*)
// cannot produce plain JWS signatures, and DSA has no JWS algorithm.
var sshSigningTypes = map[string]bool{
	ssh.KeyAlgoRSA: true, ssh.KeyAlgoED25519: true,
	ssh.KeyAlgoECDSA256: true, ssh.KeyAlgoECDSA384: true, ssh.KeyAlgoECDSA521: true,
}

func isSSHLine(b []byte) bool {
	for _, p := range []string{"ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-nistp", "ssh-dss ", "sk-"} {
		if bytes.HasPrefix(b, []byte(p)) {
			return true
		}
	}
	return false
}

// isSSH reports whether data is OpenSSH public key lines: its first line that is neither blank
// nor a comment is one. ssh-keygen and authorized_keys files often start with a comment.
func isSSH(data []byte) bool {
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return isSSHLine(line)
		}
	}
	return false
}

// parseSSH reads OpenSSH public key lines (authorized_keys format; comments and blank lines
// are skipped). Lines are numbered from 1 in Origin.Location, as editors number them: data must
// be the whole input, leading blank lines included.
func parseSSH(data []byte, origin Origin, opts Options) ([]Key, error) {
	var (
		keys    []Key
		errs    problems
		counted = opts.keyCount()
	)
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		at := origin
		at.Location = joinLoc(origin.Location, fmt.Sprintf("line %d", i+1))
		if err := counted.upTo(len(keys)+1, at); err != nil {
			errs.add(err)
			break // the rest is not read: it would not fit
		}
		pk, _, _, _, err := ssh.ParseAuthorizedKey(line)
		if err != nil {
			errs.add(&Error{Origin: at, Err: fmt.Errorf("parsing OpenSSH public key: %w", err), Fix: "give one ssh-rsa, ecdsa-sha2-nistp* or ssh-ed25519 key per line"})
			continue
		}
		cpk, ok := pk.(ssh.CryptoPublicKey)
		if !ok || !sshSigningTypes[pk.Type()] {
			errs.add(&Error{Origin: at, Err: fmt.Errorf("unsupported OpenSSH key type %s", pk.Type()), Fix: "use ssh-rsa, ecdsa-sha2-nistp* or ssh-ed25519"})
			continue
		}
		k, err := fromCrypto(cpk.CryptoPublicKey())
		if err != nil {
			errs.add(&Error{Origin: at, Err: err, Fix: "use ssh-rsa, ecdsa-sha2-nistp* or ssh-ed25519"})
			continue
		}
		k.Origin = at
		keys = append(keys, k)
	}
	return keys, errs.err()
}

func joinLoc(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// FromPublicKey converts a standard library public key (*rsa.PublicKey, *ecdsa.PublicKey,
// ed25519.PublicKey) into a Key's raw members.
func FromPublicKey(pub any) (Key, error) { return fromCrypto(pub) }
