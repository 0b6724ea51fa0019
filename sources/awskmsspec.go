package sources

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jwkspub/jwkspub/internal/httpsrule"
)

// AWSKMSSpec is the argument of an aws-kms: spec, KEY[+KEY...][?region=R&endpoint=URL]: what
// package sources/awskms reads, parsed here so that the configuration is checked without
// linking the AWS SDK.
type AWSKMSSpec struct {
	// Keys are key ids, key ARNs or aliases (alias/NAME, or an alias ARN), oldest first: the
	// last is the key to sign with now, as a source's keys always come in that order.
	Keys []string
	// Region overrides the default chain's (AWS_REGION, the profile's).
	Region string
	// Endpoint replaces KMS's: a VPC endpoint, or an emulator. https, or http to loopback.
	Endpoint string
}

// ParseAWSKMSSpec reads the argument of aws-kms:KEY[+KEY...][?region=R&endpoint=URL]. Keys
// are joined with '+', which no key id, ARN or alias name contains: a comma would be split by
// the command line's repeatable --source (and JWKSPUB_SOURCE) into separate specs.
func ParseAWSKMSSpec(arg string) (AWSKMSSpec, error) {
	var s AWSKMSSpec
	keys, query, hasQuery := strings.Cut(arg, "?")
	for _, k := range strings.Split(keys, "+") {
		switch {
		case k == "":
			return s, errors.New("an empty key in the list: use aws-kms:KEY or aws-kms:OLD_KEY+alias/NAME")
		case strings.ContainsAny(k, " \t\r\n"):
			return s, fmt.Errorf("key %q has white space", k)
		case k == "alias/" || strings.HasPrefix(k, "alias/aws/"):
			return s, fmt.Errorf("%q: name a customer managed key's alias; AWS managed keys (alias/aws/...) do not sign", k)
		case strings.HasPrefix(k, "arn:") && !strings.Contains(k, ":key/") && !strings.Contains(k, ":alias/"):
			return s, fmt.Errorf("%q is not a KMS key or alias ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)", k)
		}
		for _, prev := range s.Keys {
			if prev == k {
				return s, fmt.Errorf("key %q is listed twice", k)
			}
		}
		s.Keys = append(s.Keys, k)
	}
	if !hasQuery {
		return s, nil
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return s, fmt.Errorf("options %q: %w", query, err)
	}
	for name, vs := range q {
		if len(vs) != 1 || vs[0] == "" {
			return s, fmt.Errorf("option %q: give it once, with a value", name)
		}
		switch name {
		case "region":
			s.Region = vs[0]
		case "endpoint":
			u, err := url.Parse(vs[0])
			if err != nil {
				return s, fmt.Errorf("endpoint %q: %w", vs[0], err)
			}
			if httpsrule.Check(u) != httpsrule.OK || u.User != nil {
				return s, fmt.Errorf("endpoint %q: use an https URL without credentials (plain http only to a loopback emulator)", u.Redacted())
			}
			s.Endpoint = vs[0]
		default:
			return s, fmt.Errorf("unknown option %q (region, endpoint)", name)
		}
	}
	return s, nil
}
