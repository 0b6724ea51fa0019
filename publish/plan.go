package publish

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/sources"
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
	Headers []HeaderChange `json:"headers,omitempty"`
	// Discovery is add, remove or change when the discovery document would change.
	Discovery string `json:"discovery,omitempty"`
	// Objects lists the objects that would be written or deleted, in the order Apply uses.
	Objects []ObjectChange `json:"objects,omitempty"`
	// Image is the image built for an oci:// target, with the digest the tag names now.
	Image *ImageChange `json:"image,omitempty"`

	target  *Target
	opts    PlanOptions
	desired map[string]*Object
	// revs holds the revision each managed object was read at; writes are conditional on it.
	revs      map[string]revision
	live      []LiveKey
	next      []LiveKey
	oldState  *State
	nextState *State
	safeDelay time.Duration
	rotation  Rotation
	now       time.Time
	keys      *Set // the set published: PlanOptions.Keys plus live keys of unavailable sources
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

// HeaderChange is a changed header of the JWKS.
type HeaderChange struct {
	Name string `json:"name"`
	Old  string `json:"old"`
	New  string `json:"new"`
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
	Set *SetConfig
	// Keys is the assembled set (from Build).
	Keys *Set
	// Now is the clock of the publication: state times and guard decisions use it.
	Now time.Time
	// Version is the jwkspub version recorded in each object's metadata.
	Version string
}

// desiredObjects encodes everything that should be stored beside the set, except the state.
func desiredObjects(o PlanOptions, loc Location, publicURL string) (map[string]*Object, error) {
	doc, err := Encode(o.Keys, o.Set.Output.Pretty)
	if err != nil {
		return nil, fmt.Errorf("set %q: %w", o.Set.Name, err)
	}
	cc, ct := o.Set.Output.CacheControl, o.Set.Output.ContentType
	if cc == "" {
		cc = DefaultCacheControl
	}
	if ct == "" {
		ct = DefaultContentType
	}
	meta := map[string]string{MetaVersion: o.Version}
	out := map[string]*Object{loc.Key: {Body: doc, CacheControl: cc, ContentType: ct, Metadata: meta}}
	if o.Set.Output.Gzip && loc.Scheme == "file" {
		gz := gzipBytes(doc)
		out[loc.GzipKey()] = &Object{Body: gz, CacheControl: cc, ContentType: ct, ContentEncoding: "gzip", Metadata: meta}
	}
	if o.Set.Issuer != "" && loc.Scheme != "" {
		if !loc.inWellKnown() {
			return nil, fmt.Errorf("set %q: target %s: the set has an issuer, so its discovery document must be served from %s/.well-known/openid-configuration, beside the JWKS; put the JWKS under a .well-known directory (e.g. .../.well-known/jwks.json), or remove issuer", o.Set.Name, loc.Raw, strings.TrimSuffix(o.Set.Issuer, "/"))
		}
		uri := publicURL
		if uri == "" {
			uri = DefaultJWKSURI(o.Set.Issuer)
		}
		disc, err := EncodeDiscovery(o.Set.Issuer, uri, o.Keys)
		if err != nil {
			return nil, fmt.Errorf("set %q: target %s: %w", o.Set.Name, loc.Raw, err)
		}
		out[loc.DiscoveryKey()] = &Object{Body: disc, CacheControl: cc, ContentType: "application/json", Metadata: meta}
	}
	return out, nil
}

