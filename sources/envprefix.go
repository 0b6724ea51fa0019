package sources

import (
	"context"
	"errors"
	"fmt"
)

// EnvPrefix reads the identity-service convention, for a prefix P such as "JWT_":
// P+PUBLIC_KEY with P+KEY_ID (the current key), P+PREVIOUS_PUBLIC_KEY with P+PREVIOUS_KEY_ID
// (still accepted during rotation), and P+NEXT_PUBLIC_KEY with P+NEXT_KEY_ID (published ahead
// of its use). When P+PUBLIC_KEY is unset but P+PRIVATE_KEY is set, the current public key is
// derived from the private key only with Options.DerivePublic.
type EnvPrefix struct {
	Prefix   string
	Optional bool
	Opts     Options
	Defaults Defaults
}

func (e *EnvPrefix) String() string { return "env-prefix:" + e.Prefix }

// Keys implements Source.
func (e *EnvPrefix) Keys(ctx context.Context) ([]Key, error) {
	var (
		keys []Key
		errs []error
	)
	// order is the slot's place in the rotation, oldest first: previous, current, next.
	slots := []struct {
		pub, kid, role string
		order          int
	}{
		{"PUBLIC_KEY", "KEY_ID", "current", 2},
		{"PREVIOUS_PUBLIC_KEY", "PREVIOUS_KEY_ID", "previous", 1},
		{"NEXT_PUBLIC_KEY", "NEXT_KEY_ID", "next", 3},
	}
	for i, s := range slots {
		pubVar, kidVar := e.Prefix+s.pub, e.Prefix+s.kid
		origin := Origin{Source: "env:" + pubVar}
		v, ok := e.Opts.lookup(pubVar)
		if (!ok || v == "") && i == 0 {
			// The current key may only be given as the issuer's private key.
			privVar := e.Prefix + "PRIVATE_KEY"
			pv, pok := e.Opts.lookup(privVar)
			if !pok || pv == "" {
				continue
			}
			origin = Origin{Source: "env:" + privVar}
			if !e.Opts.DerivePublic {
				errs = append(errs, &Error{Origin: origin,
					Err: fmt.Errorf("%w: only %s is set, not %s", ErrPrivateKey, privVar, pubVar),
					Fix: fmt.Sprintf("set %s to the public key (openssl pkey -pubout), or pass --derive-public; a publisher should not hold the issuer's signing key", pubVar)})
				continue
			}
			v, ok = pv, true
		}
		if !ok || v == "" {
			continue
		}
		if err := e.Opts.Charge(origin, len(v)); err != nil {
			errs = append(errs, err)
			continue
		}
		ks, err := ParseEnvValue(v, origin, e.Opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if kid, ok := e.Opts.lookup(kidVar); ok && kid != "" {
			if len(ks) != 1 {
				errs = append(errs, &Error{Origin: origin, Err: fmt.Errorf("%s names one kid but the value holds %d keys", kidVar, len(ks)), Fix: "put one key in " + pubVar})
				continue
			}
			if ks[0].KID != "" && ks[0].KID != kid {
				errs = append(errs, &Error{Origin: origin, Err: fmt.Errorf("%s=%q disagrees with the JWK's kid %q", kidVar, kid, ks[0].KID), Fix: "make them agree, or unset " + kidVar})
				continue
			}
			ks[0].KID = kid
		}
		for j := range ks {
			ks[j].Name, ks[j].Order = s.role, s.order
		}
		keys = append(keys, ks...)
	}
	if len(keys) == 0 && len(errs) == 0 {
		if e.Optional {
			return nil, nil
		}
		errs = append(errs, &Error{Origin: Origin{Source: e.String()},
			Err: fmt.Errorf("none of %sPUBLIC_KEY, %sPREVIOUS_PUBLIC_KEY, %sNEXT_PUBLIC_KEY is set", e.Prefix, e.Prefix, e.Prefix),
			Fix: fmt.Sprintf("set %sPUBLIC_KEY to the issuer's public key", e.Prefix)})
	}
	e.Defaults.Apply(keys)
	return keys, errors.Join(errs...)
}
