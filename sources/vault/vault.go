package vault

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/jwkspub/jwkspub/sources"
)

// VersionWindow says which versions of a versioned key to publish.
type VersionWindow struct {
	All    bool // every version Vault still verifies with
	Recent int  // the N most recent of those (1 = latest only); used when All is false
}

// ParseVersions reads a source's versions option: "" or "all", "latest", or a positive number
// of recent versions.
func ParseVersions(s string) (VersionWindow, error) {
	switch s {
	case "", "all":
		return VersionWindow{All: true}, nil
	case "latest":
		return VersionWindow{Recent: 1}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return VersionWindow{}, fmt.Errorf("versions %q: use all, latest or a positive number", s)
	}
	return VersionWindow{Recent: n}, nil
}

// TransitVersions returns the versions of a Transit key to publish, oldest first: from
// max(min_decryption_version, min_available_version, 1) to latest_version, narrowed by w.
// Versions below min_decryption_version can no longer verify a signature (Vault refuses to use
// them), so publishing them would only advertise dead keys; versions below
// min_available_version have been trimmed and no longer exist.
func TransitVersions(latest, minDecryption, minAvailable int, w VersionWindow) []int {
	lo := max(minDecryption, minAvailable, 1)
	if latest < lo {
		return nil
	}
	if !w.All && w.Recent > 0 {
		lo = max(lo, latest-w.Recent+1)
	}
	out := make([]int, 0, latest-lo+1)
	for v := lo; v <= latest; v++ {
		out = append(out, v)
	}
	return out
}

// splitMountPath splits "MOUNT/NAME" at its last slash: Transit mounts may be nested
// ("team/transit/jwt"), key names have no slash.
func splitMountPath(arg string) (mount, name string, ok bool) {
	arg = strings.Trim(arg, "/")
	i := strings.LastIndex(arg, "/")
	if i <= 0 || i == len(arg)-1 {
		return "", "", false
	}
	return arg[:i], arg[i+1:], true
}

// Transit publishes the public keys of a Transit signing key, one per live version.
type Transit struct {
	Mount, Name string
	Window      VersionWindow
	Vault       *Vault
	Optional    bool
	Opts        sources.Options
	Defaults    sources.Defaults
}

func (t *Transit) String() string { return "vault-transit:" + t.Mount + "/" + t.Name }

// transitSigning maps Transit key types that can sign to the key type they publish.
var transitSigning = map[string]string{
	"rsa-2048": sources.KtyRSA, "rsa-3072": sources.KtyRSA, "rsa-4096": sources.KtyRSA,
	"ecdsa-p256": sources.KtyEC, "ecdsa-p384": sources.KtyEC, "ecdsa-p521": sources.KtyEC,
	"ed25519": sources.KtyOKP,
}

type transitKey struct {
	Type                 string                     `json:"type"`
	Derived              bool                       `json:"derived"`
	LatestVersion        int                        `json:"latest_version"`
	MinDecryptionVersion int                        `json:"min_decryption_version"`
	MinAvailableVersion  int                        `json:"min_available_version"`
	Keys                 map[string]json.RawMessage `json:"keys"`
}

