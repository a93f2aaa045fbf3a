package web

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// The stage graph, laid out on the server and drawn as inline SVG: stages
// flow left to right in columns, a stage's column being the longest path
// to it from an initial stage (one without requisites), so that a join sits
// right of every branch it waits for. Within a column stages are ordered by
// the mean height of their upstream stages, which keeps fan-outs and joins
// mostly free of crossings, then by document order.

// Graph geometry, in SVG user units (CSS pixels at 1:1).
const (
	nodeW    = 184
	nodeH    = 54
	colGap   = 56
	rowGap   = 16
	graphPad = 4
	// labelRunes is how much of a stage name fits on a node.
	labelRunes = 22
)

// graphNode is one stage on the graph.
type graphNode struct {
	RefID   string
	Name    string
	Type    string
	Status  string // empty on a pipeline's graph
	Parents []string
	Href    string // empty: not a link
	// Selected marks the stage shown in the stage panel.
	Selected bool
	// StartMs and EndMs drive the elapsed time, which the page's script
	// keeps ticking while the stage runs; 0 when unknown.
	StartMs, EndMs int64
	Elapsed        string

	col, row int
	X, Y     int
}

// Label is the name as it fits on the node.
func (n *graphNode) Label() string { return truncate(cmp.Or(n.Name, n.RefID), labelRunes) }

// TextX and the rest place the node's text.
func (n *graphNode) TextX() int { return n.X + 14 }
func (n *graphNode) NameY() int { return n.Y + 22 }
func (n *graphNode) SubY() int  { return n.Y + 41 }
func (n *graphNode) W() int     { return nodeW }
func (n *graphNode) H() int     { return nodeH }
func (n *graphNode) StatusClass() string {
	return statusClass(n.Status)
}

// graphEdge is a requisite: From must complete before To starts.
type graphEdge struct {
	From, To string
	D        string // SVG path data
	Done     bool   // To has started: the edge has been travelled
}

// Class is the edge's class for the stylesheet.
func (e graphEdge) Class() string {
	if e.Done {
		return "edge done"
	}
	return "edge"
}

// stageGraph is a laid-out graph.
type stageGraph struct {
	Nodes         []*graphNode
	Edges         []graphEdge
	Width, Height int
}

// layoutGraph places nodes (in document order) in columns and rows and
// routes the edges. Requisites naming no node are ignored; a cycle (which
// validation rejects) is broken where it is found.
func layoutGraph(nodes []*graphNode) *stageGraph {
	byRef := make(map[string]*graphNode, len(nodes))
	order := make(map[string]int, len(nodes))
	for i, n := range nodes {
		if _, dup := byRef[n.RefID]; !dup {
			byRef[n.RefID] = n
			order[n.RefID] = i
		}
	}
	// Columns: the longest path from an initial stage.
	const unset, visiting = -1, -2
	for _, n := range nodes {
		n.col = unset
	}
	var colOf func(n *graphNode) int
	colOf = func(n *graphNode) int {
		switch n.col {
		case visiting:
			return -1 // a cycle: treat the back edge as absent
		case unset:
		default:
			return n.col
		}
		n.col = visiting
		c := 0
		for _, p := range n.Parents {
			if pn, ok := byRef[p]; ok && pn != n {
				c = max(c, colOf(pn)+1)
			}
		}
		n.col = c
		return c
	}
	cols := 0
	for _, n := range nodes {
		cols = max(cols, colOf(n)+1)
	}
	columns := make([][]*graphNode, cols)
	for _, n := range nodes {
		if byRef[n.RefID] == n {
			columns[n.col] = append(columns[n.col], n)
		}
	}
	rows := 0
	for _, c := range columns {
		rows = max(rows, len(c))
	}
	// Rows: column by column, by the mean centre of the upstream stages.
	centre := map[string]float64{}
	for ci, c := range columns {
		if ci > 0 {
			key := func(n *graphNode) float64 {
				sum, k := 0.0, 0
				for _, p := range n.Parents {
					if y, ok := centre[p]; ok {
						sum += y
						k++
					}
				}
				if k == 0 {
					return float64(rows) // no placed parent: last
				}
				return sum / float64(k)
			}
			slices.SortStableFunc(c, func(a, b *graphNode) int {
				if d := cmp.Compare(key(a), key(b)); d != 0 {
					return d
				}
				return cmp.Compare(order[a.RefID], order[b.RefID])
			})
		}
		offset := float64(rows-len(c)) / 2
		for ri, n := range c {
			n.row = ri
			centre[n.RefID] = offset + float64(ri)
			n.X = graphPad + ci*(nodeW+colGap)
			n.Y = graphPad + int((offset+float64(ri))*float64(nodeH+rowGap))
		}
	}
	g := &stageGraph{
		Nodes:  nodes,
		Width:  2*graphPad + max(cols*(nodeW+colGap)-colGap, 0),
		Height: 2*graphPad + max(rows*(nodeH+rowGap)-rowGap, 0),
	}
	// An edge that skips columns would run behind the stages between its
	// ends; it detours above them, in a lane the graph grows to make.
	type edge struct {
		from, to *graphNode
		detour   bool
		top      int // the highest stage it must pass above
	}
	var edges []edge
	shift := 0
	for _, n := range nodes {
		for _, p := range n.Parents {
			pn, ok := byRef[p]
			if !ok || pn.col >= n.col {
				continue
			}
			e := edge{from: pn, to: n, top: g.Height}
			lo := min(pn.Y, n.Y)
			hi := max(pn.Y, n.Y) + nodeH
			for c := pn.col + 1; c < n.col; c++ {
				for _, m := range columns[c] {
					e.top = min(e.top, m.Y)
					if m.Y < hi && m.Y+nodeH > lo {
						e.detour = true
					}
				}
			}
			if e.detour {
				shift = rowGap
			}
			edges = append(edges, e)
		}
	}
	if shift > 0 {
		for _, n := range nodes {
			n.Y += shift
		}
		g.Height += shift
	}
	for _, e := range edges {
		x1, y1 := e.from.X+nodeW, e.from.Y+nodeH/2
		x2, y2 := e.to.X, e.to.Y+nodeH/2
		var d string
		if e.detour {
			lane := e.top + shift - rowGap/2 - 2
			r := colGap / 2
			d = fmt.Sprintf("M%d %d C%d %d %d %d %d %d L%d %d C%d %d %d %d %d %d",
				x1, y1, x1+r, y1, x1+r, lane, x1+colGap, lane,
				x2-colGap, lane, x2-r, lane, x2-r, y2, x2, y2)
		} else {
			dx := max((x2-x1)/2, 16)
			d = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1+dx, y1, x2-dx, y2, x2, y2)
		}
		g.Edges = append(g.Edges, graphEdge{
			From: e.from.RefID,
			To:   e.to.RefID,
			D:    d,
			Done: e.to.Status != "" && e.to.Status != "NOT_STARTED",
		})
	}
	return g
}

// truncate shortens s to n runes, ending with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
