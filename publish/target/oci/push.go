package oci

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/jwkspub/jwkspub/publish/target"
)

// RepoLocks lets one push at a time reach each repository among the Targets that share it
// (see the package doc for the registry race this avoids). Its zero value is ready to use.
// Only pushes take it: reads touch no link a concurrent push of another tag rewrites.
type RepoLocks struct {
	mu sync.Mutex
	m  map[string]chan struct{} // a one-slot semaphore per repository, so waiting can be cancelled
}

// lock waits until no other push holds repo, or ctx ends.
func (l *RepoLocks) lock(ctx context.Context, repo string) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]chan struct{}{}
	}
	sem, ok := l.m[repo]
	if !ok {
		sem = make(chan struct{}, 1)
		l.m[repo] = sem
	}
	l.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// raceRetryDelay is how long a step that met a concurrent push's half-written link waits
// before its one retry: the registry rewrites a link in well under a millisecond.
const raceRetryDelay = 200 * time.Millisecond

// pushJobs bounds the blobs uploaded at once, as go-containerregistry's remote.Write does.
const pushJobs = 4

// isRegistryRace reports whether a registry's refusal is what distribution (the `registry`
// binary, v2.8 and earlier) answers while another client links the same blob or manifest
// into the same repository: its filesystem driver rewrites a link file in place, and a reader
// between the truncation and the write finds an empty link, which it reports as DIGEST_INVALID
// and, for a manifest, MANIFEST_BLOB_UNKNOWN (the in-place write behind
// distribution/distribution#4478; v3 writes a temporary file and renames it, #4624).
// Retrying after the rewrite finds the link whole.
func isRegistryRace(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.DigestInvalidErrorCode, transport.ManifestBlobUnknownErrorCode, transport.BlobUnknownErrorCode:
			return true
		}
	}
	return false
}

// retryRace runs f, and once more after raceRetryDelay when it failed with a registry race.
func (t *Target) retryRace(ctx context.Context, step string, f func() error) error {
	err := f()
	if !isRegistryRace(err) {
		return err
	}
	t.log.Warn("the registry answered as it does while another client pushes the same blob; retrying once", "target", t.loc.Raw, "step", step, "err", err)
	select {
	case <-time.After(raceRetryDelay):
	case <-ctx.Done():
		return errors.Join(err, ctx.Err())
	}
	return f()
}

// hook calls Options.OnWrite.
func (t *Target) hook(point string) {
	if t.onWrite != nil {
		t.onWrite(point)
	}
}

// tagDigest is the digest the tag names now, "" when it is absent.
func (t *Target) tagDigest(ctx context.Context) (string, error) {
	var d string
	err := t.retryRace(ctx, "reading the tag", func() error {
		desc, err := remote.Head(t.loc.Tag, t.opts(ctx)...)
		if isNotFound(err) {
			d = ""
			return nil
		}
		if err != nil {
			return err
		}
		d = desc.Digest.String()
		return nil
	})
	return d, err
}

// orNothing names an absent tag in messages.
func orNothing(digest string) string {
	if digest == "" {
		return "nothing"
	}
	return digest
}

// checkTag returns an error wrapping target.ErrConflict unless the tag still names rev.
func (t *Target) checkTag(ctx context.Context, rev string) error {
	now, err := t.tagDigest(ctx)
	if err != nil {
		return fmt.Errorf("target %s: reading %s before moving it%s; the tag was left as it was: %w", t.loc.Raw, t.loc.Tag, registryHint(err, t.loc.Tag), err)
	}
	if now != rev {
		return fmt.Errorf("target %s: the tag %s names %s, not %s as when it was read: another publisher pushed to it since; the tag was left as it was (fix: publish again, which plans against the image there now): %w", t.loc.Raw, t.loc.Tag, orNothing(now), orNothing(rev), target.ErrConflict)
	}
	return nil
}