// Keys implements Source: one read of MOUNT/keys/NAME.
func (t *Transit) Keys(ctx context.Context) ([]sources.Key, error) {
	origin := sources.Origin{Source: t.String()}
	path := t.Mount + "/keys/" + t.Name
	fail := func(err error, fix string) ([]sources.Key, error) {
		if fix == "" {
			fix = vaultFix(err)
		}
		return nil, &sources.Error{Origin: origin, Err: err, Fix: fix}
	}
	if err := t.Vault.ready(ctx); err != nil {
		return fail(err, "")
	}
	sec, err := t.Vault.read(ctx, path, nil)
	if err != nil {
		if t.Optional && errors.Is(err, ErrVaultNotFound) {
			t.Opts.Log().Info("optional source does not exist", "source", t.String())
			return nil, nil
		}
		return fail(err, "")
	}
	var tk transitKey
	if err := remarshal(sec.Data, &tk); err != nil {
		return fail(fmt.Errorf("%w: %s: %v", ErrVaultResponse, path, err), "")
	}
	kty, ok := transitSigning[tk.Type]
	if !ok {
		return fail(fmt.Errorf("key type %q cannot sign JWTs", tk.Type),
			"use a Transit key of type rsa-2048, rsa-3072, rsa-4096, ecdsa-p256, ecdsa-p384, ecdsa-p521 or ed25519")
	}
	if tk.Derived {
		return fail(fmt.Errorf("key %q is derived: each signing context has its own public key, so there is none to publish", t.Name),
			"use a Transit key created without derived=true")
	}
	versions := TransitVersions(tk.LatestVersion, tk.MinDecryptionVersion, tk.MinAvailableVersion, t.Window)
	if len(versions) == 0 {
		return fail(fmt.Errorf("%w: %s: no live version (latest_version %d, min_decryption_version %d)", ErrVaultResponse, path, tk.LatestVersion, tk.MinDecryptionVersion), "rotate the key, or lower min_decryption_version")
	}
	var (
		keys []sources.Key
		errs []error
	)
	for _, ver := range versions {
		at := origin
		at.Location = fmt.Sprintf("version %d", ver)
		raw, ok := tk.Keys[strconv.Itoa(ver)]
		if !ok {
			errs = append(errs, &sources.Error{Origin: at, Err: fmt.Errorf("%w: version %d is missing from %s", ErrVaultResponse, ver, path), Fix: "check min_available_version and the key's versions"})
			continue
		}
		var kv struct {
			PublicKey string `json:"public_key"`
		}
		if err := json.Unmarshal(raw, &kv); err != nil || kv.PublicKey == "" {
			errs = append(errs, &sources.Error{Origin: at, Err: fmt.Errorf("%w: version %d has no public_key", ErrVaultResponse, ver), Fix: "check the key type supports signing"})
			continue
		}
		if err := t.Opts.Charge(at, len(kv.PublicKey)); err != nil {
			errs = append(errs, err)
			continue
		}
		k, err := transitPublic(kty, kv.PublicKey, at)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		k.Name, k.Version, k.Order, k.Origin = t.Name, ver, ver, at
		keys = append(keys, k)
	}
	t.Defaults.Apply(keys)
	return keys, errors.Join(errs...)
}

// transitPublic decodes one version's public_key: PKIX PEM for RSA and ECDSA, raw base64 for
// Ed25519.
func transitPublic(kty, pub string, at sources.Origin) (sources.Key, error) {
	if kty == sources.KtyOKP {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(pub))
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return sources.Key{}, &sources.Error{Origin: at, Err: fmt.Errorf("%w: ed25519 public_key is not %d bytes of base64", ErrVaultResponse, ed25519.PublicKeySize), Fix: "check the Transit key"}
		}
		return sources.Key{Kty: sources.KtyOKP, Crv: "Ed25519", X: raw}, nil
	}
	ks, err := sources.ParsePEM([]byte(pub), at, sources.Options{})
	if err != nil {
		return sources.Key{}, err
	}
	if len(ks) != 1 || ks[0].Kty != kty {
		return sources.Key{}, &sources.Error{Origin: at, Err: fmt.Errorf("%w: expected one %s public key", ErrVaultResponse, kty), Fix: "check the Transit key"}
	}
	return ks[0], nil
}

