package web

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// render writes a diff one line per entry: sign, old number, new number,
// text.
func renderDiff(lines []diffLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(string(l.Op))
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestDiffLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
		want string
	}{
		{"equal", "a\nb\n", "a\nb\n", " a\n b\n"},
		{"empty to text", "", "a\nb", "+a\n+b\n"},
		{"text to empty", "a\nb", "", "-a\n-b\n"},
		{"change in the middle", "a\nb\nc", "a\nx\nc", " a\n-b\n+x\n c\n"},
		{"insert", "a\nc", "a\nb\nc", " a\n+b\n c\n"},
		{"delete", "a\nb\nc", "a\nc", " a\n-b\n c\n"},
		{"moved line", "a\nb\nc\nd", "b\nc\na\nd", "-a\n b\n c\n+a\n d\n"},
		{"lcs keeps the longest run", "x\na\nb\nc\ny", "a\nb\nz\nc", "-x\n a\n b\n+z\n c\n-y\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := renderDiff(diffLines(splitLines(tt.a), splitLines(tt.b)))
			if got != tt.want {
				t.Errorf("diff:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestDiffLineNumbers(t *testing.T) {
	t.Parallel()
	lines := diffLines(splitLines("a\nb\nc"), splitLines("a\nx\ny\nc"))
	type nums struct{ old, new int }
	want := []nums{{1, 1}, {2, 0}, {0, 2}, {0, 3}, {3, 4}}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		if (nums{l.OldNo, l.NewNo}) != want[i] {
			t.Errorf("line %d %q: old %d new %d, want %v", i, l.Text, l.OldNo, l.NewNo, want[i])
		}
	}
}

func TestHunks(t *testing.T) {
	t.Parallel()
	var a, b []string
	for i := range 30 {
		line := string(rune('a' + i%26))
		a = append(a, line)
		b = append(b, line)
	}
	b[2] = "X"  // first hunk: lines 1..6
	b[20] = "Y" // far away: a second hunk
	b[23] = "Z" // close to Y: same hunk
	hs := hunks(diffLines(a, b), 3)
	if len(hs) != 2 {
		t.Fatalf("got %d hunks, want 2: %+v", len(hs), hs)
	}
	if hs[0].Header != "@@ -1,6 +1,6 @@" {
		t.Errorf("first header = %q", hs[0].Header)
	}
	if hs[1].Header != "@@ -18,10 +18,10 @@" {
		t.Errorf("second header = %q", hs[1].Header)
	}
	if got := hunks(diffLines(a, a), 3); len(got) != 0 {
		t.Errorf("equal texts give %d hunks", len(got))
	}
}

// sides rebuilds the old and new texts from a diff.
func sides(lines []diffLine) (old, new []string) {
	for _, l := range lines {
		if l.Op != opAdd {
			old = append(old, l.Text)
		}
		if l.Op != opDel {
			new = append(new, l.Text)
		}
	}
	return old, new
}

func TestDiffLargeTexts(t *testing.T) {
	t.Parallel()
	n := 5000
	t.Run("nothing in common", func(t *testing.T) {
		t.Parallel()
		a := make([]string, n)
		b := make([]string, n)
		for i := range n {
			a[i] = "a" + strings.Repeat("x", i%7)
			b[i] = "b" + strings.Repeat("y", i%5)
		}
		lines := diffLines(a, b)
		if len(lines) != 2*n || lines[0].Op != opDel || lines[n].Op != opAdd {
			t.Errorf("got %d lines starting %c, want %d deletions then additions", len(lines), lines[0].Op, n)
		}
	})
	t.Run("scattered changes", func(t *testing.T) {
		t.Parallel()
		a := make([]string, n)
		b := make([]string, n)
		for i := range n {
			a[i] = fmt.Sprint("line ", i)
			b[i] = a[i]
			if i%50 == 7 {
				b[i] = "changed"
			}
		}
		lines := diffLines(a, b)
		old, new := sides(lines)
		if !slices.Equal(old, a) || !slices.Equal(new, b) {
			t.Fatal("the diff does not turn the old text into the new one")
		}
		if last := lines[len(lines)-1]; last.OldNo != n || last.NewNo != n {
			t.Errorf("last line numbered old %d new %d, want %d and %d", last.OldNo, last.NewNo, n, n)
		}
	})
}
