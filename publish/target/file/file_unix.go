//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jwkspub/jwkspub/publish/target"
)

// supported: these systems have flock and the *at calls the guarantees rest on.
const supported = true

// Read returns the set's objects in the directory under a shared lock, so it never sees half
// of a publication. A missing directory is an empty snapshot: nothing is live yet.
func (t *Target) Read(ctx context.Context) (*target.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, errCanceled(ctx, "file target "+t.dir+": reading")
	}
	fd, err := t.openDir()
	if errors.Is(err, fs.ErrNotExist) {
		return &target.Snapshot{Names: t.names, Objects: map[string]*target.Object{}}, nil
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd) // also releases the lock
	if err := t.lock(ctx, fd, unix.LOCK_SH); err != nil {
		return nil, err
	}
	return t.readLocked(ctx, fd)
}

// Write stores objs in order if the directory still holds base's revision (a nil base: if
// nothing is there), else wraps target.ErrConflict having written nothing. Objects must be
// the set's (Names): another name would be invisible to Read and its revision. See the
// package documentation for how.
func (t *Target) Write(ctx context.Context, base *target.Snapshot, objs []target.Object) (err error) {
	if err := t.checkObjects(objs); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return errCanceled(ctx, "file target "+t.dir+": writing")
	}
	fd, err := t.openDir()
	if errors.Is(err, fs.ErrNotExist) {
		if len(objs) == 0 {
			return t.compare("", base)
		}
		if !t.createDir {
			return fmt.Errorf("file target %s: the directory does not exist (fix: create it, owned by the user jwkspub runs as and readable by the web server, e.g. mkdir -p %s)", t.dir, t.dir)
		}
		if err := t.makeDir(); err != nil {
			return err
		}
		fd, err = t.openDir()
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd) // also releases the lock
	if err := t.lock(ctx, fd, unix.LOCK_EX); err != nil {
		return err
	}
	cur, err := t.readLocked(ctx, fd)
	if err != nil {
		return err
	}
	if err := t.compare(cur.Revision, base); err != nil {
		return err
	}
	t.removeStale(fd)
	if len(objs) == 0 {
		return nil
	}

	// Every temporary file first: what can fail for want of space, permission or a name the
	// file system refuses fails here, before anything served has changed.
	temps := make([]string, len(objs))
	defer func() {
		if err == nil {
			return
		}
		for _, tmp := range temps {
			if tmp != "" {
				_ = unlinkat(fd, tmp)
			}
		}
	}()
	for i := range objs {
		if objs[i].Delete {
			continue
		}
		if err := ctx.Err(); err != nil {
			return errCanceled(ctx, "file target "+t.dir+": writing (nothing was replaced)")
		}
		tmp, err := t.writeTemp(fd, &objs[i])
		if err != nil {
			return err
		}
		temps[i] = tmp
		t.point("temp " + objs[i].Name)
	}

	// Then the renames, in the caller's order and each made durable before the next: a
	// cancellation no longer stops it, since stopping here would leave a mixed set on purpose.
	for i := range objs {
		o := &objs[i]
		p := path.Join(t.dir, o.Name)
		if o.Delete {
			if err := unlinkat(fd, o.Name); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("file target %s: deleting %s: %w%s", t.dir, p, err, hint(err))
			}
			t.point("delete " + o.Name)
		} else {
			if err := renameat(fd, temps[i], o.Name); err != nil {
				return fmt.Errorf("file target %s: writing %s: renaming %s over it: %w%s", t.dir, p, temps[i], err, hint(err))
			}
			temps[i] = ""
			t.point("rename " + o.Name)
		}
		if err := fsync(fd); err != nil {
			return fmt.Errorf("file target %s: syncing the directory after %s: %w%s", t.dir, p, err, hint(err))
		}
		t.point("dirsync")
	}
	t.removeStaleGzip(fd, objs)
	return nil
}

// removeStaleGzip deletes the .gz sibling of a JWKS just replaced when this target serves
// none (output.gzip turned off): nginx's gzip_static would otherwise go on serving the old
// document to every client that accepts gzip.
func (t *Target) removeStaleGzip(fd int, objs []target.Object) {
	if t.names.Gzip != "" || !slices.ContainsFunc(objs, func(o target.Object) bool { return o.Name == t.names.JWKS && !o.Delete }) {
		return
	}
	gz := t.names.JWKS + target.GzipSuffix
	var st unix.Stat_t
	if err := unix.Fstatat(fd, gz, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return
	}
	if err := unlinkat(fd, gz); err != nil {
		t.log.Warn("could not delete the stale .gz sibling; nginx may serve the old document compressed", "file", path.Join(t.dir, gz), "err", err)
		return
	}
	_ = fsync(fd)
	t.point("delete " + gz)
}

