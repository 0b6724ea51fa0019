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
// The revision is the manifest digest the tag names. Each image records in the label
// LabelParent the revision its write was planned on (none on a first publication), so the
// images at a tag form a chain. Write pushes the blobs (layers and config) first, which moves
// no tag; then checks that the tag still names the revision it was read at (a HEAD), puts the
// manifest to the tag, and reads the tag back. A tag that moved before the check gives
// target.ErrConflict with nothing pushed to the tag; one that names another image right after
// the put (someone pushed just after us) gives target.ErrConflict too, and the other image
// stands. Then it waits the settle window (?settle=, default DefaultSettle) and follows the
// tag back through the parents: the tag names our image or one built on it, and the write
// stands; the chain reaches the revision we planned on, an image with no parent, or 16 steps
// without meeting ours, and a rival that planned on what we read put its image after our
// read-back and overwrote ours: target.ErrConflict, and the runner re-plans on what the tag
// names now (adding our keys again, or the guard judging their removal). The runner's own
// read-back of the documents after Write treats other bytes as a lost race too.
//
// Registries have no compare-and-swap on tags, so this narrows the window without closing it:
// a rival stalled longer than the settle window between its check and its put overwrites an
// image whose publisher has already exited 0. So there must still be one publisher per tag at
// a time: in CI, the workflow's concurrency group. Within one process, Targets that share a
// RepoLocks hold its lock from the check to the read-back, which closes the window among them
// (without it, eight in-process writers racing read-modify-write on one tag lost one or two
// updates per run in the tests).
//
// Measured by TestOCIRacingPublishers (internal/integration: jwkspub processes, each adding
// its own key to one live set at one tag of distribution's registry 2.8.2; 2 vCPU Xeon,
// 2026-12-03): before the parent chain and the runner's read-back as a lost race, 5 of the 45
// publishers that exited 0 in 6 runs (4 runs of 6 rounds × 6 racers, 2 of 8 × 8) had lost
// their key, and others exited 1 on a read-back mismatch; now none of those that exited 0
// lost its key, with the default window and with settle=0 (the runner's read-back caught what
// the window would have), and every other publisher was refused by the guard after
// re-planning (exit 3). The README's oci:// section has the counts.
//
// # Reproducibility
//
// Equal objects, an equal base (by digest), equal Params, an equal target (set name,
// platform) and an equal parent give the same image digest, byte for byte, whenever and
// wherever it is built: the layer's entries are sorted and owned by root with fixed modes,
// each file's modification time is derived from its content (ContentModTime), directories get
// a fixed time, and the config's creation time is the newest file's time, never the clock.
// The parent is the revision the write was planned on, so the same documents published onto
// another image give another digest; a first publication has no parent label, like the images
// jwkspub built before it recorded one. The state object is one of the objects: it records
// when each key was first published, so a first publication in another second gives another
// state object and another digest; republishing unchanged keys keeps the state, the image and
// its digest, and pushes nothing (Write finds the objects equal to a live image that is not
// Outdated).
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
