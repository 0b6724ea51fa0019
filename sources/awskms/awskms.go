// Package awskms holds the aws-kms: key source: the public keys of AWS KMS signing keys, read
// with GetPublicKey through the AWS SDK v2 and the credentials of its default chain (which the
// command loads: environment, shared config, web identity).
//
// A *KMS is the sources.Builder that sources.New asks for an aws-kms: spec. This package and
// publish/target/blob are the only library packages that import a cloud SDK; it must never
// import package publish or the registry client.
package awskms

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/jwkspub/jwkspub/sources"
)

// Defaults of a KMS call.
const (
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 3
	maxBackoff     = 4 * time.Second
)

// Errors a source fails with, for errors.Is. Each is wrapped with the key and a fix.
var (
	// ErrDenied: the credentials may not call the action on the key.
	ErrDenied = errors.New("access denied")
	// ErrNotFound: no such key or alias in the region.
	ErrNotFound = errors.New("not found")
	// ErrCredentials: no credentials, or KMS does not accept them.
	ErrCredentials = errors.New("no usable AWS credentials")
	// ErrUnreachable: no answer after every retry (throttling, 5xx, timeouts, resets).
	ErrUnreachable = errors.New("AWS KMS unreachable")
	// ErrUnusable: the key exists but cannot be published: not a signing key, a key spec
	// without a JOSE alg, disabled, pending deletion.
	ErrUnusable = errors.New("key cannot be published")
	// ErrResponse: any other failure.
	ErrResponse = errors.New("unexpected AWS KMS answer")
)

// KMS builds the aws-kms: sources of a run (sources.Builder).
type KMS struct {
	// Config carries the credentials and default region; the command loads it with the SDK's
	// default chain. A spec's ?region= and ?endpoint= override it per source.
	Config aws.Config
	// Timeout bounds each attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retries after throttling, a 5xx, a timeout or a reset, with the SDK's backoff (doubling,
	// jittered, at most 4s); 0 means DefaultRetries, negative none.
	Retries int
	// MaxBackoff caps the wait between retries; 0 means 4s.
	MaxBackoff time.Duration
	// Logger receives what a source skips (an optional key that does not exist); nil discards.
	Logger *slog.Logger

	mu      sync.Mutex
	clients map[string]*kms.Client // by region and endpoint
}

func (k *KMS) attempts() int {
	switch {
	case k.Retries < 0:
		return 1
	case k.Retries == 0:
		return 1 + DefaultRetries
	}
	return 1 + k.Retries
}

func (k *KMS) timeout() time.Duration {
	if k.Timeout <= 0 {
		return DefaultTimeout
	}
	return k.Timeout
}

// client is the KMS client for a region and endpoint, made once per run.
func (k *KMS) client(region, endpoint string) *kms.Client {
	k.mu.Lock()
	defer k.mu.Unlock()
	id := region + " " + endpoint
	if c, ok := k.clients[id]; ok {
		return c
	}
	c := kms.NewFromConfig(k.Config, func(o *kms.Options) {
		o.Region = region
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.HTTPClient = awshttp.NewBuildableClient().WithTimeout(k.timeout())
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = k.attempts()
			so.MaxBackoff = maxBackoff
			if k.MaxBackoff > 0 {
				so.MaxBackoff = k.MaxBackoff
			}
		})
	})
	if k.clients == nil {
		k.clients = map[string]*kms.Client{}
	}
	k.clients[id] = c
	return c
}

// NewSource builds the source of an aws-kms: spec.
func (k *KMS) NewSource(kind, arg string, s sources.Spec, opts sources.Options, d sources.Defaults) (sources.Source, error) {
	if err := CheckSpec(s); err != nil {
		return nil, err
	}
	ks, _ := sources.ParseAWSKMSSpec(arg)
	return &Source{Spec: s.Spec, KeyRefs: ks.Keys, Region: ks.Region, Endpoint: ks.Endpoint, KMS: k, Optional: s.Optional, Opts: opts, Defaults: d}, nil
}

