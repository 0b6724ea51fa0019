package publish

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/publish/served"
	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/templates"
)

// Key change actions in a plan.
const (
	ActionAdd    = "add"
	ActionRemove = "remove"
	ActionChange = "change"
	ActionKeep   = "keep"
	ActionWrite  = "write"
	ActionDelete = "delete"
)

// Plan is what publishing one set to one target would do, computed from what is live there.
// Planning writes nothing; Apply carries a plan out.
type Plan struct {
	Set string `json:"set"`
	// Target is the target URL, or the public URL the plan was compared against.
	Target string `json:"target"`
	// First is true when nothing was live: the first publication.
	First bool `json:"first"`
	// Keys lists every kid in the live or the new document, sorted by kid.
	Keys []KeyChange `json:"keys"`
	// Headers lists the JWKS's header changes.
	Headers []served.HeaderChange `json:"headers,omitempty"`
	// Discovery is add, remove or change when the discovery document would change.
	Discovery string `json:"discovery,omitempty"`
	// Objects lists the objects that would be written or deleted, in the order Apply uses.
	Objects []ObjectChange `json:"objects,omitempty"`
	// Rewrite says why the target is rewritten although every object is as planned (an image
	// whose base moved).
	Rewrite string `json:"rewrite,omitempty"`
	// LiveDigest is the content digest of what was live, where the target has one (an image's
	// manifest digest); Digest is the digest after publishing.
	LiveDigest string `json:"live_digest,omitempty"`
	Digest     string `json:"digest,omitempty"`

	// cacheControl is the Cache-Control safeDelay comes from (the new or the live one).
	cacheControl string

	dest      Destination
	opts      PlanOptions
	base      *target.Snapshot
	writes    []target.Object
	live      []jwks.LiveKey
	next      []jwks.LiveKey
	oldState  *rotation.State
	nextState *rotation.State
	safeDelay time.Duration
	rotation  rotation.Rules
	now       time.Time
	keys      *jwks.Set          // the set published: PlanOptions.Keys plus live keys of unavailable sources
	gone      map[string]goneKey // live keys a Historian source says are gone, by kid
}

// Destination is one target of a set: how it is reached and what verifiers see.
type Destination struct {
	// URL is the target URL as configured, used in every message about the target.
	URL    string
	Target target.Target
	// PublicURL is where verifiers fetch the JWKS; it becomes the discovery document's
	// jwks_uri. Empty means the issuer's /.well-known/jwks.json.
	PublicURL string
}

// KeyChange is one kid's fate.
type KeyChange struct {
	KID    string `json:"kid"`
	Action string `json:"action"`
	Alg    string `json:"alg,omitempty"`
	// OldAlg is the live alg when it changes.
	OldAlg string `json:"old_alg,omitempty"`
	// Source is where the new key comes from.
	Source string `json:"source,omitempty"`
	// Changes names what differs for a changed kid: material, alg, use, x5c.
	Changes []string `json:"changes,omitempty"`
}

// ObjectChange is one object write or delete.
type ObjectChange struct {
	Key    string `json:"key"`
	Action string `json:"action"`
}

// Changed reports whether applying the plan would write or delete anything.
func (p *Plan) Changed() bool { return len(p.Objects) > 0 }

// PlanOptions configure PlanTarget.
type PlanOptions struct {
	Set *config.SetConfig
	// Keys is the assembled set (from Build).
	Keys *jwks.Set
	// Now is the clock of the publication: state times and guard decisions use it.
	Now time.Time
	// Version is the jwkspub version recorded in each object's metadata.
	Version string
	// AllowRemoval lists the kids the operator lets go (--allow-removal): an earlier key of a
	// source read by id (an aws-kms: alias's) is then not kept, and the guard lets it go.
	AllowRemoval []string
}

// Object is one stored object (see target.Object).
type Object = target.Object

