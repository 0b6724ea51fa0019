package publish

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/publish/target"
)

// ReadTimeline reads a target's live document and state and builds its timeline.
func ReadTimeline(ctx context.Context, d Destination, set *config.SetConfig, now time.Time) (*rotation.Timeline, error) {
	tl, _, err := ReadTimelineHeaders(ctx, d, set, now)
	return tl, err
}

// LiveHeader is one header the target stores with the live document.
type LiveHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ReadTimelineHeaders is ReadTimeline that also returns the headers stored with the live
// document, for reports that show them. They are nil where the target stores none (a
// directory, whose headers are the web server's configuration) or nothing is live.
func ReadTimelineHeaders(ctx context.Context, d Destination, set *config.SetConfig, now time.Time) (*rotation.Timeline, []LiveHeader, error) {
	snap, live, st, err := ReadLive(ctx, d, set.Name)
	if err != nil {
		return nil, nil, err
	}
	cc := set.Output.CacheControl
	if cc == "" {
		cc = config.DefaultCacheControl
	}
	doc := snap.Object(snap.Names.JWKS)
	if doc != nil && snap.Attributes {
		if rotation.SafeDelay(set.Rotation, doc.CacheControl) > rotation.SafeDelay(set.Rotation, cc) {
			cc = doc.CacheControl
		}
	}
	return rotation.TimelineOf(set.Name, set.Rotation, d.URL, st, live, cc, now), liveHeaders(doc, snap.Attributes), nil
}

func liveHeaders(doc *target.Object, attributes bool) []LiveHeader {
	if doc == nil || !attributes {
		return nil
	}
	var hs []LiveHeader
	for _, h := range []LiveHeader{{"Cache-Control", doc.CacheControl}, {"Content-Type", doc.ContentType}, {"Content-Encoding", doc.ContentEncoding}} {
		if h.Value != "" {
			hs = append(hs, h)
		}
	}
	var meta []LiveHeader
	for k, v := range doc.Metadata {
		meta = append(meta, LiveHeader{Name: "metadata " + k, Value: v})
	}
	slices.SortFunc(meta, func(a, b LiveHeader) int { return strings.Compare(a.Name, b.Name) })
	return append(hs, meta...)
}

// Timelines are the plan's target's rotation timeline before and after the plan is applied,
// at the plan's time, for reports that show the change.
func (p *Plan) Timelines() (before, after *rotation.Timeline) {
	before = rotation.TimelineOf(p.Set, p.rotation, p.Target, p.oldState, p.live, p.cacheControl, p.now)
	next := p.nextState
	if next == nil {
		next = p.oldState
	}
	after = rotation.TimelineOf(p.Set, p.rotation, p.Target, next, p.next, p.cacheControl, p.now)
	return before, after
}
