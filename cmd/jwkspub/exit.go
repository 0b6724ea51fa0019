package main

import (
	"errors"
	"fmt"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/served"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/issuer"
)

// Exit codes: the one table of the contract, mapped here and nowhere else.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
	exitRefused = 3
	exitPartial = 4
	exitUsage   = 64
)

// usageError is a mistake in how jwkspub was invoked.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// exitError carries an explicit exit code for outcomes that are not failures (diff changes).
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *codeError) Unwrap() error { return e.err }

// exitCode maps an error to the contract's exit codes.
func exitCode(err error) int {
	var (
		ue *usageError
		ce *codeError
		pe *jwks.PolicyError
		ge *publish.GuardError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &pe), errors.As(err, &ge), errors.Is(err, sources.ErrPrivateKey), errors.Is(err, sources.ErrPrivateMismatch), errors.Is(err, served.ErrTokenRejected),
		errors.Is(err, issuer.ErrDuplicateKID):
		return exitRefused
	}
	return exitError
}
