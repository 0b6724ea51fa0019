// Package config is the configuration file's schema: strict YAML (unknown fields are errors
// with their line, every validation problem reported at once) decoded into the types the
// other packages judge by: a set's jwks.Policy and kid mode, its rotation.Rules, its source
// specs (package sources) and its target URLs, checked for shape without contacting anything.
//
// It reads only the bytes or the io.Reader it is handed. It must never import package
// publish, a target implementation, a cloud SDK or the registry client. (It asks
// publish/served for the one https-or-loopback rule an issuer obeys, and so links net/http
// without using it.)
package config
