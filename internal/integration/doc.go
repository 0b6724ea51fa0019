// Package integration holds the tests that talk to real services (Vault, object stores,
// nginx, a registry, real verifiers). They build only with -tags integration and fail, never
// skip, when a service they need is missing: `make integration` starts them first.
package integration
