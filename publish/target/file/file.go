// Package file is the directory target: a set published as plain files in one directory,
// served by a web server (nginx) that owns the headers.
//
// What it guarantees, on Linux, macOS and the BSDs:
//
//   - Every object is whole. Write puts each body in a temporary file in the same directory
//     (created with O_EXCL and O_NOFOLLOW, so it never opens something already there), fsyncs
//     it, and renames it over the name; a reader sees the old or the new bytes, never a part.
//     All temporary files of a publication are written before the first rename, so a full
//     disk, a denied permission or a name the file system refuses fails Write before anything
//     served has changed. After each rename or delete the directory is fsynced, so the order
//     the caller gave (the JWKS before the state) holds across a power loss too.
//   - A crash at any point leaves a directory Read accepts: each object the old or the new
//     version, at most some temporary files (".<name>.jwkspub-<16 hex digits>.tmp", hidden
//     dot files a web server should not serve), which the next Write removes. There are no
//     sidecar files: headers are the web server's configuration (Snapshot.Attributes is
//     false), so nothing can be left half-written beside a document.
//   - Write is conditional. It takes an exclusive flock on the directory, re-reads the set and
//     writes only if its revision is still the caller's base, else it wraps target.ErrConflict
//     having written nothing: two publishers cannot lose each other's update. Read takes a
//     shared lock, so it never sees half of a publication.
//   - Every file written has the configured mode (0644 unless set), whatever the umask, since
//     a served document the web server cannot read is an outage.
//   - No symbolic link inside the directory is followed: an object that is a link (or a FIFO,
//     socket, device or directory) is an error naming it, for Read and Write alike. The
//     directory's own path may be or go through a link.
//   - Names are checked (length, '/' and NUL) when the target is made and before the first
//     write, including the temporary names derived from them.
//
// What it cannot guarantee: flock is advisory (a process that does not take it, an editor or
// a copy, is not held off) and is not reliable on NFS and other network file systems, where
// there must be only one publisher per directory. On other systems (Windows) New fails.
package file

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/jwkspub/jwkspub/publish/target"
)

// DefaultMode is the mode of the files written when Options.Mode is 0: readable by the web
// server whatever user it runs as.
const DefaultMode fs.FileMode = 0o644

// nameMax is the longest file name (in bytes) the common file systems store (NAME_MAX).
const nameMax = 255

// Temporary files are ".<name>.jwkspub-<16 hex>.tmp": hidden, beside the name they replace,
// and recognisable, so a run holding the exclusive lock knows any it finds is a dead run's.
const (
	tempPrefix = "."
	tempInfix  = ".jwkspub-"
	tempRandom = 16 // hex digits
	tempSuffix = ".tmp"
)

// Options configure a Target.
type Options struct {
	// Mode is the mode of every file written, whatever the umask; 0 means DefaultMode.
	Mode fs.FileMode
	// Gzip adds the .gz sibling that nginx's gzip_static serves to the set's names.
	Gzip bool
	// CreateDir makes Write create a missing directory (and its parents, mode 0755), as the
	// fileblob driver this package replaces did. Off, Write into a missing directory fails
	// saying to create it. Read never creates anything.
	CreateDir bool
	// Logger receives the removal of temporary files left by dead runs; nil discards.
	Logger *slog.Logger
	// OnWrite, when set (tests, crash harnesses), is called at every write point with a
	// label: "temp <name>" after a temporary file is written and fsynced, "rename <name>"
	// after it is renamed over name, "delete <name>" after name is removed, "dirsync" after
	// each fsync of the directory, "mkdir" after CreateDir made the directory.
	OnWrite func(point string)
}

// Target is a set published in one directory. Its methods may be called concurrently and
// from several processes: the directory's flock orders them.
type Target struct {
	dir       string
	names     target.Names
	mode      fs.FileMode
	createDir bool
	log       *slog.Logger
	onWrite   func(string)
}

var _ target.Target = (*Target)(nil)

