package publish

import (
	"context"
	"time"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/rotation"
)

// ReadTimeline reads a target's live document and state and builds its timeline.
func ReadTimeline(ctx context.Context, d Destination, set *config.SetConfig, now time.Time) (*rotation.Timeline, error) {
	snap, live, st, err := ReadLive(ctx, d, set.Name)
	if err != nil {
		return nil, err
	}
	cc := set.Output.CacheControl
	if cc == "" {
		cc = config.DefaultCacheControl
	}
	if doc := snap.Object(snap.Names.JWKS); doc != nil && snap.Attributes {
		if rotation.SafeDelay(set.Rotation, doc.CacheControl) > rotation.SafeDelay(set.Rotation, cc) {
			cc = doc.CacheControl
		}
	}
	return rotation.TimelineOf(set.Name, set.Rotation, d.URL, st, live, cc, now), nil
}