// compare is the precondition: the directory must still hold what the caller read.
func (t *Target) compare(cur string, base *target.Snapshot) error {
	if cur != baseRevision(base) {
		return fmt.Errorf("file target %s: %w", t.dir, target.ErrConflict)
	}
	return nil
}

// openDir opens the directory, following a link in its path (the operator chose it). A
// missing directory wraps fs.ErrNotExist.
func (t *Target) openDir() (int, error) {
	var fd int
	err := retry(func() (err error) {
		fd, err = unix.Open(t.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		return err
	})
	switch {
	case err == nil:
		return fd, nil
	case errors.Is(err, unix.ENOENT):
		return -1, fmt.Errorf("file target %s: %w", t.dir, fs.ErrNotExist)
	case errors.Is(err, unix.ENOTDIR):
		return -1, fmt.Errorf("file target %s: opening the directory: %w (fix: the path or one of its parents is a file; point the target at a directory)", t.dir, err)
	}
	return -1, fmt.Errorf("file target %s: opening the directory: %w%s", t.dir, err, hint(err))
}

// makeDir creates the directory and its missing parents with mode 0755 whatever the umask,
// each made durable in its parent.
func (t *Target) makeDir() error {
	var missing []string
	for d := t.dir; ; d = path.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("file target %s: creating the directory: %w%s", t.dir, err, hint(err))
		}
		missing = append(missing, d)
		if d == "/" {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := unix.Mkdir(d, 0o755); err != nil {
			if errors.Is(err, unix.EEXIST) {
				continue // another publisher made it
			}
			return fmt.Errorf("file target %s: creating the directory %s: %w%s", t.dir, d, err, hint(err))
		}
		if err := unix.Chmod(d, 0o755); err != nil {
			return fmt.Errorf("file target %s: setting the mode of %s: %w%s", t.dir, d, err, hint(err))
		}
		if err := syncPath(path.Dir(d)); err != nil {
			return fmt.Errorf("file target %s: syncing %s after creating %s: %w%s", t.dir, path.Dir(d), d, err, hint(err))
		}
	}
	t.point("mkdir")
	return nil
}

