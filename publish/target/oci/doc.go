// Package oci is the image target (oci://REGISTRY/REPO:TAG?base=IMAGE): the set is served by
// an nginx image at a tag, built here without Docker from the same Dockerfile and nginx.conf
// `jwkspub render` writes, and pushed with go-containerregistry.
//
// # Objects
//
// The objects are named by their paths in the build context, target.NamesFor(JWKSName, true):
// html/.well-known/jwks.json, its .gz, html/.well-known/openid-configuration and
// html/.well-known/jwks.json.state.json. The rendered Dockerfile copies html/ into the image's
// document root; the state object lies there too but nginx.conf serves exact paths only, so it
// is never served. An image stores no per-object headers: the JWKS's Cache-Control and
// Content-Type are rendered into nginx.conf and recorded in the labels LabelCacheControl and
// LabelContentType, the discovery document is served with the JWKS's Cache-Control as
// application/json, the .gz with Content-Encoding gzip. Read reports exactly these (and the
// state object as no-cache, application/json), and Write refuses objects whose headers differ
// from them, so what is written reads back equal (target.Object.Same).
//
// # Revisions, and what a registry cannot promise
//
// The revision is the manifest digest the tag names. Write pushes the blobs (layers and
// config) first, which moves no tag; then checks that the tag still names the revision it was
// read at (a HEAD), puts the manifest to the tag, and reads the tag back. A tag that moved
// before the check gives target.ErrConflict with nothing pushed to the tag; one that names
// another image right after the put (someone pushed just after us) gives target.ErrConflict
// too, and the other image stands.
//
// Registries have no compare-and-swap on tags: a publisher whose put lands between our check
// and our put, and who read its tag back before our put landed, loses its update without
// knowing. So there must be one publisher per tag at a time: in CI, the workflow's concurrency
// group. Within one process, Targets that share a RepoLocks hold its lock from the check to
// the read-back, which closes that window among them (without it, eight in-process writers
// racing read-modify-write on one tag lost one or two updates per run in the tests).
//
// # Reproducibility
//
// Equal objects, an equal base (by digest), equal Params and an equal target (set name,
// platform) give the same image digest, byte for byte, whenever and wherever it is built: the
// layer's entries are sorted and owned by root with fixed modes, each file's modification time
// is derived from its content (ContentModTime), directories get a fixed time, and the config's
// creation time is the newest file's time, never the clock. The state object is one of the
// objects: it records when each key was first published, so a first publication in another
// second gives another state object and another digest; republishing unchanged keys keeps the
// state, and so the digest, and pushes nothing.
//
// # The registry race
//
// Publishing two tags of one repository at once failed now and then with DIGEST_INVALID and
// MANIFEST_BLOB_UNKNOWN from distribution's `registry` (v2.8, Debian's docker-registry). Both
// pushes share blobs (the base's layers, mounted from the base's repository, and the document
// layer when the documents are equal); each checks that a blob is absent and then links it
// into the repository, and distribution's filesystem driver rewrites a link file in place
// (truncate, then write). A manifest put that verifies its blobs while the other push rewrites
// one reads an empty link and is refused (the in-place write behind
// distribution/distribution#4478; v3 writes a temporary file and renames it, #4624). Two defences: Targets sharing a RepoLocks push to one
// repository one at a time, so the second finds every shared blob already linked and rewrites
// none; and a step refused with one of those codes (from another process) is retried once,
// after pushing any missing blob again and checking the tag again.
package oci
