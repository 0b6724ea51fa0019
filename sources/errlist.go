package sources

import (
	"errors"
	"strconv"
	"strings"
)

// ListLimit is how many problems of one list a message shows before it counts the rest.
const ListLimit = 20

// keepLimit is how many problems of one input are kept in full: more than are shown, so that
// errors.Is still finds a refusal of private key material among the first ones, and few
// enough that a JWK Set of a million broken keys costs a counter rather than a million errors.
const keepLimit = 100

// List is several problems found in one input. Its message shows the first ListLimit, one per
// line, then "… and N more": one 61 MB JWK Set of broken keys printed 97 MB of messages.
type List struct {
	Errs []error // the problems kept in full, in the order found
	// Omitted counts the problems found beyond the ones kept.
	Omitted int
}

func (l *List) Error() string {
	var b strings.Builder
	for i, err := range l.Errs[:min(len(l.Errs), ListLimit)] {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(err.Error())
	}
	if n := len(l.Errs) - ListLimit + l.Omitted; n > 0 {
		b.WriteByte('\n')
		b.WriteString(MoreLine(n))
	}
	return b.String()
}

// Unwrap returns the problems kept in full, for errors.Is and errors.As.
func (l *List) Unwrap() []error { return l.Errs }

// MoreLine says how many items a list left out: "… and 99,980 more".
func MoreLine(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return "… and " + b.String() + " more"
}

// problems collects the problems of one input.
type problems struct {
	errs    []error
	omitted int
}

func (p *problems) add(err error) {
	switch {
	case err == nil:
	case len(p.errs) < keepLimit:
		p.errs = append(p.errs, err)
	default:
		p.omitted++
	}
}

// err is nil without problems, the joined problems when all fit in one message, and a *List
// otherwise.
func (p *problems) err() error {
	if len(p.errs) <= ListLimit && p.omitted == 0 {
		return errors.Join(p.errs...)
	}
	return &List{Errs: p.errs, Omitted: p.omitted}
}

// Listed writes a heading and the first ListLimit items, indented, one per line, then how
// many more there are: the one shape of every refusal that lists violations (policy, guard).
func Listed[T interface{ String() string }](heading string, items []T) string {
	var b strings.Builder
	b.WriteString(heading)
	for _, v := range items[:min(len(items), ListLimit)] {
		b.WriteString("\n  ")
		b.WriteString(v.String())
	}
	if n := len(items) - ListLimit; n > 0 {
		b.WriteString("\n  ")
		b.WriteString(MoreLine(n))
	}
	return b.String()
}