// lock takes the directory's flock (LOCK_SH or LOCK_EX), polling without blocking so that a
// cancelled context ends the wait for another publisher.
func (t *Target) lock(ctx context.Context, fd, how int) error {
	wait := time.Millisecond
	for {
		err := retry(func() error { return unix.Flock(fd, how|unix.LOCK_NB) })
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("file target %s: locking the directory: %w (fix: flock must work on this file system; on NFS, publish from one host to a local directory instead)", t.dir, err)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return errCanceled(ctx, "file target "+t.dir+": waiting for another publisher's lock on the directory")
		case <-timer.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// readLocked reads the set's objects; the caller holds a lock on fd.
func (t *Target) readLocked(ctx context.Context, fd int) (*target.Snapshot, error) {
	objs := map[string]*target.Object{}
	for _, name := range t.names.All() {
		if err := ctx.Err(); err != nil {
			return nil, errCanceled(ctx, "file target "+t.dir+": reading")
		}
		body, err := t.readObject(fd, name)
		if err != nil {
			return nil, err
		}
		if body != nil {
			objs[name] = &target.Object{Name: name, Body: body}
		}
	}
	return &target.Snapshot{Names: t.names, Objects: objs, Revision: revision(t.names, objs)}, nil
}

// readObject returns the body of name, or nil when it does not exist. It opens without
// following a link and without blocking (a FIFO opens at once), and reads only a regular file.
func (t *Target) readObject(fd int, name string) ([]byte, error) {
	p := path.Join(t.dir, name)
	var ofd int
	err := retry(func() (err error) {
		ofd, err = unix.Openat(fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		return err
	})
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		// O_NOFOLLOW on a link fails with ELOOP (EMLINK, EFTYPE on some BSDs): say what it is.
		var st unix.Stat_t
		if serr := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); serr == nil && uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG {
			return nil, notRegular(t.dir, p, uint32(st.Mode))
		}
		return nil, fmt.Errorf("file target %s: reading %s: %w%s", t.dir, p, err, hint(err))
	}
	f := os.NewFile(uintptr(ofd), p)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(ofd, &st); err != nil {
		return nil, fmt.Errorf("file target %s: reading %s: %w", t.dir, p, err)
	}
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG {
		return nil, notRegular(t.dir, p, uint32(st.Mode))
	}
	if st.Size > target.MaxObjectSize {
		return nil, fmt.Errorf("file target %s: %s is %d bytes, more than a JWKS can be (%d) (fix: it is not jwkspub's; move it away)", t.dir, p, st.Size, target.MaxObjectSize)
	}
	body, err := io.ReadAll(io.LimitReader(f, target.MaxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("file target %s: reading %s: %w%s", t.dir, p, err, hint(err))
	}
	if len(body) > target.MaxObjectSize {
		return nil, fmt.Errorf("file target %s: %s is more than %d bytes, more than a JWKS can be (fix: it is not jwkspub's; move it away)", t.dir, p, target.MaxObjectSize)
	}
	return body, nil
}

// notRegular is the error for an object that is not a regular file.
func notRegular(dir, p string, mode uint32) error {
	if mode&unix.S_IFMT == unix.S_IFLNK {
		return fmt.Errorf("file target %s: %s is a symbolic link, not a regular file (fix: replace it with the file itself; links inside a target's directory are not followed, so none can redirect a write elsewhere; to publish elsewhere, change the target's path)", dir, p)
	}
	return fmt.Errorf("file target %s: %s is %s, not a regular file (fix: remove it; a file target holds only the regular files jwkspub writes)", dir, p, kind(mode))
}

// kind names a file type, for messages.
func kind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "a named pipe (FIFO)"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return "not a regular file"
}

// writeTemp writes o's body to a new temporary file beside its name, with the target's mode,
// and syncs it. On error nothing of it is left.
func (t *Target) writeTemp(fd int, o *target.Object) (string, error) {
	p := path.Join(t.dir, o.Name)
	var r [tempRandom / 2]byte
	_, _ = rand.Read(r[:]) // never fails (crypto/rand)
	tmp := tempName(o.Name, hex.EncodeToString(r[:]))
	var tfd int
	err := retry(func() (err error) {
		tfd, err = unix.Openat(fd, tmp, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(t.mode))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("file target %s: writing %s: creating %s: %w%s", t.dir, p, tmp, err, hint(err))
	}
	fail := func(step string, err error) (string, error) {
		_ = unix.Close(tfd)
		_ = unlinkat(fd, tmp)
		return "", fmt.Errorf("file target %s: writing %s: %s %s: %w%s", t.dir, p, step, tmp, err, hint(err))
	}
	// The umask narrowed the mode given to open; fchmod sets it exactly.
	if err := retry(func() error { return unix.Fchmod(tfd, uint32(t.mode)) }); err != nil {
		return fail("setting the mode of", err)
	}
	for b := o.Body; len(b) > 0; {
		n, err := unix.Write(tfd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fail("writing", err)
		}
		b = b[n:]
	}
	if err := fsync(tfd); err != nil {
		return fail("syncing", err)
	}
	if err := unix.Close(tfd); err != nil {
		_ = unlinkat(fd, tmp)
		return "", fmt.Errorf("file target %s: writing %s: closing %s: %w%s", t.dir, p, tmp, err, hint(err))
	}
	return tmp, nil
}

// removeStale removes the temporary files of dead runs. Under the exclusive lock every one is
// a dead run's: a live writer holds the lock. A failure is logged, not returned: leftovers
// are untidy, not wrong.
func (t *Target) removeStale(fd int) {
	var lfd int
	err := retry(func() (err error) {
		lfd, err = unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		t.log.Warn("cannot list the directory for temporary files of dead runs", "dir", t.dir, "err", err)
		return
	}
	d := os.NewFile(uintptr(lfd), t.dir)
	defer d.Close()
	entries, err := d.Readdirnames(-1)
	if err != nil {
		t.log.Warn("cannot list the directory for temporary files of dead runs", "dir", t.dir, "err", err)
	}
	for _, n := range entries {
		if !isTempName(n) {
			continue
		}
		p := path.Join(t.dir, n)
		if err := unlinkat(fd, n); err != nil && !errors.Is(err, unix.ENOENT) {
			t.log.Warn("cannot remove a temporary file a dead run left", "file", p, "err", err)
			continue
		}
		t.log.Info("removed a temporary file a dead run left", "file", p)
	}
}

// hint says how to fix the common causes of a failed file operation.
func hint(err error) string {
	switch {
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return " (fix: free space or quota on the file system holding the directory)"
	case errors.Is(err, unix.EROFS):
		return " (fix: the file system is mounted read-only; publish to a writable directory)"
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return " (fix: let the user jwkspub runs as write to the directory, e.g. make it the directory's owner)"
	case errors.Is(err, unix.ENAMETOOLONG):
		return " (fix: this file system holds shorter names; choose a shorter document name)"
	case errors.Is(err, unix.EISDIR):
		return " (fix: a directory is in the way; remove it)"
	}
	return ""
}

// retry runs a system call again when a signal interrupted it.
func retry(f func() error) error {
	for {
		if err := f(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func unlinkat(fd int, name string) error {
	return retry(func() error { return unix.Unlinkat(fd, name, 0) })
}

func renameat(fd int, from, to string) error {
	return retry(func() error { return unix.Renameat(fd, from, fd, to) })
}

func fsync(fd int) error { return retry(func() error { return unix.Fsync(fd) }) }

// syncPath makes a directory's entries durable.
func syncPath(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fsync(fd)
}
