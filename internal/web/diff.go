package web

import (
	"fmt"
	"strings"

	"github.com/aymanbagabas/go-udiff/lcs"
)

// A line diff for comparing pipeline revisions: go-udiff's edit script over
// lines, shown as unified hunks with a few lines of context.

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

// diffLines returns the edit script turning a into b. The edits come from
// go-udiff's Myers diff, which bounds its search, so a large revision with
// many scattered changes costs near-linear time rather than lines × lines;
// past that bound the script is still correct but may not be the shortest.
func diffLines(a, b []string) []diffLine {
	out := make([]diffLine, 0, max(len(a), len(b)))
	oldNo, newNo := 1, 1
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
	next := 0 // the first line of a not yet emitted
	for _, d := range lcs.DiffLines(a, b) {
		for _, s := range a[next:d.Start] {
			emit(opSame, s)
		}
		for _, s := range a[d.Start:d.End] {
			emit(opDel, s)
		}
		for _, s := range b[d.ReplStart:d.ReplEnd] {
			emit(opAdd, s)
		}
		next = d.End
	}
	for _, s := range a[next:] {
		emit(opSame, s)
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