// CheckSpec checks an aws-kms: spec and its options without calling KMS.
func CheckSpec(s sources.Spec) error {
	_, arg, _ := strings.Cut(s.Spec, ":")
	if _, err := sources.ParseAWSKMSSpec(arg); err != nil {
		return fmt.Errorf("source %q: %w", s.Spec, err)
	}
	if s.Versions != "" {
		return fmt.Errorf("source %q: versions applies to vault-transit; list the KMS keys to publish, oldest first (aws-kms:OLD_KEY+alias/NAME)", s.Spec)
	}
	if s.Alg != "" && algSpec(s.Alg) == "" {
		return fmt.Errorf("source %q: alg %q is not one KMS signs with (RS*, PS*, ES*, EdDSA)", s.Spec, s.Alg)
	}
	return nil
}

// Source publishes the public keys of KMS signing keys: each listed key id or ARN, and the key
// an alias points at now.
type Source struct {
	Spec     string
	KeyRefs  []string // as listed, oldest first
	Region   string   // "" uses the configuration's
	Endpoint string
	KMS      *KMS
	Optional bool
	Opts     sources.Options
	Defaults sources.Defaults

	mu   sync.Mutex
	byID map[string]byID // KeyByID's answers: every target of the set asks for the same keys
}

type byID struct {
	key sources.Key
	err error
}

func (s *Source) String() string { return s.Spec }

func (s *Source) region() string {
	if s.Region != "" {
		return s.Region
	}
	return s.KMS.Config.Region
}

// SpecAlgs maps the key specs that can sign JWTs to the alg used when the source configures
// none. RSA keys sign RS* and PS* alike: the source's alg option picks PS256.
var SpecAlgs = map[types.KeySpec]string{
	types.KeySpecRsa2048: "RS256", types.KeySpecRsa3072: "RS256", types.KeySpecRsa4096: "RS256",
	types.KeySpecEccNistP256: "ES256", types.KeySpecEccNistP384: "ES384", types.KeySpecEccNistP521: "ES512",
	types.KeySpecEccNistEdwards25519: "EdDSA",
}

// algSpec is the KMS signing algorithm that makes a JWS signature of alg.
func algSpec(alg string) types.SigningAlgorithmSpec {
	return map[string]types.SigningAlgorithmSpec{
		"RS256": types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, "RS384": types.SigningAlgorithmSpecRsassaPkcs1V15Sha384, "RS512": types.SigningAlgorithmSpecRsassaPkcs1V15Sha512,
		"PS256": types.SigningAlgorithmSpecRsassaPssSha256, "PS384": types.SigningAlgorithmSpecRsassaPssSha384, "PS512": types.SigningAlgorithmSpecRsassaPssSha512,
		"ES256": types.SigningAlgorithmSpecEcdsaSha256, "ES384": types.SigningAlgorithmSpecEcdsaSha384, "ES512": types.SigningAlgorithmSpecEcdsaSha512,
		"EdDSA": types.SigningAlgorithmSpecEd25519Sha512,
	}[alg]
}

// unusableWhy says why a key spec cannot be published.
func unusableWhy(spec types.KeySpec) string {
	switch {
	case spec == types.KeySpecEccSecgP256k1:
		return "secp256k1 (ES256K) is not an alg JWT verifiers commonly accept, nor one jwkspub publishes"
	case spec == types.KeySpecSm2:
		return "SM2 has no JOSE alg"
	case spec == types.KeySpecSymmetricDefault || strings.HasPrefix(string(spec), "HMAC_"):
		return "a symmetric key has no public half to publish"
	case strings.HasPrefix(string(spec), "ML_DSA"):
		return "ML-DSA has no JOSE alg that verifiers accept yet"
	}
	return "jwkspub knows no JOSE alg for it"
}

// Keys implements sources.Source: DescribeKey then GetPublicKey for each key, oldest first.
func (s *Source) Keys(ctx context.Context) ([]sources.Key, error) {
	region := s.region()
	if region == "" {
		return nil, &sources.Error{Origin: sources.Origin{Source: s.Spec}, Err: errors.New("no AWS region"),
			Fix: "set AWS_REGION (or a profile's region), or add ?region= to the spec"}
	}
	c := s.KMS.client(region, s.Endpoint)
	var (
		keys []sources.Key
		errs []error
		seen = map[string]bool{} // key ARNs: an alias may point at a key also listed by id
	)
	for _, ref := range s.KeyRefs {
		at := sources.Origin{Source: s.Spec, Location: "key " + ref}
		k, arn, err := s.key(ctx, c, ref, region, at)
		if err != nil {
			if s.Optional && errors.Is(err, ErrNotFound) {
				s.Opts.Log().Info("optional key does not exist", "source", s.Spec, "key", ref, "region", region)
				continue
			}
			errs = append(errs, err)
			continue
		}
		if seen[arn] {
			continue
		}
		seen[arn] = true
		k.Order = len(keys) + 1
		keys = append(keys, k)
	}
	s.Defaults.Apply(keys)
	return keys, errors.Join(errs...)
}

