package pipeline

import "strings"

// nearest returns the name closest to s (case-insensitive edit distance),
// or "" when none is close enough to be a likely typo.
func nearest(s string, names []string) string {
	ls := strings.ToLower(s)
	best, bestDist := "", -1
	for _, name := range names {
		ln := strings.ToLower(name)
		d := editDistance(ls, ln)
		if d < bestDist || bestDist < 0 {
			best, bestDist = name, d
		}
	}
	if bestDist < 0 {
		return ""
	}
	limit := max(2, len([]rune(s))/3)
	if bestDist <= limit {
		return best
	}
	return ""
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent characters.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows: two back, one back, current.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
