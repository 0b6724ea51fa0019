package report

import (
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/rotation"
)

// SchemaVersion is the version of the shape of every --format json output, checked against
// the files in schema/. Additive changes (a new optional field) keep it; renaming, removing or
// retyping a field, or changing what a field means, bumps it.
const SchemaVersion = 1

// Header opens every JSON output: the shape's version and the command that wrote it.
type Header struct {
	SchemaVersion int    `json:"schema_version"`
	Command       string `json:"command"`
}

// NewHeader is the header of command's output.
func NewHeader(command string) Header {
	return Header{SchemaVersion: SchemaVersion, Command: command}
}

// Stale is a target that could not be read or written.
type Stale struct {
	Set    string `json:"set"`
	Target string `json:"target"`
	Error  string `json:"error"`
}

func staleOf(in []publish.Stale) []Stale {
	out := make([]Stale, 0, len(in))
	for _, s := range in {
		out = append(out, Stale{Set: s.Set, Target: s.Target, Error: s.Err.Error()})
	}
	return out
}

// PlanEntry is one plan with the guard's verdict on it.
type PlanEntry struct {
	*publish.Plan
	// Refused is true when the guard refused something of this plan.
	Refused bool `json:"refused"`
}

// PublishResult is what publish did at one target.
type PublishResult struct {
	Set    string `json:"set"`
	Target string `json:"target"`
	// Outcome is OutcomeUnchanged, OutcomePublished or OutcomeStale.
	Outcome string `json:"outcome"`
	// Digest is, for an oci:// target, the image digest the tag names: the pushed one, or
	// the live one when unchanged.
	Digest string `json:"digest,omitempty"`
	Error  string `json:"error,omitempty"`
	// Raced reports that the first write lost a race to another publisher and the target was
	// re-planned against what that publisher wrote.
	Raced bool          `json:"raced,omitempty"`
	Plan  *publish.Plan `json:"plan,omitempty"`
}

// Publish outcomes.
const (
	OutcomeUnchanged = "unchanged"
	OutcomePublished = "published"
	OutcomeStale     = "stale"
)

// PlanReport is the JSON output of diff and publish: the plans, the rotation guard's verdict
// and the stale targets. Refused says the guard refused; Violations says why, Overridden what
// --force and --allow-removal let through.
type PlanReport struct {
	Header
	// Changed is, for diff, that publish would write something: a plan changes something and
	// the guard refuses nothing (one refusal stops every target). For publish, that something
	// was written.
	Changed    bool                     `json:"changed"`
	Refused    bool                     `json:"refused"`
	Violations []publish.GuardViolation `json:"violations"`
	Overridden []publish.GuardViolation `json:"overridden"`
	Plans      []PlanEntry              `json:"plans"`
	Stale      []Stale                  `json:"stale"`
}

// PublishReport is the JSON output of publish: a PlanReport, and the outcome at each target.
type PublishReport struct {
	PlanReport
	// Results is the outcome at each target, stale ones last; empty when refused.
	Results []PublishResult `json:"results"`
}

// NewPlanReport is the report of a diff (or publish --dry-run): the plans and the verdict,
// nothing written. A plan is refused when the verdict names its set and target.
func NewPlanReport(plans []*publish.Plan, v publish.Verdict, stale []publish.Stale) *PlanReport {
	r := &PlanReport{Header: NewHeader("diff"), Refused: len(v.Refused) > 0,
		Violations: orEmpty(v.Refused), Overridden: orEmpty(v.Overridden), Plans: []PlanEntry{}, Stale: staleOf(stale)}
	for _, p := range plans {
		e := PlanEntry{Plan: p, Refused: v.Refuses(p.Set, p.Target)}
		r.Changed = r.Changed || (p.Changed() && !r.Refused)
		r.Plans = append(r.Plans, e)
	}
	return r
}

