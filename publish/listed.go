package publish

import (
	"fmt"
	"strings"

	"github.com/jwkspub/jwkspub/sources"
)

// listed writes a heading and the first sources.ListLimit items, indented, one per line, then
// how many more there are.
func listed[T fmt.Stringer](heading string, items []T) string {
	var b strings.Builder
	b.WriteString(heading)
	for _, v := range items[:min(len(items), sources.ListLimit)] {
		b.WriteString("\n  ")
		b.WriteString(v.String())
	}
	if n := len(items) - sources.ListLimit; n > 0 {
		b.WriteString("\n  ")
		b.WriteString(sources.MoreLine(n))
	}
	return b.String()
}