// New returns the target for the set whose JWKS is jwksName in dir. dir must be absolute;
// jwksName is a base name. Every name of the set, and the temporary names derived from them,
// is checked here, so a name the directory cannot hold fails before anything is written.
func New(dir, jwksName string, o Options) (*Target, error) {
	if !supported {
		return nil, fmt.Errorf("file target %s: %w: the precondition needs flock and openat (fix: publish to an object store or an image instead)", dir, errNotSupported)
	}
	if !path.IsAbs(dir) {
		return nil, fmt.Errorf("file target %s: the directory must be an absolute path", dir)
	}
	mode := o.Mode
	if mode == 0 {
		mode = DefaultMode
	}
	if err := checkMode(mode); err != nil {
		return nil, fmt.Errorf("file target %s: %w", dir, err)
	}
	names := target.NamesFor(jwksName, o.Gzip)
	names.WellKnown = path.Base(path.Clean(dir)) == ".well-known"
	if err := checkName(jwksName); err != nil {
		return nil, fmt.Errorf("file target %s: the document's name: %w", dir, err)
	}
	for _, n := range names.All() {
		if err := checkName(n); err != nil {
			return nil, fmt.Errorf("file target %s: %w", dir, err)
		}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Target{dir: path.Clean(dir), names: names, mode: mode, createDir: o.CreateDir, log: log, onWrite: o.OnWrite}, nil
}

// Dir is the directory the set is published in.
func (t *Target) Dir() string { return t.dir }

// Names are the names of the set's objects in the directory.
func (t *Target) Names() target.Names { return t.names }

// ParseURL splits a file target URL, file:///abs/dir/jwks.json?mode=0640, into the directory,
// the JWKS's name and the mode of the files written (DefaultMode when the URL has none). The
// only query parameter is mode: octal, at most 0777, and readable by the owner.
func ParseURL(raw string) (dir, name string, mode fs.FileMode, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", 0, fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if u.Scheme != "file" {
		return "", "", 0, fmt.Errorf("%q is not a file:// URL", raw)
	}
	if u.Opaque != "" || u.Host != "" || !strings.HasPrefix(u.Path, "/") {
		return "", "", 0, fmt.Errorf("%q: a file target takes an absolute path after file://, e.g. file:///srv/www/.well-known/jwks.json", raw)
	}
	if u.User != nil || u.Fragment != "" {
		return "", "", 0, fmt.Errorf("%q: a file target URL has no user or fragment (fix: file:///abs/dir/jwks.json)", raw)
	}
	if strings.HasSuffix(u.Path, "/") {
		return "", "", 0, fmt.Errorf("%q: the path must name the document, e.g. file:///srv/www/.well-known/jwks.json", raw)
	}
	clean := path.Clean(u.Path)
	dir, name = path.Dir(clean), path.Base(clean)
	if name == "/" || name == "." || name == ".." {
		return "", "", 0, fmt.Errorf("%q: the path must name the document, e.g. file:///srv/www/.well-known/jwks.json", raw)
	}
	if err := checkName(name); err != nil {
		return "", "", 0, fmt.Errorf("%q: %w", raw, err)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", "", 0, fmt.Errorf("%q: the query string: %w", raw, err)
	}
	mode = DefaultMode
	for k, v := range q {
		if k != "mode" {
			return "", "", 0, fmt.Errorf("%q: unknown parameter %q: a file target takes only mode (the octal mode of the files written, e.g. ?mode=0640)", raw, k)
		}
		if len(v) != 1 {
			return "", "", 0, fmt.Errorf("%q: mode is given %d times; give it once", raw, len(v))
		}
		mode, err = parseMode(v[0])
		if err != nil {
			return "", "", 0, fmt.Errorf("%q: %w", raw, err)
		}
	}
	return dir, name, mode, nil
}

// parseMode reads an octal mode such as 0640 or 640.
func parseMode(s string) (fs.FileMode, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || s == "" {
		return 0, fmt.Errorf("mode %q is not an octal file mode (fix: e.g. mode=0644 or mode=0640)", s)
	}
	m := fs.FileMode(n)
	if err := checkMode(m); err != nil {
		return 0, err
	}
	return m, nil
}