// NewPublishReport is the report of a publish: as NewPlanReport, but Changed says whether
// anything was written (a refused run wrote nothing), and Results says what happened where.
// Refusals of re-plans after a lost race are in the stale targets' errors (*GuardError) and
// count as the verdict's too.
func NewPublishReport(plans []*publish.Plan, v publish.Verdict, stale []publish.Stale, results []PublishResult) *PublishReport {
	for _, s := range stale {
		if ge, ok := asGuardError(s.Err); ok {
			v.Refused = append(v.Refused, ge.Violations...)
			v.Overridden = append(v.Overridden, ge.Overridden...)
		}
	}
	r := &PublishReport{PlanReport: *NewPlanReport(plans, v, stale), Results: results}
	r.Command = "publish"
	r.Changed = false
	for _, res := range results {
		r.Changed = r.Changed || res.Outcome == OutcomePublished
	}
	if r.Results == nil {
		r.Results = []PublishResult{}
	}
	return r
}

func orEmpty(vs []publish.GuardViolation) []publish.GuardViolation {
	if vs == nil {
		return []publish.GuardViolation{}
	}
	return vs
}

// WriteJSON writes v indented, as every --format json output is.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// StatusReport is the JSON output of status.
type StatusReport struct {
	Header
	Now       time.Time        `json:"now"`
	Timelines []StatusTimeline `json:"timelines"`
	Stale     []Stale          `json:"stale"`
}

// StatusTimeline is one target's rotation timeline (rotation.Timeline) with durations in
// seconds.
type StatusTimeline struct {
	Set              string   `json:"set"`
	Target           string   `json:"target"`
	SafeDelaySeconds float64  `json:"safe_delay_seconds"`
	MaxTokenLifetime *float64 `json:"max_token_lifetime_seconds,omitempty"`
	// SignWith is the newest live key safe to sign with now; null when none is.
	SignWith *SignWith   `json:"sign_with"`
	Keys     []StatusKey `json:"keys"`
}

// SignWith names the key to sign with: its kid, its source and its version there.
type SignWith struct {
	KID     string `json:"kid"`
	Source  string `json:"source"`
	Version int    `json:"version,omitempty"`
}

// StatusKey is one kid's dates at a target; a date that does not apply is left out.
type StatusKey struct {
	KID            string             `json:"kid"`
	Source         string             `json:"source"`
	Version        int                `json:"version,omitempty"`
	Live           bool               `json:"live"`
	FirstPublished *time.Time         `json:"first_published,omitempty"`
	SafeFrom       *time.Time         `json:"safe_from,omitempty"`
	Superseded     *time.Time         `json:"superseded,omitempty"`
	RemovableFrom  *time.Time         `json:"removable_from,omitempty"`
	Retired        *time.Time         `json:"retired,omitempty"`
	RemovalAllowed *rotation.Override `json:"removal_allowed,omitempty"`
}

// NewStatusReport maps timelines to status's JSON.
func NewStatusReport(now time.Time, tls []*rotation.Timeline, stale []publish.Stale) *StatusReport {
	r := &StatusReport{Header: NewHeader("status"), Now: now.UTC(), Timelines: []StatusTimeline{}, Stale: staleOf(stale)}
	for _, tl := range tls {
		st := StatusTimeline{Set: tl.Set, Target: tl.Target, SafeDelaySeconds: tl.SafeDelay.Seconds(), Keys: []StatusKey{}}
		if tl.MaxTokenLifetime > 0 {
			s := tl.MaxTokenLifetime.Seconds()
			st.MaxTokenLifetime = &s
		}
		for _, k := range tl.Keys {
			sk := StatusKey{KID: k.KID, Source: k.Source, Version: k.Version, Live: k.Live, Superseded: utc(k.Superseded),
				RemovableFrom: utc(k.RemovableFrom), Retired: utc(k.Retired), RemovalAllowed: k.RemovalAllowed}
			// A live kid the state does not know has no dates to trust (rotation.TimelineOf).
			if !k.FirstPublished.IsZero() {
				sk.FirstPublished, sk.SafeFrom = utc(&k.FirstPublished), utc(&k.SafeFrom)
			}
			if tl.SignWith == k.KID {
				st.SignWith = &SignWith{KID: k.KID, Source: k.Source, Version: k.Version}
			}
			st.Keys = append(st.Keys, sk)
		}
		r.Timelines = append(r.Timelines, st)
	}
	return r
}

// seconds reads a duration rotation.Timeline holds as text (time.Duration's String, which
// ParseDuration reads back exactly). Unreadable text counts as 0; it cannot occur.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func asGuardError(err error) (*publish.GuardError, bool) {
	var ge *publish.GuardError
	ok := errors.As(err, &ge)
	return ge, ok
}