// KeyByID implements sources.Historian: it reads a key the source yielded before, by the ARN
// the rotation state recorded (an alias moved on since). A key deleted, disabled or pending
// deletion fails with an error sources.IsGone reports, whose fix says how to keep it published.
func (s *Source) KeyByID(ctx context.Context, id string) (sources.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.byID[id]; ok {
		return r.key, r.err
	}
	k, err := s.keyByID(ctx, id)
	if ctx.Err() == nil {
		if s.byID == nil {
			s.byID = map[string]byID{}
		}
		s.byID[id] = byID{k, err}
	}
	return k, err
}

func (s *Source) keyByID(ctx context.Context, id string) (sources.Key, error) {
	region := s.region()
	if r := regionOf(id); r != "" {
		region = r // an ARN names its region; the spec's may have changed since
	}
	if region == "" {
		return sources.Key{}, &sources.Error{Origin: sources.Origin{Source: s.Spec}, Err: errors.New("no AWS region"),
			Fix: "set AWS_REGION (or a profile's region), or add ?region= to the spec"}
	}
	at := sources.Origin{Source: s.Spec, Location: "earlier key " + id}
	k, _, err := s.key(ctx, s.KMS.client(region, s.Endpoint), id, region, at)
	if err != nil {
		var se *sources.Error
		if errors.As(err, &se) && (errors.Is(err, ErrUnusable) || errors.Is(err, ErrNotFound)) {
			fix := "enable it again (aws kms enable-key, or aws kms cancel-key-deletion) until the rotation guard lets it go"
			if errors.Is(err, ErrNotFound) {
				fix = "it cannot come back: once no token it signed is still valid, let it go with --allow-removal"
			}
			return sources.Key{}, &sources.Error{Origin: se.Origin, Err: goneError{se.Err}, Fix: fix}
		}
		return sources.Key{}, err
	}
	ks := []sources.Key{k}
	s.Defaults.Apply(ks)
	return ks[0], nil
}

// goneError marks a key that no longer exists or can no longer be used (sources.IsGone).
type goneError struct{ error }

func (e goneError) Unwrap() error { return e.error }
func (goneError) Gone() bool      { return true }

// regionOf is the region an ARN names (arn:aws:kms:REGION:ACCOUNT:key/ID), "" for a bare id.
func regionOf(ref string) string {
	parts := strings.SplitN(ref, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" {
		return parts[3]
	}
	return ""
}