// checkMode refuses modes that are not permission bits, and modes under which the owner
// (jwkspub itself, on its next Read) could not read what it wrote.
func checkMode(m fs.FileMode) error {
	if m&^fs.ModePerm != 0 {
		return fmt.Errorf("mode %#o has more than permission bits: at most 0777 (fix: e.g. mode=0644)", uint32(m))
	}
	if m&0o400 == 0 {
		return fmt.Errorf("mode %#o does not let the owner read the files: jwkspub reads them back on every run (fix: e.g. mode=0644 or mode=0640)", uint32(m))
	}
	return nil
}

// checkName refuses a name the directory cannot hold as a single entry, including the
// temporary name the write makes for it.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%q is not a file name", name)
	case strings.ContainsRune(name, '/'):
		return fmt.Errorf("%q contains '/': a file target keeps every object in its one directory; put the directory in the URL's path instead", name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%q contains a NUL byte, which no file name can hold", name)
	case len(tempName(name, "")) > nameMax:
		return fmt.Errorf("%.40q... is too long: %d bytes, and its temporary file %d, where a file name holds at most %d (fix: a shorter document name)", name, len(name), len(tempName(name, "")), nameMax)
	}
	return nil
}

// tempName is the temporary file that becomes name; rnd is tempRandom hex digits (empty
// only for measuring, where it counts as their length).
func tempName(name, rnd string) string {
	if rnd == "" {
		rnd = strings.Repeat("0", tempRandom)
	}
	return tempPrefix + name + tempInfix + rnd + tempSuffix
}

// isTempName reports whether an entry of the directory is a temporary file of this package.
func isTempName(s string) bool {
	if !strings.HasPrefix(s, tempPrefix) || !strings.HasSuffix(s, tempSuffix) {
		return false
	}
	s = strings.TrimSuffix(s, tempSuffix)
	i := strings.LastIndex(s, tempInfix)
	if i <= len(tempPrefix) {
		return false
	}
	rnd := s[i+len(tempInfix):]
	if len(rnd) != tempRandom {
		return false
	}
	for _, c := range rnd {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// revision is the hex SHA-256 over the name, length and body of every present object, in
// the names' order; "" when none exists. Lengths make the encoding unambiguous.
func revision(names target.Names, objs map[string]*target.Object) string {
	h := sha256.New()
	present := false
	var n [8]byte
	for _, name := range names.All() {
		o := objs[name]
		if o == nil {
			continue
		}
		present = true
		binary.BigEndian.PutUint64(n[:], uint64(len(name)))
		h.Write(n[:])
		h.Write([]byte(name))
		binary.BigEndian.PutUint64(n[:], uint64(len(o.Body)))
		h.Write(n[:])
		h.Write(o.Body)
	}
	if !present {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkObjects refuses, before anything is written, objects this target cannot store: names
// outside the set (Read would never see them, so the revision could not cover them) and
// names the directory cannot hold.
func (t *Target) checkObjects(objs []target.Object) error {
	ours := map[string]bool{}
	for _, n := range t.names.All() {
		ours[n] = true
	}
	for _, o := range objs {
		if err := checkName(o.Name); err != nil {
			return fmt.Errorf("file target %s: object %w", t.dir, err)
		}
		if !ours[o.Name] {
			return fmt.Errorf("file target %s: %q is not one of the set's objects here (%s); nothing was written", t.dir, o.Name, strings.Join(t.names.All(), ", "))
		}
	}
	return nil
}

// baseRevision is what the caller read; a nil base means it found nothing.
func baseRevision(base *target.Snapshot) string {
	if base == nil {
		return ""
	}
	return base.Revision
}

// point reports a write point to the OnWrite hook.
func (t *Target) point(p string) {
	if t.onWrite != nil {
		t.onWrite(p)
	}
}

// errCanceled wraps a cancellation with what was being waited for.
func errCanceled(ctx context.Context, what string) error {
	return fmt.Errorf("%s: %w", what, context.Cause(ctx))
}

var errNotSupported = errors.New("file targets need a Unix system (Linux, macOS, a BSD)")
