package publish

import (
	"fmt"

	"github.com/jwkspub/jwkspub/publish/rotation"
)

// recordOverrides notes in the state p writes who let go each kid whose removal only
// --allow-removal or --force let through, and when (rotation.OverriddenRemovals): the state
// keeps the decision after the warning on stderr is gone. Call it once p passed the guard.
func (p *Plan) recordOverrides(g GuardOptions) error {
	kids := rotation.OverriddenRemovals(p.guardInput(), g.AllowRemoval, g.Force)
	if len(kids) == 0 || p.nextState == nil {
		return nil
	}
	p.nextState.RecordRemovalAllowed(kids, g.Actor, p.now)
	if g.Logger != nil {
		g.Logger.Info("recorded in the state: removal allowed by an override", "set", p.Set, "target", p.Target, "kids", kids, "by", g.Actor)
	}
	if p.base == nil {
		return nil // not written to a target (a render keeps its state itself)
	}
	body, err := p.nextState.Encode()
	if err != nil {
		return err
	}
	for i := range p.writes {
		if p.writes[i].Name == p.base.Names.State {
			p.writes[i].Body = body
			return nil
		}
	}
	// A removal always retires a kid, so the state changes and its write is planned.
	return fmt.Errorf("set %q: target %s: no state write planned for removals %v", p.Set, p.Target, kids)
}