// key reads one key: its metadata (state, usage, spec), then its public key.
func (s *Source) key(ctx context.Context, c *kms.Client, ref, region string, at sources.Origin) (sources.Key, string, error) {
	fail := func(err error) (sources.Key, string, error) {
		return sources.Key{}, "", &sources.Error{Origin: at, Err: err, Fix: fixOf(err)}
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
	if err != nil {
		return fail(classify(err, "kms:DescribeKey", ref, region, s.KMS.timeout()))
	}
	m := d.KeyMetadata
	if m == nil || m.Arn == nil || m.KeyId == nil {
		return fail(&kmsError{kind: ErrResponse, msg: fmt.Sprintf("%v: DescribeKey %s: no key metadata", ErrResponse, ref)})
	}
	arn, id := *m.Arn, *m.KeyId
	if id != ref && !strings.HasSuffix(ref, "/"+id) {
		at.Location += " (" + id + ")" // an alias: name the key it points at now
	}
	unusable := func(format string, fix string, a ...any) (sources.Key, string, error) {
		return fail(&kmsError{kind: ErrUnusable, msg: fmt.Sprintf("%v: "+format, append([]any{ErrUnusable}, a...)...), fix: fix})
	}
	if m.KeyState != types.KeyStateEnabled {
		fix := "enable it (aws kms enable-key), or list only enabled keys"
		switch m.KeyState {
		case types.KeyStatePendingDeletion:
			when := ""
			if m.DeletionDate != nil {
				when = ", deleted on " + m.DeletionDate.UTC().Format(time.RFC3339)
			}
			return unusable("key %s is PendingDeletion%s: tokens it signed stop verifying then", "cancel the deletion (aws kms cancel-key-deletion) if tokens still need it, or remove it from the source once the rotation guard lets it go", id, when)
		case types.KeyStateDisabled:
		default:
			fix = "wait for the key to become Enabled, or remove it from the source"
		}
		return unusable("key %s is %s, not Enabled", fix, id, m.KeyState)
	}
	if m.KeyUsage != types.KeyUsageTypeSignVerify {
		return unusable("key %s has KeyUsage %s: only SIGN_VERIFY keys sign JWTs", "create a key with --key-usage SIGN_VERIFY and an RSA_*, ECC_NIST_* or ECC_NIST_EDWARDS25519 key spec", id, m.KeyUsage)
	}
	alg, ok := SpecAlgs[m.KeySpec]
	if !ok {
		return unusable("key %s has key spec %s: %s", "use a key of spec RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521 or ECC_NIST_EDWARDS25519", id, m.KeySpec, unusableWhy(m.KeySpec))
	}
	if s.Defaults.Alg != "" {
		alg = s.Defaults.Alg
	}
	if want := algSpec(alg); len(m.SigningAlgorithms) > 0 && !slices.Contains(m.SigningAlgorithms, want) {
		return unusable("key %s (%s) does not sign with %s (%s); it offers %v", "set the source's alg to one the key signs with, or drop it", id, m.KeySpec, want, alg, m.SigningAlgorithms)
	}

	p, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(arn)})
	if err != nil {
		return fail(classify(err, "kms:GetPublicKey", arn, region, s.KMS.timeout()))
	}
	if p.KeySpec != m.KeySpec {
		return fail(&kmsError{kind: ErrResponse, msg: fmt.Sprintf("%v: GetPublicKey %s: key spec %s, DescribeKey said %s", ErrResponse, id, p.KeySpec, m.KeySpec)})
	}
	if err := s.Opts.Charge(at, len(p.PublicKey)); err != nil {
		return sources.Key{}, "", err
	}
	if _, err := x509.ParsePKIXPublicKey(p.PublicKey); err != nil {
		return fail(&kmsError{kind: ErrResponse, msg: fmt.Sprintf("%v: GetPublicKey %s: the public key is not DER SubjectPublicKeyInfo: %v", ErrResponse, id, err)})
	}
	ks, err := sources.ParsePEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p.PublicKey}), at, sources.Options{})
	if err != nil {
		return sources.Key{}, "", err
	}
	if len(ks) != 1 {
		return fail(&kmsError{kind: ErrResponse, msg: fmt.Sprintf("%v: GetPublicKey %s: %d keys in the answer", ErrResponse, id, len(ks))})
	}
	k := ks[0]
	k.Origin, k.Name, k.SourceKey = at, id, arn
	return k, arn, nil
}

// kmsError is a classified KMS failure.
type kmsError struct {
	kind        error
	msg         string
	fix         string
	unavailable bool
}

func (e *kmsError) Error() string     { return e.msg }
func (e *kmsError) Unwrap() error     { return e.kind }
func (e *kmsError) Unavailable() bool { return e.unavailable }

func fixOf(err error) string {
	var ke *kmsError
	if errors.As(err, &ke) {
		return ke.fix
	}
	return ""
}

