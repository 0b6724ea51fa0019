package publish

import (
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/target"

	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
)

// CheckPublicURL accepts https URLs, and plain http only on a loopback address (tests, a
// local nginx): a JWKS compared over plain http could have been altered on the way.
func CheckPublicURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" {
			return nil
		} else if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%q: plain http is accepted only on loopback; use https", raw)
	}
	return fmt.Errorf("%q: use an https URL", raw)
}

// PlanAgainst compares the new set with the document served at rawURL instead of a target:
// what a reviewer sees is what verifiers fetch. Headers come from the response. There is no
// state object at a public URL, so the plan cannot be applied, and objects are not listed
// beyond the JWKS itself. client must not be nil; redirects are followed only to URLs that
// CheckPublicURL accepts.
func PlanAgainst(ctx context.Context, client *http.Client, rawURL string, o PlanOptions) (*Plan, error) {
	if err := CheckPublicURL(rawURL); err != nil {
		return nil, err
	}
	c := *client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		return CheckPublicURL(req.URL.String())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	var live *Object
	switch {
	case resp.StatusCode == http.StatusNotFound:
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetching %s: HTTP %s", rawURL, resp.Status)
	default:
		body, err := io.ReadAll(io.LimitReader(resp.Body, target.MaxObjectSize+1))
		if err != nil {
			return nil, fmt.Errorf("fetching %s: %w", rawURL, err)
		}
		if len(body) > target.MaxObjectSize {
			return nil, fmt.Errorf("fetching %s: more than %d bytes", rawURL, target.MaxObjectSize)
		}
		ct := resp.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			ct = mt // a charset parameter is not a change worth reporting
		}
		live = &Object{Body: body, CacheControl: resp.Header.Get("Cache-Control"), ContentType: ct}
	}
	desired, err := desiredObjects(PlanOptions{Set: &SetConfig{Name: o.Set.Name, Output: o.Set.Output, Rotation: o.Set.Rotation}, Keys: o.Keys, Version: o.Version}, target.Names{JWKS: "jwks"}, "", "")
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
