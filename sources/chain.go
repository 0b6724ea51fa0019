package sources

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// maxSameName bounds the certificates of one subject that are checked as a certificate's issuer.
const maxSameName = 8

// pemCert is a certificate read from one PEM block.
type pemCert struct {
	cert  *x509.Certificate
	at    Origin // names the block
	block int    // the block's number, to keep keys in file order
}

// certGroups is how the certificates of one file group into chains.
type certGroups struct {
	chains [][]int // per leaf, in file order: the leaf then its issuers, as indexes into the input
	spare  []int   // certificates in a leaf's group but in no leaf's chain (another path to a root)
	errs   []error // certificates that belong to no chain, or name an issuer that did not sign them
}

// groupCerts sorts the certificates of one file into chains, whatever their order in the file:
// files are written leaf first, root first, or with several chains concatenated. A leaf is a
// certificate that issued none of the others; its issuers follow it, nearest first. Grouping by
// the file's order instead would turn a CA certificate given first into a signing key.
func groupCerts(certs []pemCert) certGroups {
	var g certGroups
	issuers := make([][]int, len(certs)) // candidates, in file order
	issuedAny := make([]bool, len(certs))
	bySubject := make(map[string][]int, len(certs))
	for i, c := range certs {
		bySubject[string(c.cert.RawSubject)] = append(bySubject[string(c.cert.RawSubject)], i)
	}
	for i, c := range certs {
		if selfIssued(c.cert) {
			continue
		}
		named := bySubject[string(c.cert.RawIssuer)]
		// Real files have one or two certificates of a name (a renewed CA); a file of thousands
		// with one name must not cost a signature check per pair.
		for _, j := range named[:min(len(named), maxSameName)] {
			p := certs[j]
			if i == j {
				continue
			}
			ok, err := issuedBy(c.cert, p.cert)
			if err != nil {
				g.errs = append(g.errs, &Error{Origin: c.at, Err: fmt.Errorf("certificate %s names the certificate in %s (%s) as its issuer, but %w", subject(c.cert), p.at.Location, subject(p.cert), err),
					Fix: "give the issuer certificate that signed it, or only the leaf certificate"})
				continue
			}
			if ok {
				issuers[i] = append(issuers[i], j)
				issuedAny[j] = true
			}
		}
	}

	inChain := make([]bool, len(certs))
	for i := range certs {
		if issuedAny[i] {
			continue
		}
		chain := []int{i}
		inChain[i] = true
		for cur := i; ; {
			next := slices.IndexFunc(issuers[cur], func(p int) bool { return !slices.Contains(chain, p) })
			if next < 0 {
				break
			}
			cur = issuers[cur][next]
			chain = append(chain, cur)
			inChain[cur] = true
		}
		g.chains = append(g.chains, chain)
	}

	// A certificate outside every chain is either another path to a root next to a leaf's (a
	// cross-signed intermediate), which is left out, or part of certificates that all issue
	// one another: no leaf, so no key, and saying nothing would hide them.
	group := make([]int, len(certs)) // union-find over issuance, to tell the two apart
	for i := range group {
		group[i] = i
	}
	find := func(i int) int {
		for group[i] != i {
			group[i] = group[group[i]]
			i = group[i]
		}
		return i
	}
	for i, ps := range issuers {
		for _, p := range ps {
			group[find(i)] = find(p)
		}
	}
	hasLeaf := map[int]bool{}
	for _, chain := range g.chains {
		hasLeaf[find(chain[0])] = true
	}
	cycles := map[int][]string{}
	var firstOf []int
	for i := range certs {
		switch root := find(i); {
		case inChain[i]:
		case hasLeaf[root]:
			g.spare = append(g.spare, i)
		default:
			if cycles[root] == nil {
				firstOf = append(firstOf, i)
			}
			cycles[root] = append(cycles[root], certs[i].at.Location)
		}
	}
	for _, i := range firstOf {
		g.errs = append(g.errs, &Error{Origin: certs[i].at,
			Err: fmt.Errorf("the certificates in %s issue one another and none of them is a leaf, so none is a signing key", strings.Join(cycles[find(i)], ", ")),
			Fix: "give the signing (leaf) certificate with its issuers, or the bare public key"})
	}
	return g
}

// selfIssued reports whether a certificate is its own issuer: same name, and its own key
// verifies its signature. Such a certificate ends a chain; same-named certificates next to it
// are others (a provider's earlier signing certificate), not its issuers.
func selfIssued(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// issuedBy reports whether parent issued child: the names match, the key identifiers agree when
// both are present, and parent's key verifies child's signature. Same-named certificates are
// common (renewed CAs, a provider's self-signed signing certificates), so a signature that does
// not verify only means "another certificate"; it is an error only when the child's authority
// key identifier names parent's key explicitly.
func issuedBy(child, parent *x509.Certificate) (bool, error) {
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return false, nil
	}
	named := len(child.AuthorityKeyId) > 0 && len(parent.SubjectKeyId) > 0
	if named && !bytes.Equal(child.AuthorityKeyId, parent.SubjectKeyId) {
		return false, nil
	}
	err := child.CheckSignatureFrom(parent)
	switch {
	case err == nil:
		return true, nil
	case !named:
		return false, nil
	}
	var ce x509.ConstraintViolationError
	if errors.As(err, &ce) {
		return false, errors.New("that certificate is not allowed to sign certificates (not a CA, or its keyUsage lacks keyCertSign)")
	}
	var ia x509.InsecureAlgorithmError
	if errors.As(err, &ia) {
		return false, fmt.Errorf("its signature algorithm %v is too weak to verify", x509.SignatureAlgorithm(ia))
	}
	return false, errors.New("its signature does not verify with that certificate's key")
}

// subject names a certificate in messages: its subject's common name, else the whole subject.
func subject(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return fmt.Sprintf("%q", c.Subject.CommonName)
	}
	return fmt.Sprintf("%q", c.Subject.String())
}