// desiredObjects encodes everything that should be stored beside the set, except the state,
// by name: the JWKS, its .gz sibling when output.gzip is on where the target has one (a
// directory for nginx's gzip_static; without output.gzip a stale one is deleted), and the
// discovery document
// when the set has an issuer.
func desiredObjects(o PlanOptions, names target.Names, raw, publicURL string) (map[string]*Object, error) {
	doc, err := jwks.Encode(o.Keys, o.Set.Output.Pretty)
	if err != nil {
		return nil, fmt.Errorf("set %q: %w", o.Set.Name, err)
	}
	cc, ct := o.Set.Output.CacheControl, o.Set.Output.ContentType
	if cc == "" {
		cc = config.DefaultCacheControl
	}
	if ct == "" {
		ct = config.DefaultContentType
	}
	meta := map[string]string{target.MetaVersion: o.Version}
	out := map[string]*Object{names.JWKS: {Name: names.JWKS, Body: doc, CacheControl: cc, ContentType: ct, Metadata: meta}}
	if names.Gzip != "" {
		out[names.Gzip] = &Object{Name: names.Gzip, Body: templates.Gzip(doc), CacheControl: cc, ContentType: ct, ContentEncoding: "gzip", Metadata: meta}
	}
	if o.Set.Issuer != "" && raw != "" {
		if !names.WellKnown {
			return nil, fmt.Errorf("set %q: target %s: the set has an issuer, so its discovery document must be served from %s/.well-known/openid-configuration, beside the JWKS; put the JWKS under a .well-known directory (e.g. .../.well-known/jwks.json), or remove issuer", o.Set.Name, raw, strings.TrimSuffix(o.Set.Issuer, "/"))
		}
		uri := publicURL
		if uri == "" {
			uri = served.DefaultJWKSURI(o.Set.Issuer)
		}
		disc, err := served.EncodeDiscovery(o.Set.Issuer, uri, o.Keys)
		if err != nil {
			return nil, fmt.Errorf("set %q: target %s: %w", o.Set.Name, raw, err)
		}
		out[names.Discovery] = &Object{Name: names.Discovery, Body: disc, CacheControl: cc, ContentType: "application/json", Metadata: meta}
	}
	return out, nil
}

// ReadLive reads what is live at d and parses the JWKS and the state object; either may be
// absent. A live document or state object it cannot parse is an error: the guard must not
// reason from a document it does not understand.
func ReadLive(ctx context.Context, d Destination, set string) (*target.Snapshot, []jwks.LiveKey, *rotation.State, error) {
	snap, err := d.Target.Read(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("set %q: %w", set, err)
	}
	var live []jwks.LiveKey
	if doc := snap.Object(snap.Names.JWKS); doc != nil {
		if live, err = jwks.ParseLive(doc.Body); err != nil {
			return nil, nil, nil, fmt.Errorf("set %q: target %s: %s: %w (fix: restore a valid JWK Set there, or delete it to publish afresh)", set, d.URL, snap.Names.JWKS, err)
		}
	}
	var old *rotation.State
	if so := snap.Object(snap.Names.State); so != nil {
		if old, err = rotation.ParseState(so.Body); err != nil {
			return nil, nil, nil, fmt.Errorf("set %q: target %s: %s: %w (fix: restore it from a backup; deleting it makes every live key's removal need --allow-removal)", set, d.URL, snap.Names.State, err)
		}
	}
	return snap, live, old, nil
}

// PlanTarget reads what is live at d (the JWKS, its .gz sibling, discovery document and state
// object; any may be absent) and returns the plan of publishing o.Keys there. It writes
// nothing.
func PlanTarget(ctx context.Context, d Destination, o PlanOptions) (*Plan, error) {
	snap, live, old, err := ReadLive(ctx, d, o.Set.Name)
	if err != nil {
		return nil, err
	}
	names := snap.Names
	liveDoc := snap.Object(names.JWKS)
	if len(o.Keys.Unavailable) > 0 {
		if o.Keys, err = keepUnavailable(o, d.URL, liveDoc, old); err != nil {
			return nil, err
		}
	}
	var gone map[string]goneKey
	if len(o.Keys.History) > 0 {
		if o.Keys, gone, err = keepHistory(ctx, o, d.URL, liveDoc, old, planSafeDelay(o, snap, liveDoc)); err != nil {
			return nil, err
		}
	}
	desired, err := desiredObjects(o, names, d.URL, d.PublicURL)
	if err != nil {
		return nil, err
	}
	next := rotation.NextState(old, live, o.Keys, o.Now)
	stateBody, err := next.Encode()
	if err != nil {
		return nil, err
	}
	desired[names.State] = &Object{Name: names.State, Body: stateBody, CacheControl: "no-cache", ContentType: "application/json", Metadata: map[string]string{target.MetaVersion: o.Version}}

	if !snap.Attributes && liveDoc != nil {
		// A directory keeps no headers: compare the document with what it will be served with.
		ld := *liveDoc
		ld.CacheControl, ld.ContentType = desired[names.JWKS].CacheControl, desired[names.JWKS].ContentType
		liveDoc = &ld
	}
	p := newPlan(o, d.URL, liveDoc, live, desired[names.JWKS])
	p.dest, p.base, p.oldState, p.nextState, p.keys, p.opts, p.gone = d, snap, old, next, o.Keys, o, gone
	p.LiveDigest, p.Digest, p.Rewrite = snap.Digest, snap.Digest, snap.Outdated
	if dd, l := desired[names.Discovery], snap.Object(names.Discovery); !dd.Same(l, snap.Attributes) {
		switch {
		case l == nil:
			p.Discovery = ActionAdd
		case dd == nil:
			p.Discovery = ActionRemove
		default:
			p.Discovery = ActionChange
		}
	}
	// The JWKS first and the state last: what verifiers need never lags what the state says.
	for _, name := range names.All() {
		want, l := desired[name], snap.Object(name)
		switch {
		case want == nil && l != nil:
			p.Objects = append(p.Objects, ObjectChange{Key: name, Action: ActionDelete})
			p.writes = append(p.writes, Object{Name: name, Delete: true})
		case want != nil && (!want.Same(l, snap.Attributes) || snap.Outdated != "" && name == names.JWKS):
			p.Objects = append(p.Objects, ObjectChange{Key: name, Action: ActionWrite})
			p.writes = append(p.writes, *want)
		}
	}
	return p, nil
}

