package main

import (
	"context"
	"fmt"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/sources/awskms"
)

// usesKMS reports whether any source of the set reads AWS KMS.
func usesKMS(set *config.SetConfig) bool {
	for _, sc := range set.Sources {
		if strings.HasPrefix(sc.Spec.Spec, "aws-kms:") {
			return true
		}
	}
	return false
}

// kmsConn loads the AWS configuration once per run, only when a set has an aws-kms: source:
// the SDK's default chain (AWS_* variables, the shared config and credentials files, web
// identity, IMDS), as the s3:// target's driver does. Loading reads files only; credentials
// are fetched on the first call, and never printed.
func (g *globals) kmsConn() (*awskms.KMS, error) {
	if g.kms != nil {
		return g.kms, nil
	}
	// The default chain takes no context of its own for reading files; a background one is
	// what it would use.
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		return nil, fmt.Errorf("aws-kms sources: loading the AWS configuration: %w", err)
	}
	g.kms = &awskms.KMS{Config: cfg, Logger: g.logger}
	return g.kms, nil
}