func remarshal(in any, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// KV reads one field of a KV secret (v1 or v2, detected from the mount).
type KV struct {
	Path     string // full path as written in the spec, mount included
	Field    string
	Version  int // KV v2 version pin; 0 means the current version
	Vault    *Vault
	Optional bool
	Opts     sources.Options
	Defaults sources.Defaults
}

func (k *KV) String() string {
	s := "vault-kv:" + k.Path
	if k.Version > 0 {
		s += "?version=" + strconv.Itoa(k.Version)
	}
	return s + "#" + k.Field
}

// ParseKVSpec reads the argument of vault-kv:MOUNT/PATH[?version=N]#FIELD.
func ParseKVSpec(arg string) (path, field string, version int, err error) {
	path, field, ok := strings.Cut(arg, "#")
	if !ok || field == "" {
		return "", "", 0, fmt.Errorf("%q: name the field after '#': vault-kv:MOUNT/PATH#FIELD", arg)
	}
	path, query, hasQuery := strings.Cut(path, "?")
	path = strings.Trim(path, "/")
	if !strings.Contains(path, "/") {
		return "", "", 0, fmt.Errorf("%q: give the mount and the secret path: vault-kv:MOUNT/PATH#FIELD", arg)
	}
	if hasQuery {
		q, qerr := url.ParseQuery(query)
		v := q.Get("version")
		n, aerr := strconv.Atoi(v)
		if qerr != nil || len(q) != 1 || aerr != nil || n < 1 {
			return "", "", 0, fmt.Errorf("%q: the only option is ?version=N with N a positive KV v2 version", arg)
		}
		version = n
	}
	return path, field, version, nil
}

type kvMount struct {
	path    string // "secret/" as Vault reports it
	version int    // 1 or 2
}

// mountOf finds the KV mount a path lives in, and its version, asking Vault once per mount
// (sys/internal/ui/mounts, which any token with a capability on the path may read: the way
// Vault's own CLI detects KV v2).
func (v *Vault) mountOf(ctx context.Context, path string) (kvMount, error) {
	v.mu.Lock()
	for p, m := range v.kvMounts {
		if strings.HasPrefix(path+"/", p) {
			v.mu.Unlock()
			return m, nil
		}
	}
	v.mu.Unlock()
	sec, err := v.read(ctx, "sys/internal/ui/mounts/"+path, nil)
	if errors.Is(err, ErrVaultDenied) && !strings.Contains(err.Error(), "invalid or expired") {
		// Vault answers this 403 both when nothing is mounted there and when the policy grants
		// nothing on the path: name both, with the paths a policy would use.
		first, rest, _ := strings.Cut(path, "/")
		return kvMount{}, vErr(ErrVaultDenied,
			fmt.Sprintf("check the mount name (vault secrets list); grant %q on %q (KV v2) or on %q (KV v1)", "read", first+"/data/"+rest, path),
			"%s: Vault will not say which KV mount holds it: nothing is mounted there, or the token's policy grants nothing on it", path)
	}
	if err != nil {
		return kvMount{}, err
	}
	var info struct {
		Path    string            `json:"path"`
		Type    string            `json:"type"`
		Options map[string]string `json:"options"`
	}
	if err := remarshal(sec.Data, &info); err != nil || info.Path == "" {
		return kvMount{}, vErr(ErrVaultResponse, "", "sys/internal/ui/mounts/%s: no mount path in the answer", path)
	}
	if info.Type != "kv" && info.Type != "generic" {
		return kvMount{}, vErr(ErrVaultNotFound, "point vault-kv: at a KV secrets engine", "%s is mounted as %q, not a KV secrets engine", info.Path, info.Type)
	}
	m := kvMount{path: info.Path, version: 1}
	if info.Options["version"] == "2" {
		m.version = 2
	}
	v.mu.Lock()
	if v.kvMounts == nil {
		v.kvMounts = map[string]kvMount{}
	}
	v.kvMounts[m.path] = m
	v.mu.Unlock()
	return m, nil
}

// Keys implements Source.
func (k *KV) Keys(ctx context.Context) ([]sources.Key, error) {
	origin := sources.Origin{Source: k.String()}
	fail := func(err error, fix string) ([]sources.Key, error) {
		if fix == "" {
			fix = vaultFix(err)
		}
		return nil, &sources.Error{Origin: origin, Err: err, Fix: fix}
	}
	if err := k.Vault.ready(ctx); err != nil {
		return fail(err, "")
	}
	m, err := k.Vault.mountOf(ctx, k.Path)
	if err != nil {
		return fail(err, "")
	}
	readPath, query := k.Path, map[string][]string(nil)
	if m.version == 2 {
		readPath = m.path + "data/" + strings.TrimPrefix(k.Path+"/", m.path)
		readPath = strings.TrimSuffix(readPath, "/")
		if k.Version > 0 {
			query = map[string][]string{"version": {strconv.Itoa(k.Version)}}
		}
	} else if k.Version > 0 {
		return fail(fmt.Errorf("%s is a KV v1 mount, which has no versions", m.path), "remove ?version= from the spec")
	}
	sec, err := k.Vault.read(ctx, readPath, query)
	if err != nil {
		if k.Optional && errors.Is(err, ErrVaultNotFound) {
			k.Opts.Log().Info("optional source does not exist", "source", k.String())
			return nil, nil
		}
		return fail(err, "")
	}
	data, version := sec.Data, 0
	if m.version == 2 {
		var v2 struct {
			Data     map[string]any `json:"data"`
			Metadata struct {
				Version      int    `json:"version"`
				DeletionTime string `json:"deletion_time"`
				Destroyed    bool   `json:"destroyed"`
			} `json:"metadata"`
		}
		if err := remarshal(sec.Data, &v2); err != nil {
			return fail(fmt.Errorf("%w: %s: %v", ErrVaultResponse, readPath, err), "")
		}
		switch {
		case v2.Data == nil && v2.Metadata.Destroyed:
			return fail(fmt.Errorf("%w: %s version %d is destroyed", ErrVaultNotFound, k.Path, v2.Metadata.Version),
				"write the key again (vault kv put), or pin another ?version=")
		case v2.Data == nil:
			return fail(fmt.Errorf("%w: %s version %d is deleted (%s)", ErrVaultNotFound, k.Path, v2.Metadata.Version, v2.Metadata.DeletionTime),
				fmt.Sprintf("undelete it (vault kv undelete -versions=%d %s), or pin another ?version=", v2.Metadata.Version, k.Path))
		}
		data, version = v2.Data, v2.Metadata.Version
	}
	val, ok := data[k.Field]
	if !ok {
		names := make([]string, 0, len(data))
		for n := range data {
			names = append(names, n)
		}
		sort.Strings(names)
		return fail(fmt.Errorf("no field %q in %s (fields: %s)", k.Field, k.Path, strings.Join(names, ", ")), "name an existing field after '#'")
	}
	at := origin
	at.Location = "field " + k.Field
	var keys []sources.Key
	switch x := val.(type) {
	case string:
		if err := k.Opts.Charge(at, len(x)); err != nil {
			return nil, err
		}
		keys, err = sources.ParseEnvValue(x, at, k.Opts)
	default:
		// A JWK or JWK Set stored as a JSON object rather than a string.
		b, merr := json.Marshal(x)
		if merr != nil {
			return fail(fmt.Errorf("field %q is neither a string nor JSON", k.Field), "store a PEM, a certificate, a JWK or a JWK Set")
		}
		if err := k.Opts.Charge(at, len(b)); err != nil {
			return nil, err
		}
		keys, err = sources.ParseJWK(b, at, k.Opts)
	}
	name := k.Path[strings.LastIndex(k.Path, "/")+1:]
	for i := range keys {
		keys[i].Name, keys[i].Version, keys[i].Order = name, version, version
	}
	k.Defaults.Apply(keys)
	return keys, err
}

// OIDC publishes the keys Vault's identity secrets engine signs its identity tokens with
// (identity/oidc/.well-known/keys), or those of one OIDC provider
// (identity/oidc/provider/NAME/.well-known/keys). Their kids are kept as Vault gives them:
// verifiers match tokens by them.
type OIDC struct {
	Provider string // empty: identity tokens
	Vault    *Vault
	Optional bool
	Opts     sources.Options
	Defaults sources.Defaults
}

func (o *OIDC) String() string {
	if o.Provider == "" {
		return "vault-oidc:"
	}
	return "vault-oidc:provider/" + o.Provider
}

func (o *OIDC) path() string {
	if o.Provider == "" {
		return "identity/oidc/.well-known/keys"
	}
	return "identity/oidc/provider/" + o.Provider + "/.well-known/keys"
}

// Keys implements Source.
func (o *OIDC) Keys(ctx context.Context) ([]sources.Key, error) {
	origin := sources.Origin{Source: o.String()}
	fail := func(err error) ([]sources.Key, error) {
		return nil, &sources.Error{Origin: origin, Err: err, Fix: vaultFix(err)}
	}
	if err := o.Vault.ready(ctx); err != nil {
		return fail(err)
	}
	path := o.path()
	body, err := call(ctx, o.Vault, vaultOp{path: path, capability: "read"}, func(ctx context.Context) ([]byte, error) {
		resp, err := o.Vault.Client.Logical().ReadRawWithContext(ctx, path)
		if resp != nil {
			defer resp.Body.Close()
		}
		if err != nil {
			return nil, withRetryAfter(resp, err)
		}
		var raw json.RawMessage
		if err := resp.DecodeJSON(&raw); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		return raw, nil
	})
	if err != nil {
		if o.Optional && errors.Is(err, ErrVaultNotFound) {
			o.Opts.Log().Info("optional source does not exist", "source", o.String())
			return nil, nil
		}
		return fail(err)
	}
	if err := o.Opts.Charge(origin, len(body)); err != nil {
		return nil, err
	}
	keys, err := sources.ParseJWK(body, origin, o.Opts)
	if len(keys) == 0 && err != nil && errors.Is(err, sources.ErrNoKeys) {
		return nil, &sources.Error{Origin: origin, Err: sources.ErrNoKeys, Fix: "create a named key and a role under identity/oidc (Vault publishes keys only once a role uses them)"}
	}
	o.Defaults.Apply(keys)
	return keys, err
}

// NewSource builds the source of a vault-* spec, read through v (sources.VaultSources).
func (v *Vault) NewSource(kind, arg string, s sources.Spec, opts sources.Options, d sources.Defaults) (sources.Source, error) {
	switch kind {
	case "vault-transit":
		mount, name, ok := splitMountPath(arg)
		if !ok {
			return nil, fmt.Errorf("source %q: use vault-transit:MOUNT/KEY, e.g. vault-transit:transit/jwt", s.Spec)
		}
		w, err := ParseVersions(s.Versions)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", s.Spec, err)
		}
		return &Transit{Mount: mount, Name: name, Window: w, Vault: v, Optional: s.Optional, Opts: opts, Defaults: d}, nil
	case "vault-kv":
		path, field, version, err := ParseKVSpec(arg)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", s.Spec, err)
		}
		if s.Versions != "" {
			return nil, fmt.Errorf("source %q: versions applies to vault-transit; pin a KV v2 version with ?version=N", s.Spec)
		}
		return &KV{Path: path, Field: field, Version: version, Vault: v, Optional: s.Optional, Opts: opts, Defaults: d}, nil
	case "vault-oidc":
		if s.Versions != "" {
			return nil, fmt.Errorf("source %q: versions applies to vault-transit; Vault publishes every OIDC key still valid", s.Spec)
		}
		o := &OIDC{Vault: v, Optional: s.Optional, Opts: opts, Defaults: d}
		if arg != "" {
			p, ok := strings.CutPrefix(arg, "provider/")
			if !ok || p == "" || strings.Contains(p, "/") {
				return nil, fmt.Errorf("source %q: use vault-oidc: (identity tokens) or vault-oidc:provider/NAME", s.Spec)
			}
			o.Provider = p
		}
		return o, nil
	}
	return nil, fmt.Errorf("source %q: unknown kind %q", s.Spec, kind)
}

// CheckVaultSpec checks the shape of a vault-* spec and its options without contacting Vault,
// for configuration validation.
func CheckVaultSpec(s sources.Spec) error {
	kind, arg, _ := strings.Cut(s.Spec, ":")
	_, err := (&Vault{}).NewSource(kind, arg, s, sources.Options{}, sources.Defaults{})
	return err
}
