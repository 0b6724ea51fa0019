package publish

import "time"

// FirstPublished returns, per kid live at the plan's target, when it was first published there:
// from the state the plan writes when applied is true (publish wrote it), else from the state
// found at the target. Nil when the target has no state.
func (p *Plan) FirstPublished(applied bool) map[string]time.Time {
	st := p.oldState
	if applied {
		st = p.nextState
	}
	if st == nil {
		return nil
	}
	out := make(map[string]time.Time, len(st.Keys))
	for _, k := range st.Keys {
		if k.Live() {
			out[k.KID] = k.FirstPublished
		}
	}
	return out
}