// classify turns an SDK error of action on key into one of the sentinels, with the IAM action
// and resource to grant for a denial. AWS's own messages name principals, actions and
// resources, never credentials; the SDK's request details are left out.
func classify(err error, action, key, region string, timeout time.Duration) *kmsError {
	var (
		ae smithy.APIError
		re *awshttp.ResponseError
		ne net.Error
	)
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	// The SDK retried already: say how often, as the Vault and issuer sources do.
	tries := ""
	var mae *retry.MaxAttemptsError
	if errors.As(err, &mae) {
		tries = fmt.Sprintf(" (after %d attempts)", mae.Attempt)
	}
	if errors.As(err, &ae) {
		code, msg := ae.ErrorCode(), ae.ErrorMessage()
		switch code {
		case "AccessDeniedException":
			return &kmsError{kind: ErrDenied, msg: fmt.Sprintf("%v: %s on %s: %s", ErrDenied, action, key, msg),
				fix: fmt.Sprintf("grant kms:DescribeKey and kms:GetPublicKey on %s to the job's role (its IAM policy, and the key policy must allow it)", deniedResource(key, region, msg))}
		case "NotFoundException":
			return &kmsError{kind: ErrNotFound, msg: fmt.Sprintf("%v: %s in region %s: %s", ErrNotFound, key, region, msg),
				fix: "check the key id or alias and the region (AWS_REGION, or ?region= in the spec)"}
		case "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "InvalidSignatureException", "IncompleteSignature":
			return &kmsError{kind: ErrCredentials, msg: fmt.Sprintf("%v: %s: %s: %s", ErrCredentials, action, code, msg),
				fix: "check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, or the web identity role) and that they are for this account and region"}
		case "DisabledException", "KMSInvalidStateException":
			return &kmsError{kind: ErrUnusable, msg: fmt.Sprintf("%v: %s: %s", ErrUnusable, key, msg), fix: "enable the key, or remove it from the source"}
		case "ThrottlingException", "KMSInternalException", "DependencyTimeoutException", "RequestLimitExceeded":
			return &kmsError{kind: ErrUnreachable, msg: fmt.Sprintf("%v: %s %s: %s: %s%s", ErrUnreachable, action, key, code, msg, tries),
				fix: "retry later, or mark the source optional to keep its live keys meanwhile", unavailable: true}
		}
		if status == 429 || status >= 500 {
			return &kmsError{kind: ErrUnreachable, msg: fmt.Sprintf("%v: %s %s: HTTP %d: %s: %s%s", ErrUnreachable, action, key, status, code, msg, tries),
				fix: "retry later, or mark the source optional to keep its live keys meanwhile", unavailable: true}
		}
		return &kmsError{kind: ErrResponse, msg: fmt.Sprintf("%v: %s %s: %s: %s", ErrResponse, action, key, code, msg)}
	}
	if status == 429 || status >= 500 {
		return &kmsError{kind: ErrUnreachable, msg: fmt.Sprintf("%v: %s %s: HTTP %d%s", ErrUnreachable, action, key, status, tries),
			fix: "retry later, or mark the source optional to keep its live keys meanwhile", unavailable: true}
	}
	if strings.Contains(err.Error(), "failed to retrieve credentials") || strings.Contains(err.Error(), "no EC2 IMDS role found") {
		return &kmsError{kind: ErrCredentials, msg: fmt.Sprintf("%v: %s", ErrCredentials, lastCause(err)),
			fix: "give AWS credentials: AWS_PROFILE, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE"}
	}
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "EOF") {
		cause := lastCause(err)
		var op *net.OpError
		if errors.As(err, &op) {
			cause = op.Error()
		} else if ne != nil && ne.Timeout() {
			cause = "no answer within " + timeout.String()
		}
		return &kmsError{kind: ErrUnreachable, msg: fmt.Sprintf("%v: %s %s: %s%s", ErrUnreachable, action, key, cause, tries),
			fix: "check the network and the endpoint (?endpoint=), or mark the source optional", unavailable: true}
	}
	return &kmsError{kind: ErrResponse, msg: fmt.Sprintf("%v: %s %s: %s", ErrResponse, action, key, lastCause(err))}
}

// deniedResource is the ARN a denial is about: the key's own when the spec gave one, the one
// AWS's message names ("... on resource: arn:aws:kms:..."), else the pattern to fill in.
func deniedResource(key, region, msg string) string {
	if strings.HasPrefix(key, "arn:") && strings.Contains(key, ":key/") {
		return key
	}
	if _, after, ok := strings.Cut(msg, "on resource: "); ok {
		if arn, _, _ := strings.Cut(after, " "); strings.HasPrefix(arn, "arn:") {
			return strings.TrimRight(arn, ".,;")
		}
	}
	return fmt.Sprintf("arn:aws:kms:%s:ACCOUNT:key/KEY_ID (the key %s names)", region, key)
}

// lastCause drops the SDK's "operation error KMS: DescribeKey, https response error ..."
// preamble, which repeats what the message already names.
func lastCause(err error) string {
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return err.Error()
}