// planSafeDelay is the safe delay newPlan will compute, known before the set is final: the
// longer of the new document's Cache-Control and the live one's (a directory keeps no headers,
// so only the new one counts there).
func planSafeDelay(o PlanOptions, snap *target.Snapshot, liveDoc *Object) time.Duration {
	cc := o.Set.Output.CacheControl
	if cc == "" {
		cc = config.DefaultCacheControl
	}
	d := rotation.SafeDelay(o.Set.Rotation, cc)
	if liveDoc != nil && snap.Attributes {
		d = max(d, rotation.SafeDelay(o.Set.Rotation, liveDoc.CacheControl))
	}
	return d
}

// keepUnavailable adds to the set the keys live at target whose state records them as coming
// from a source that is unavailable this run (an optional source that is down): an outage of
// that source must not retire its keys while tokens they signed are still in use. Keys the
// state does not attribute to that source, or that are retired, are not kept.
func keepUnavailable(o PlanOptions, target string, liveDoc *Object, old *rotation.State) (*jwks.Set, error) {
	if liveDoc == nil || old == nil {
		return o.Keys, nil
	}
	liveSet, err := jwks.Verify(liveDoc.Body, sources.Origin{Source: target}, jwks.VerifyOptions{Policy: o.Set.Policy})
	if err != nil {
		return nil, fmt.Errorf("set %q: target %s: cannot keep the live keys of unavailable source(s) %s: %w", o.Set.Name, target, strings.Join(o.Keys.Unavailable, ", "), err)
	}
	out := *o.Keys
	out.Keys = slices.Clone(o.Keys.Keys)
	kids, thumbs := map[string]bool{}, map[string]bool{}
	for _, k := range out.Keys {
		kids[k.KID], thumbs[k.Thumbprint] = true, true
	}
	for _, k := range liveSet.Keys {
		sk := old.Key(k.KID)
		if sk == nil || !sk.Live() || !slices.Contains(o.Keys.Unavailable, sk.Source) || kids[k.KID] || thumbs[k.Thumbprint] {
			continue
		}
		k.Spec, k.Order = sk.Source, sk.Version // the source is down: its order as last recorded
		k.Origin = sources.Origin{Source: sk.Source, Location: "kept as live at " + target}
		out.Keys = append(out.Keys, k)
		kids[k.KID] = true
	}
	slices.SortFunc(out.Keys, func(a, b jwks.JWK) int { return strings.Compare(a.KID, b.KID) })
	return &out, nil
}

