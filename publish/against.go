package publish

import (
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/served"
	"github.com/jwkspub/jwkspub/publish/target"

	"context"
	"fmt"
	"mime"
	"net/http"
)

// PlanAgainst compares the new set with the document served at rawURL instead of a target:
// what a reviewer sees is what verifiers fetch. Headers come from the response. There is no
// state object at a public URL, so the plan cannot be applied, and objects are not listed
// beyond the JWKS itself. The document is read with Get, the one fetcher: redirects are
// followed only to URLs the https-or-loopback rule accepts, and the body is bounded.
func PlanAgainst(ctx context.Context, client *http.Client, rawURL string, o PlanOptions) (*Plan, error) {
	if err := served.CheckPublicURL(rawURL); err != nil {
		return nil, err
	}
	resp, err := served.Get(ctx, client, rawURL, nil)
	if err != nil {
		return nil, err
	}
	var live *Object
	switch {
	case resp.StatusCode == http.StatusNotFound:
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetching %s: HTTP %s", rawURL, resp.Status)
	default:
		ct := resp.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			ct = mt // a charset parameter is not a change worth reporting
		}
		live = &Object{Body: resp.Body, CacheControl: resp.Header.Get("Cache-Control"), ContentType: ct}
	}
	desired, err := desiredObjects(PlanOptions{Set: &config.SetConfig{Name: o.Set.Name, Output: o.Set.Output, Rotation: o.Set.Rotation}, Keys: o.Keys, Version: o.Version}, target.Names{JWKS: "jwks"}, "", "")
	if err != nil {
		return nil, err
	}
	doc := desired["jwks"]
	var keys []jwks.LiveKey
	if live != nil {
		if keys, err = jwks.ParseLive(live.Body); err != nil {
			return nil, fmt.Errorf("%s: %w", rawURL, err)
		}
	}
	p := newPlan(o, rawURL, live, keys, doc)
	// Served bytes may be re-encoded by a CDN; compare the keys and headers, not the bytes.
	if changedKeysOrHeaders(p) {
		p.Objects = []ObjectChange{{Key: rawURL, Action: ActionWrite}}
	}
	return p, nil
}

func changedKeysOrHeaders(p *Plan) bool {
	if p.First || len(p.Headers) > 0 {
		return true
	}
	for _, k := range p.Keys {
		if k.Action != ActionKeep {
			return true
		}
	}
	return false
}

// ExpectedDocument is the JWKS object publish writes for keys in set: the encoded body and its
// Cache-Control and Content-Type headers. A served document that differs from it has drifted.
func ExpectedDocument(set *config.SetConfig, keys *jwks.Set) (*Object, error) {
	objs, err := desiredObjects(PlanOptions{Set: &config.SetConfig{Name: set.Name, Output: set.Output, Rotation: set.Rotation}, Keys: keys}, target.Names{JWKS: "jwks"}, "", "")
	if err != nil {
		return nil, err
	}
	return objs["jwks"], nil
}

// PublishedKeys is the set p publishes: the keys built from the sources plus the live keys p
// keeps (those of an optional source that is down, the keys an aws-kms: alias pointed at
// before). verify --expect compares what a target's public URL serves with it, so a kept key
// is not drift.
func (p *Plan) PublishedKeys() *jwks.Set { return p.keys }
