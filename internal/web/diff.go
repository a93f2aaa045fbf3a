package web

import (
	"fmt"
	"strings"
)

// A line diff for comparing pipeline revisions: the longest common
// subsequence of lines, shown as unified hunks with a few lines of context.

// diffOp is what happened to one line.
type diffOp byte

const (
	opSame diffOp = ' '
	opDel  diffOp = '-'
	opAdd  diffOp = '+'
)

// diffLine is one line of a diff; OldNo and NewNo are 1-based line numbers
// in the old and new text, 0 where the line is absent.
type diffLine struct {
	Op    diffOp
	Text  string
	OldNo int
	NewNo int
}

// Class names the line for the stylesheet.
func (l diffLine) Class() string {
	switch l.Op {
	case opDel:
		return "del"
	case opAdd:
		return "add"
	}
	return "same"
}

// Sign is the line's marker column.
func (l diffLine) Sign() string { return string(l.Op) }

// diffHunk is a run of changes with its context.
type diffHunk struct {
	Header string // "@@ -3,7 +3,8 @@"
	Lines  []diffLine
}

// maxDiffCells bounds the LCS table (lines × lines after the common
// prefix and suffix are removed); beyond it the changed middle is shown as
// all deleted then all added.
const maxDiffCells = 16 << 20

// diffLines returns the edit script turning a into b.
func diffLines(a, b []string) []diffLine {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	out := make([]diffLine, 0, len(a)+len(b))
	for i := range pre {
		out = append(out, diffLine{Op: opSame, Text: a[i], OldNo: i + 1, NewNo: i + 1})
	}
	am, bm := a[pre:len(a)-suf], b[pre:len(b)-suf]
	oldNo, newNo := pre+1, pre+1
	emit := func(op diffOp, text string) {
		l := diffLine{Op: op, Text: text}
		if op != opAdd {
			l.OldNo = oldNo
			oldNo++
		}
		if op != opDel {
			l.NewNo = newNo
			newNo++
		}
		out = append(out, l)
	}
	if len(am)*len(bm) > maxDiffCells {
		for _, s := range am {
			emit(opDel, s)
		}
		for _, s := range bm {
			emit(opAdd, s)
		}
	} else {
		// lcs[i][j] is the LCS length of am[i:] and bm[j:].
		n, m := len(am), len(bm)
		lcs := make([]int32, (n+1)*(m+1))
		at := func(i, j int) int32 { return lcs[i*(m+1)+j] }
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if am[i] == bm[j] {
					lcs[i*(m+1)+j] = at(i+1, j+1) + 1
				} else {
					lcs[i*(m+1)+j] = max(at(i+1, j), at(i, j+1))
				}
			}
		}
		i, j := 0, 0
		for i < n && j < m {
			switch {
			case am[i] == bm[j]:
				emit(opSame, am[i])
				i++
				j++
			case at(i+1, j) >= at(i, j+1):
				emit(opDel, am[i])
				i++
			default:
				emit(opAdd, bm[j])
				j++
			}
		}
		for ; i < n; i++ {
			emit(opDel, am[i])
		}
		for ; j < m; j++ {
			emit(opAdd, bm[j])
		}
	}
	for k := len(a) - suf; k < len(a); k++ {
		emit(opSame, a[k])
	}
	return out
}

// hunks groups a diff into hunks with context unchanged lines around each
// change; a diff without changes has no hunks.
func hunks(lines []diffLine, context int) []diffHunk {
	var out []diffHunk
	i := 0
	for i < len(lines) {
		// Find the next change.
		for i < len(lines) && lines[i].Op == opSame {
			i++
		}
		if i == len(lines) {
			break
		}
		start := max(i-context, 0)
		end := i
		// Extend while the gap to the next change is at most 2×context.
		for end < len(lines) {
			if lines[end].Op != opSame {
				end++
				continue
			}
			gap := end
			for gap < len(lines) && lines[gap].Op == opSame {
				gap++
			}
			if gap == len(lines) || gap-end > 2*context {
				end = min(end+context, len(lines))
				break
			}
			end = gap
		}
		h := diffHunk{Lines: lines[start:end]}
		h.Header = hunkHeader(h.Lines)
		out = append(out, h)
		i = end
	}
	return out
}

// hunkHeader is the unified-diff header of a hunk.
func hunkHeader(lines []diffLine) string {
	oldStart, newStart, oldN, newN := 0, 0, 0, 0
	for _, l := range lines {
		if l.OldNo > 0 {
			if oldStart == 0 {
				oldStart = l.OldNo
			}
			oldN++
		}
		if l.NewNo > 0 {
			if newStart == 0 {
				newStart = l.NewNo
			}
			newN++
		}
	}
	return fmt.Sprintf("@@ -%d,%d +%d,%d @@", oldStart, oldN, newStart, newN)
}

// splitLines splits text into lines without their line ends.
func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
