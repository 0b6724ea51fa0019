package awskms

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/jwkspub/jwkspub/sources"
)

// Every key spec KMS has is either mapped to an alg whose KMS signing algorithm exists, or
// refused with a reason: a new spec in the SDK cannot slip through unnoticed.
func TestSpecAlgs(t *testing.T) {
	for _, spec := range types.KeySpec("").Values() {
		alg, ok := SpecAlgs[spec]
		if !ok {
			if why := unusableWhy(spec); why == "" {
				t.Errorf("%s: no alg and no reason", spec)
			}
			continue
		}
		if algSpec(alg) == "" {
			t.Errorf("%s: alg %s has no KMS signing algorithm", spec, alg)
		}
	}
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		if algSpec(alg) == "" {
			t.Errorf("alg %s: no KMS signing algorithm", alg)
		}
	}
}

func TestCheckSpec(t *testing.T) {
	for _, tc := range []struct {
		s   sources.Spec
		err string
	}{
		{sources.Spec{Spec: "aws-kms:alias/jwt"}, ""},
		{sources.Spec{Spec: "aws-kms:alias/jwt", Alg: "PS256"}, ""},
		{sources.Spec{Spec: "aws-kms:alias/jwt", Alg: "HS256"}, `alg "HS256" is not one KMS signs with`},
		{sources.Spec{Spec: "aws-kms:alias/jwt", Versions: "all"}, "versions applies to vault-transit"},
		{sources.Spec{Spec: "aws-kms:a++b"}, "an empty key"},
	} {
		err := CheckSpec(tc.s)
		if (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: error %v, want %q", tc.s, err, tc.err)
		}
	}
}

type apiErr struct{ code, msg string }

func (e apiErr) Error() string                 { return e.code + ": " + e.msg }
func (e apiErr) ErrorCode() string             { return e.code }
func (e apiErr) ErrorMessage() string          { return e.msg }
func (e apiErr) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// classify is what every KMS failure becomes: the sentinel, a message naming the action and
// key, the fix, and whether an optional source keeps its live keys.
func TestClassify(t *testing.T) {
	op := func(err error) error {
		return &smithy.OperationError{ServiceID: "KMS", OperationName: "DescribeKey", Err: err}
	}
	const key = "1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, tc := range []struct {
		name     string
		err      error
		is       error
		msg, fix string
		down     bool
	}{
		{"denied", op(apiErr{"AccessDeniedException", "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: kms:DescribeKey on resource: arn:aws:kms:eu-west-1:1:key/" + key + " because no identity-based policy allows it"}),
			ErrDenied, "access denied: kms:DescribeKey on " + key + ": User:", "grant kms:DescribeKey and kms:GetPublicKey on arn:aws:kms:eu-west-1:1:key/" + key + " to the job's role", false},
		{"denied without resource", op(apiErr{"AccessDeniedException", "denied"}), ErrDenied, "", "on arn:aws:kms:eu-west-1:ACCOUNT:key/KEY_ID (the key " + key + " names)", false},
		{"not found", op(apiErr{"NotFoundException", "Key 'x' does not exist"}), ErrNotFound, "not found: " + key + " in region eu-west-1", "check the key id or alias and the region", false},
		{"bad credentials", op(apiErr{"UnrecognizedClientException", "The security token included in the request is invalid."}), ErrCredentials, "no usable AWS credentials", "AWS_PROFILE", false},
		{"throttled after retries", op(&retry.MaxAttemptsError{Attempt: 4, Err: apiErr{"ThrottlingException", "Rate exceeded"}}), ErrUnreachable, "ThrottlingException: Rate exceeded (after 4 attempts)", "mark the source optional", true},
		{"timeout", op(&retry.MaxAttemptsError{Attempt: 2, Err: timeoutErr{}}), ErrUnreachable, "no answer within 10s (after 2 attempts)", "", true},
		{"refused", op(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}), ErrUnreachable, "dial tcp: connect: connection refused", "?endpoint=", true},
		{"no credentials", op(fmt.Errorf("failed to retrieve credentials: %w", errors.New("no EC2 IMDS role found"))), ErrCredentials, "no usable AWS credentials", "AWS_ROLE_ARN", false},
		{"validation", op(apiErr{"ValidationException", "bad"}), ErrResponse, "ValidationException: bad", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ke := classify(tc.err, "kms:DescribeKey", key, "eu-west-1", DefaultTimeout)
			if !errors.Is(ke, tc.is) || !strings.Contains(ke.Error(), tc.msg) || !strings.Contains(ke.fix, tc.fix) {
				t.Fatalf("%v (fix: %s), want %v saying %q, fix %q", ke, ke.fix, tc.is, tc.msg, tc.fix)
			}
			if ke.Unavailable() != tc.down {
				t.Errorf("Unavailable = %v, want %v", ke.Unavailable(), tc.down)
			}
			if sources.IsUnavailable(&sources.Error{Err: ke}) != tc.down {
				t.Errorf("sources.IsUnavailable does not see it through sources.Error")
			}
		})
	}
}

// rawECDSA: KMS's DER signatures become JWS's fixed-width r||s, short values left-padded, and
// anything else is refused rather than sent as a broken token.
func TestRawECDSA(t *testing.T) {
	der := func(r, s int64) []byte {
		b, err := asn1.Marshal(struct{ R, S *big.Int }{big.NewInt(r), big.NewInt(s)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	got, err := rawECDSA(der(1, 258), 32)
	if err != nil || len(got) != 64 || got[31] != 1 || got[62] != 1 || got[63] != 2 {
		t.Fatalf("rawECDSA = %x, %v", got, err)
	}
	for name, in := range map[string][]byte{"not DER": []byte("sig"), "zero r": der(0, 1), "trailing": append(der(1, 1), 0)} {
		if _, err := rawECDSA(in, 32); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	wide := new(big.Int).Lsh(big.NewInt(1), 300)
	b, _ := asn1.Marshal(struct{ R, S *big.Int }{wide, wide})
	if _, err := rawECDSA(b, 32); err == nil {
		t.Error("accepted r wider than the curve")
	}
}

func TestRegionOf(t *testing.T) {
	for ref, want := range map[string]string{
		"arn:aws:kms:eu-west-1:111122223333:key/1234abcd": "eu-west-1",
		"arn:aws-cn:kms:cn-north-1:111122223333:key/ab":   "cn-north-1",
		"1234abcd-12ab-34cd-56ef-1234567890ab":            "",
		"alias/jwt":                                       "",
	} {
		if got := regionOf(ref); got != want {
			t.Errorf("regionOf(%q) = %q, want %q", ref, got, want)
		}
	}
}
