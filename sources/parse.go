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
// that could be read are returned alongside.
func Parse(data []byte, origin Origin, opts Options) ([]Key, error) {
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return nil, &Error{Origin: origin, Err: ErrNoKeys, Fix: "give a PEM public key, a certificate, a JWK, a JWK Set or an OpenSSH public key"}
	case trimmed[0] == '{':
		return ParseJWK(trimmed, origin, opts)
	case bytes.Contains(trimmed, []byte("-----BEGIN ")):
		return ParsePEM(trimmed, origin, opts)
	case isSSHLine(trimmed):
		return parseSSH(trimmed, origin, opts)
	}
	return nil, &Error{Origin: origin, Err: errors.New("unrecognised key format"),
		Fix: "give a PEM public key, a certificate, a JWK, a JWK Set or an OpenSSH public key"}
}

// ParsePEM reads every PEM block in data. Blocks are numbered from 1 in Origin.Location.
// Consecutive certificates where each is the issuer of the one before form one chain (one key,
// leaf first), the way certificate files are usually written.
func ParsePEM(data []byte, origin Origin, opts Options) ([]Key, error) {
	var (
		keys []Key
		errs problems
		prev *x509.Certificate // the last certificate read, to attach its issuers to its chain
	)
	rest := data
	counted := opts.keyCount()
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		at := origin
		at.Location = joinLoc(origin.Location, fmt.Sprintf("block %d", n))
		if err := counted.upTo(len(keys)+1, at); err != nil {
			errs.add(err)
			break // the rest is not read: it would not fit
		}
		fail := func(err error, fix string) { errs.add(&Error{Origin: at, Err: err, Fix: fix}) }

		if len(block.Headers) > 0 && block.Headers["Proc-Type"] != "" {
			fail(fmt.Errorf("encrypted PEM block %q", block.Type), "give the public key; jwkspub never decrypts keys")
			continue
		}
		if block.Type != "CERTIFICATE" {
			prev = nil
		}
		switch block.Type {
		case "PUBLIC KEY":
			pub, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				fail(fmt.Errorf("parsing PKIX public key: %w", err), "check the PEM is a complete, unmodified public key")
				continue
			}
			k, err := fromCrypto(pub)
			if err != nil {
				fail(err, "use an RSA, EC (P-256, P-384, P-521) or Ed25519 key")
				continue
			}
			k.Origin = at
			keys = append(keys, k)
		case "RSA PUBLIC KEY":
			pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				fail(fmt.Errorf("parsing PKCS#1 public key: %w", err), "check the PEM is a complete, unmodified public key")
				continue
			}
			k, _ := fromCrypto(pub)
			k.Origin = at
			keys = append(keys, k)
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				fail(fmt.Errorf("parsing certificate: %w", err), "check the PEM is a complete, unmodified certificate")
				prev = nil
				continue
			}
			if prev != nil && len(keys) > 0 && cert.IsCA && prev.CheckSignatureFrom(cert) == nil {
				last := &keys[len(keys)-1]
				last.Certs = append(last.Certs, cert)
				prev = cert
				continue
			}
			k, err := fromCrypto(cert.PublicKey)
			if err != nil {
				fail(fmt.Errorf("certificate key: %w", err), "use a certificate for an RSA, EC or Ed25519 key")
				prev = nil
				continue
			}
			k.Certs = []*x509.Certificate{cert}
			k.Origin = at
			keys = append(keys, k)
			prev = cert
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY":
			if !opts.DerivePublic {
				fail(fmt.Errorf("%w: %s block", ErrPrivateKey, block.Type), fixPrivate)
				continue
			}
			pub, err := publicFromPrivatePEM(block)
			if err != nil {
				fail(err, "give the public key instead")
				continue
			}
			k, err := fromCrypto(pub)
			if err != nil {
				fail(err, "use an RSA, EC (P-256, P-384, P-521) or Ed25519 key")
				continue
			}
			k.Origin = at
			opts.logger().Info("derived public key from private key input; the private half is discarded", "origin", at.String())
			keys = append(keys, k)
		case "ENCRYPTED PRIVATE KEY":
			fail(fmt.Errorf("%w: encrypted private key", ErrPrivateKey), "give the public key (openssl pkey -pubout); jwkspub never decrypts keys")
		case "EC PARAMETERS":
			// openssl ecparam -genkey writes this before the key; it carries no key.
		default:
			fail(fmt.Errorf("unsupported PEM block type %q", block.Type), "give a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block")
		}
	}
	if len(keys) == 0 && len(errs.errs) == 0 {
		errs.add(&Error{Origin: origin, Err: ErrNoKeys, Fix: "check the file holds complete PEM blocks"})
	}
	return keys, errs.err()
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
		// The parser's message never includes key bytes, but keep ours generic regardless.
		return nil, fmt.Errorf("parsing %s block failed", block.Type)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", priv)
	}
	pub := signer.Public()
	if p, ok := pub.(*ed25519.PublicKey); ok { // ssh returns a pointer for Ed25519
		pub = *p
	}
	return pub, nil
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

// parseSSH reads OpenSSH public key lines (authorized_keys format; comments and blank lines
// are skipped). Lines are numbered from 1 in Origin.Location.
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