// uploadBlobs pushes the image's layers and config, skipping those the repository holds. A
// fresh Pusher each time, so a retry asks the registry again instead of trusting what an
// earlier attempt recorded.
func (t *Target) uploadBlobs(ctx context.Context, img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	cl, err := partial.ConfigLayer(img)
	if err != nil {
		return err
	}
	p, err := remote.NewPusher(t.opts(ctx)...)
	if err != nil {
		return err
	}
	// The first failure is the one reported, and it stops the other uploads.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, pushJobs)
	var wg sync.WaitGroup
	for _, l := range append(layers, cl) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := p.Upload(ctx, t.loc.Tag.Context(), l); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// push pushes img's blobs, then its manifest to the tag if the tag still names rev, then
// reads the tag back, all while holding the repository's lock. A manifest refused for a
// registry race is retried once after the blobs are pushed again (each skipped if present)
// and the tag checked again.
func (t *Target) push(ctx context.Context, rev string, img v1.Image) error {
	want, err := img.Digest()
	if err != nil {
		return fmt.Errorf("target %s: %w", t.loc.Raw, err)
	}
	unlock, err := t.locks.lock(ctx, t.loc.Tag.Context().Name())
	if err != nil {
		return fmt.Errorf("target %s: waiting for another push to %s; nothing was pushed: %w", t.loc.Raw, t.loc.Tag.Context(), err)
	}
	defer unlock()
	upload := func() error { return t.uploadBlobs(ctx, img) }
	if err := t.retryRace(ctx, "pushing the blobs", upload); err != nil {
		return fmt.Errorf("target %s: pushing the image's blobs to %s%s; the tag was left as it was: %w", t.loc.Raw, t.loc.Tag.Context(), registryHint(err, t.loc.Tag), err)
	}
	t.log.Debug("pushed the image's blobs", "target", t.loc.Raw, "digest", want)
	t.hook("blobs")
	if err := t.checkTag(ctx, rev); err != nil {
		return err
	}
	put := func() error { return remote.Put(t.loc.Tag, img, t.opts(ctx)...) }
	err = put()
	if isRegistryRace(err) {
		t.log.Warn("the registry refused the manifest as it does while another client pushes the same blob; pushing the blobs again and retrying once", "target", t.loc.Raw, "err", err)
		select {
		case <-time.After(raceRetryDelay):
		case <-ctx.Done():
			return fmt.Errorf("target %s: pushing %s; the tag was left as it was: %w", t.loc.Raw, t.loc.Tag, errors.Join(err, ctx.Err()))
		}
		if err := upload(); err != nil {
			return fmt.Errorf("target %s: pushing the image's blobs to %s again%s; the tag was left as it was: %w", t.loc.Raw, t.loc.Tag.Context(), registryHint(err, t.loc.Tag), err)
		}
		if err := t.checkTag(ctx, rev); err != nil {
			return err
		}
		err = put()
	}
	if err != nil {
		return fmt.Errorf("target %s: pushing %s%s; the tag was left as it was: %w", t.loc.Raw, t.loc.Tag, registryHint(err, t.loc.Tag), err)
	}
	t.hook("manifest")
	now, err := t.tagDigest(ctx)
	if err != nil {
		return fmt.Errorf("target %s: reading back %s after pushing %s%s: %w", t.loc.Raw, t.loc.Tag, want, registryHint(err, t.loc.Tag), err)
	}
	if now != want.String() {
		return fmt.Errorf("target %s: pushed %s to %s, but the tag names %s right after: another publisher pushed to it at the same time, and its image stands (fix: publish again; give each tag one publisher): %w", t.loc.Raw, want, t.loc.Tag, orNothing(now), target.ErrConflict)
	}
	t.log.Debug("pushed the image", "target", t.loc.Raw, "tag", t.loc.Tag.String(), "digest", want, "was", orNothing(rev))
	return nil
}

// maxChain bounds how many parents settled follows back from the tag: the publications that
// can land on one tag within a settle window, with room to spare.
const maxChain = 16

// settled waits the settle window, then follows the tag back through the images' parents
// (LabelParent) to find want, the image just pushed on rev. The tag names want, or an image
// built on it: nil. The walk reaches rev, an image with no parent, or maxChain steps without
// meeting want: a rival that planned on rev (or earlier) put its image after our read-back
// and overwrote ours, so ours is not served and its update would be lost silently; that
// wraps target.ErrConflict, and the runner re-plans on what the tag names now. A rival whose
// put lands after the window is not seen: see the package doc.
func (t *Target) settled(ctx context.Context, rev, want string) error {
	if t.loc.Settle <= 0 {
		return nil
	}
	select {
	case <-time.After(t.loc.Settle):
	case <-ctx.Done():
		return fmt.Errorf("target %s: waiting %v to check that no other publisher overwrote %s at %s: %w", t.loc.Raw, t.loc.Settle, want, t.loc.Tag, ctx.Err())
	}
	now, err := t.tagDigest(ctx)
	if err != nil {
		return fmt.Errorf("target %s: reading %s again %v after pushing %s%s: %w", t.loc.Raw, t.loc.Tag, t.loc.Settle, want, registryHint(err, t.loc.Tag), err)
	}
	overwritten := func(why string) error {
		return fmt.Errorf("target %s: pushed %s to %s, but %v later the tag names %s, which %s: another publisher that read the tag when we did overwrote our image, and its image stands (fix: publish again; give each tag one publisher): %w", t.loc.Raw, want, t.loc.Tag, t.loc.Settle, orNothing(now), why, target.ErrConflict)
	}
	d := now
	for range maxChain {
		switch d {
		case want:
			t.log.Debug("the tag still serves the pushed image or one built on it", "target", t.loc.Raw, "digest", want, "tag names", now)
			return nil
		case "":
			return overwritten("is not built on it")
		case rev:
			return overwritten("was built on what we read, not on our image")
		}
		p, err := t.parent(ctx, d)
		if err != nil {
			return fmt.Errorf("target %s: reading %s's parent, to check that %s still builds on %s%s: %w", t.loc.Raw, d, t.loc.Tag, want, registryHint(err, t.loc.Tag), err)
		}
		d = p
	}
	return overwritten(fmt.Sprintf("is not built on it within %d images", maxChain))
}

// parent is the LabelParent of the image whose manifest digest is d, "" when it has none.
func (t *Target) parent(ctx context.Context, d string) (string, error) {
	var p string
	err := t.retryRace(ctx, "reading an image's parent", func() error {
		img, err := remote.Image(t.loc.Tag.Context().Digest(d), t.opts(ctx)...)
		if err != nil {
			return err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return err
		}
		p = cf.Config.Labels[LabelParent]
		return nil
	})
	return p, err
}
