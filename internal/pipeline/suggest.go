package pipeline

import (
	"strings"
	"unicode"
)

// nearest returns the name closest to s, or "" when none is close enough to
// be a likely typo. Closeness is the case-insensitive edit distance, at
// most a third of s (and at least 2); among the close names, the one that
// shares the most words with s wins, then the nearest. Words count because
// a short edit distance can change the meaning: "Aws.LambdaDeployStage"
// is as near to "Aws.LambdaDeleteStage" as to "Aws.LambdaDeploymentStage",
// and only the second is what its author meant.
func nearest(s string, names []string) string {
	ls := strings.ToLower(s)
	limit := max(2, len([]rune(s))/3)
	sWords := words(s)
	best, bestDist, bestShared := "", -1, -1
	for _, name := range names {
		d := editDistance(ls, strings.ToLower(name))
		if d > limit {
			continue
		}
		shared := sharedWords(sWords, words(name))
		if shared > bestShared || shared == bestShared && d < bestDist {
			best, bestDist, bestShared = name, d, shared
		}
	}
	return best
}

// words splits a name into its lower-case words at case changes, digits
// and punctuation: "Aws.LambdaDeployStage" is aws, lambda, deploy, stage.
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for _, r := range s {
		switch {
		case !unicode.IsLetter(r):
			flush()
		case unicode.IsUpper(r):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return out
}

// sharedWords counts the words of a that are a word of b, or, when three
// letters or longer, the start of one or start with one ("deploy" and
// "deployment").
func sharedWords(a, b []string) int {
	n := 0
	for _, wa := range a {
		for _, wb := range b {
			short, long := wa, wb
			if len(short) > len(long) {
				short, long = long, short
			}
			if short == long || len(short) >= 3 && strings.HasPrefix(long, short) {
				n++
				break
			}
		}
	}
	return n
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