// PlanTarget reads what is live at t (the JWKS, its .gz sibling, discovery document and state
// object; any may be absent) and returns the plan of publishing o.Keys there. It writes
// nothing. A live document or state object it cannot parse is an error: the guard must not
// reason from a document it does not understand.
func PlanTarget(ctx context.Context, t *Target, o PlanOptions) (*Plan, error) {
	var err error
	managed := []string{t.Key}
	if t.Scheme == "file" {
		managed = append(managed, t.GzipKey())
	}
	managed = append(managed, t.DiscoveryKey(), t.StateKey())
	liveObj := map[string]*Object{}
	for _, key := range managed {
		if liveObj[key], err = t.read(ctx, key); err != nil {
			return nil, fmt.Errorf("set %q: %w", o.Set.Name, err)
		}
	}
	var live []LiveKey
	if doc := liveObj[t.Key]; doc != nil {
		if live, err = ParseLive(doc.Body); err != nil {
			return nil, fmt.Errorf("set %q: target %s: %w (fix: restore a valid JWK Set there, or delete it to publish afresh)", o.Set.Name, t.Raw, err)
		}
	}
	var old *State
	if so := liveObj[t.StateKey()]; so != nil {
		if old, err = ParseState(so.Body); err != nil {
			return nil, fmt.Errorf("set %q: target %s: %s: %w (fix: restore it from a backup; deleting it makes every live key's removal need --allow-removal)", o.Set.Name, t.Raw, t.StateKey(), err)
		}
	}
	if len(o.Keys.Unavailable) > 0 {
		if o.Keys, err = keepUnavailable(o, t.Raw, liveObj[t.Key], old); err != nil {
			return nil, err
		}
	}
	desired, err := desiredObjects(o, t.Location, t.PublicURL)
	if err != nil {
		return nil, err
	}
	next := NextState(old, live, o.Keys, o.Now)
	stateBody, err := next.Encode()
	if err != nil {
		return nil, err
	}
	desired[t.StateKey()] = &Object{Body: stateBody, CacheControl: "no-cache", ContentType: "application/json", Metadata: map[string]string{MetaVersion: o.Version}}

	p := newPlan(o, t.Raw, liveObj[t.Key], live, desired[t.Key])
	p.target, p.desired, p.oldState, p.nextState, p.keys = t, desired, old, next, o.Keys
	p.opts, p.revs = o, make(map[string]revision, len(liveObj))
	for key, l := range liveObj {
		p.revs[key] = revisionOf(l)
	}
	if d, l := desired[t.DiscoveryKey()], liveObj[t.DiscoveryKey()]; !d.sameStored(l) {
		switch {
		case l == nil:
			p.Discovery = ActionAdd
		case d == nil:
			p.Discovery = ActionRemove
		default:
			p.Discovery = ActionChange
		}
	}
	for _, key := range managed {
		d, l := desired[key], liveObj[key]
		switch {
		case d == nil && l != nil:
			p.Objects = append(p.Objects, ObjectChange{Key: key, Action: ActionDelete})
		case d != nil && !d.sameStored(l):
			p.Objects = append(p.Objects, ObjectChange{Key: key, Action: ActionWrite})
		}
	}
	// When the document stays but only the state would change (a state written for the first
	// time beside an existing document), that is still a write, and the plan says so.
	return p, nil
}

// keepUnavailable adds to the set the keys live at target whose state records them as coming
// from a source that is unavailable this run (an optional source that is down): an outage of
// that source must not retire its keys while tokens they signed are still in use. Keys the
// state does not attribute to that source, or that are retired, are not kept.
func keepUnavailable(o PlanOptions, target string, liveDoc *Object, old *State) (*Set, error) {
	if liveDoc == nil || old == nil {
		return o.Keys, nil
	}
	liveSet, err := Verify(liveDoc.Body, sources.Origin{Source: target}, VerifyOptions{Policy: o.Set.Policy})
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
		k.Spec = sk.Source
		k.Origin = sources.Origin{Source: sk.Source, Location: "kept as live at " + target}
		out.Keys = append(out.Keys, k)
		kids[k.KID] = true
	}
	slices.SortFunc(out.Keys, func(a, b JWK) int { return strings.Compare(a.KID, b.KID) })
	return &out, nil
}

// newPlan compares the live document (nil when absent) with the new one.
func newPlan(o PlanOptions, target string, liveDoc *Object, live []LiveKey, doc *Object) *Plan {
	p := &Plan{Set: o.Set.Name, Target: target, First: liveDoc == nil, Keys: []KeyChange{}, now: o.Now, rotation: o.Set.Rotation}
	p.live, p.next = live, liveKeysOf(o.Keys)
	src := map[string]string{}
	for _, k := range o.Keys.Keys {
		src[k.KID] = k.sourceSpec()
	}
	liveBy := map[string]LiveKey{}
	for _, k := range live {
		liveBy[k.KID] = k
	}
	nextBy := map[string]LiveKey{}
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
			p.Headers = append(p.Headers, HeaderChange{Name: "Cache-Control", Old: liveDoc.CacheControl, New: doc.CacheControl})
		}
		if liveDoc.ContentType != doc.ContentType {
			p.Headers = append(p.Headers, HeaderChange{Name: "Content-Type", Old: liveDoc.ContentType, New: doc.ContentType})
		}
	}
	p.safeDelay = SafeDelay(o.Set.Rotation, doc.CacheControl)
	if liveDoc != nil {
		p.safeDelay = max(p.safeDelay, SafeDelay(o.Set.Rotation, liveDoc.CacheControl))
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

// Apply carries out a plan that passed the guard: each object is written (JWKS first, then its
// .gz sibling and discovery document, the state object last) and read back. It stops at the
// first failure, so the target is then stale and the error says which object failed. A plan
// compared against a public URL cannot be applied.
func Apply(ctx context.Context, p *Plan) error {
	if p.Image != nil {
		// An image is pushed whole: its documents are files of one layer.
		return applyImage(ctx, p.Image)
	}
	if p.target == nil {
		return fmt.Errorf("plan for %s was not made against a target", p.Target)
	}
	for _, oc := range p.Objects {
		if oc.Action == ActionDelete {
			if err := p.target.delete(ctx, oc.Key, p.revs[oc.Key]); err != nil {
				return err
			}
			continue
		}
		o := p.desired[oc.Key]
		if err := p.target.write(ctx, oc.Key, o, p.revs[oc.Key]); err != nil {
			return err
		}
		if err := p.target.verify(ctx, oc.Key, o); err != nil {
			return err
		}
	}
	return nil
}
