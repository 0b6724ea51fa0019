// Package didyoumean suggests the known name closest to a misspelt one, for messages about
// unknown configuration fields, commands, set names and URL parameters.
//
// The edit distance is the textbook dynamic programme, twenty lines: the names compared are
// short (config fields, command names), so no dependency earns its place here.
package didyoumean

// Closest returns the candidate nearest to name, or "" when none is near enough to be a
// plausible typo: at most one edit for names of up to four letters, two for up to eight, and
// a third of the length beyond. Ties go to the earlier candidate, so the answer is stable.
func Closest(name string, candidates []string) string {
	best, bestD := "", 0
	if name == "" {
		return ""
	}
	for _, c := range candidates {
		d := distance(name, c)
		if d == 0 || d > allowed(name) {
			continue
		}
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Suffix is `; did you mean "X"?` for the closest candidate, or "".
func Suffix(name string, candidates []string) string {
	if c := Closest(name, candidates); c != "" {
		return `; did you mean "` + c + `"?`
	}
	return ""
}

func allowed(name string) int {
	switch n := len([]rune(name)); {
	case n <= 4:
		return 1
	case n <= 8:
		return 2
	default:
		return n / 3
	}
}

// distance is the optimal-string-alignment distance between a and b, in runes: Levenshtein
// plus the swap of two neighbours, the commonest typo ("prdo"), counted as one edit.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows: the transposition looks two rows back.
	prev2, prev, row := make([]int, len(rb)+1), make([]int, len(rb)+1), make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		row[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			row[j] = min(prev[j]+1, row[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				row[j] = min(row[j], prev2[j-2]+1)
			}
		}
		prev2, prev, row = prev, row, prev2
	}
	return prev[len(rb)]
}
