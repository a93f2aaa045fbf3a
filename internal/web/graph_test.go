package web

import (
	"fmt"
	"strings"
	"testing"
)

func node(ref string, parents ...string) *graphNode {
	return &graphNode{RefID: ref, Name: "stage " + ref, Parents: parents}
}

// place writes each node as ref@col.row.
func place(g *stageGraph) string {
	s := ""
	for _, n := range g.Nodes {
		s += fmt.Sprintf("%s@%d.%d ", n.RefID, n.col, n.row)
	}
	return s
}

func TestLayoutColumnsByLongestPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		nodes []*graphNode
		want  string
		edges int
	}{
		{"chain", []*graphNode{node("1"), node("2", "1"), node("3", "2")}, "1@0.0 2@1.0 3@2.0 ", 2},
		{"fan-out and join", []*graphNode{node("1"), node("2", "1"), node("3", "1"), node("4", "2", "3")},
			"1@0.0 2@1.0 3@1.1 4@2.0 ", 4},
		// The join waits for the long branch: it goes right of it.
		{"uneven branches", []*graphNode{node("1"), node("2", "1"), node("3", "2"), node("4", "1", "3")},
			"1@0.0 2@1.0 3@2.0 4@3.0 ", 4},
		{"two initial stages", []*graphNode{node("a"), node("b"), node("c", "a", "b")}, "a@0.0 b@0.1 c@1.0 ", 2},
		{"unknown requisite is ignored", []*graphNode{node("1", "nope"), node("2", "1")}, "1@0.0 2@1.0 ", 1},
		{"cycle does not hang", []*graphNode{node("1", "2"), node("2", "1")}, "1@1.0 2@0.0 ", 1},
		// Children follow their parents' rows, not document order.
		{"rows follow parents", []*graphNode{node("1"), node("2"), node("3", "2"), node("4", "1")},
			"1@0.0 2@0.1 3@1.1 4@1.0 ", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := layoutGraph(tt.nodes)
			if got := place(g); got != tt.want {
				t.Errorf("layout = %s, want %s", got, tt.want)
			}
			if len(g.Edges) != tt.edges {
				t.Errorf("%d edges, want %d", len(g.Edges), tt.edges)
			}
		})
	}
}

func TestLayoutGeometry(t *testing.T) {
	t.Parallel()
	g := layoutGraph([]*graphNode{node("1"), node("2", "1"), node("3", "1"), node("4", "2", "3")})
	if g.Width != 2*graphPad+3*nodeW+2*colGap || g.Height != 2*graphPad+2*nodeH+rowGap {
		t.Errorf("size = %dx%d", g.Width, g.Height)
	}
	byRef := map[string]*graphNode{}
	for _, n := range g.Nodes {
		byRef[n.RefID] = n
	}
	// A single node in a column of a two-row graph is centred.
	if one, two := byRef["1"], byRef["2"]; one.Y <= two.Y || one.Y >= byRef["3"].Y {
		t.Errorf("stage 1 at y=%d is not between 2 (y=%d) and 3 (y=%d)", one.Y, two.Y, byRef["3"].Y)
	}
	for _, n := range g.Nodes {
		if n.X < 0 || n.Y < 0 || n.X+nodeW > g.Width || n.Y+nodeH > g.Height {
			t.Errorf("stage %s at %d,%d is outside %dx%d", n.RefID, n.X, n.Y, g.Width, g.Height)
		}
	}
}

func TestLongEdgeDetours(t *testing.T) {
	t.Parallel()
	g := layoutGraph([]*graphNode{node("1"), node("2", "1"), node("3", "2"), node("4", "1", "3")})
	for _, e := range g.Edges {
		long := e.From == "1" && e.To == "4"
		if got := strings.Count(e.D, "C"); long && got != 2 || !long && got != 1 {
			t.Errorf("edge %s→%s: %q", e.From, e.To, e.D)
		}
	}
	if g.Nodes[0].Y != graphPad+rowGap {
		t.Errorf("the graph made no lane above the stages: first stage at y=%d", g.Nodes[0].Y)
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	if got := truncate("Deploy to production eu-west-1", 12); got != "Deploy to p…" {
		t.Errorf("truncate = %q", got)
	}
	if got := truncate("Plan", 12); got != "Plan" {
		t.Errorf("truncate = %q", got)
	}
}