// newPlan compares the live document (nil when absent) with the new one.
func newPlan(o PlanOptions, target string, liveDoc *Object, live []jwks.LiveKey, doc *Object) *Plan {
	p := &Plan{Set: o.Set.Name, Target: target, First: liveDoc == nil, Keys: []KeyChange{}, now: o.Now, rotation: o.Set.Rotation}
	p.live, p.next = live, jwks.LiveKeys(o.Keys)
	src := map[string]string{}
	for _, k := range o.Keys.Keys {
		src[k.KID] = k.SourceSpec()
	}
	liveBy := map[string]jwks.LiveKey{}
	for _, k := range live {
		liveBy[k.KID] = k
	}
	nextBy := map[string]jwks.LiveKey{}
	for _, k := range p.next {
		nextBy[k.KID] = k
		l, ok := liveBy[k.KID]
		kc := KeyChange{KID: k.KID, Alg: k.Alg, Source: src[k.KID], Action: ActionKeep}
		switch {
		case !ok:
			kc.Action = ActionAdd
		default:
			if l.Thumbprint != k.Thumbprint {
				kc.Changes = append(kc.Changes, "material")
			}
			if l.Alg != k.Alg {
				kc.Changes = append(kc.Changes, "alg")
				kc.OldAlg = l.Alg
			}
			if l.Use != k.Use {
				kc.Changes = append(kc.Changes, "use")
			}
			if l.X5T != k.X5T {
				kc.Changes = append(kc.Changes, "x5c")
			}
			if len(kc.Changes) > 0 {
				kc.Action = ActionChange
			}
		}
		p.Keys = append(p.Keys, kc)
	}
	for _, l := range live {
		if _, ok := nextBy[l.KID]; !ok {
			p.Keys = append(p.Keys, KeyChange{KID: l.KID, Alg: l.Alg, Action: ActionRemove})
		}
	}
	slices.SortFunc(p.Keys, func(a, b KeyChange) int { return strings.Compare(a.KID, b.KID) })
	if liveDoc != nil {
		if liveDoc.CacheControl != doc.CacheControl {
			p.Headers = append(p.Headers, served.HeaderChange{Name: "Cache-Control", Old: liveDoc.CacheControl, New: doc.CacheControl})
		}
		if liveDoc.ContentType != doc.ContentType {
			p.Headers = append(p.Headers, served.HeaderChange{Name: "Content-Type", Old: liveDoc.ContentType, New: doc.ContentType})
		}
	}
	p.safeDelay, p.cacheControl = rotation.SafeDelay(o.Set.Rotation, doc.CacheControl), doc.CacheControl
	if liveDoc != nil {
		if d := rotation.SafeDelay(o.Set.Rotation, liveDoc.CacheControl); d > p.safeDelay {
			p.safeDelay, p.cacheControl = d, liveDoc.CacheControl
		}
	}
	return p
}

// Count returns how many kids the plan adds, removes and changes.
func (p *Plan) Count() (added, removed, changed int) {
	for _, k := range p.Keys {
		switch k.Action {
		case ActionAdd:
			added++
		case ActionRemove:
			removed++
		case ActionChange:
			changed++
		}
	}
	return
}

// Apply carries out a plan that passed the guard: every object is written in one Write,
// conditional on the revision the plan was read at (the JWKS first, its .gz sibling and the
// discovery document next, the state object last), and then read back. A lost race wraps
// target.ErrConflict, and so does a read-back that finds other bytes than written (another
// publisher wrote after us; the re-plan sees whether our keys survived). A plan compared against a public URL cannot be applied.
func Apply(ctx context.Context, p *Plan) error {
	if p.dest.Target == nil {
		return fmt.Errorf("plan for %s was not made against a target", p.Target)
	}
	if err := p.dest.Target.Write(ctx, p.base, p.writes); err != nil {
		return err
	}
	after, err := p.dest.Target.Read(ctx)
	if err != nil {
		return fmt.Errorf("reading back: %w", err)
	}
	for i := range p.writes {
		w := &p.writes[i]
		got := after.Object(w.Name)
		// Other bytes, or none, right after a write the target accepted: another publisher
		// wrote after us, so this is a lost race (re-planned), not a broken target.
		switch {
		case w.Delete && got != nil:
			return fmt.Errorf("target %s: read back %s: it is there again after the delete: %w", p.Target, w.Name, target.ErrConflict)
		case w.Delete:
		case got == nil:
			return fmt.Errorf("target %s: read back %s: it is missing after the write: %w", p.Target, w.Name, target.ErrConflict)
		case !bytes.Equal(got.Body, w.Body):
			return fmt.Errorf("target %s: read back %s: body sha256 %s, wrote %s: %w", p.Target, w.Name, got.SHA256(), w.SHA256(), target.ErrConflict)
		case !w.Same(got, after.Attributes):
			return fmt.Errorf("target %s: read back %s: headers are Cache-Control %q, Content-Type %q, sha256 metadata %q; wrote %q, %q, %q",
				p.Target, w.Name, got.CacheControl, got.ContentType, got.Metadata[target.MetaSHA256], w.CacheControl, w.ContentType, w.SHA256())
		}
	}
	p.Digest = after.Digest
	return nil
}
