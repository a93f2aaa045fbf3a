package web

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sluice-cd/sluice/internal/status"
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
	Status  status.Status // empty on a pipeline's graph
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
	l := newGraphLayout(nodes)
	l.assignColumns()
	l.placeRows()
	cols := len(l.columns)
	g := &stageGraph{
		Nodes:  nodes,
		Width:  2*graphPad + max(cols*(nodeW+colGap)-colGap, 0),
		Height: 2*graphPad + max(l.rows*(nodeH+rowGap)-rowGap, 0),
	}
	edges := l.planEdges(g.Height)
	// A detour runs in a lane above the stages, which the graph grows to
	// make.
	shift := 0
	if slices.ContainsFunc(edges, func(e plannedEdge) bool { return e.detour }) {
		shift = rowGap
		for _, n := range nodes {
			n.Y += shift
		}
		g.Height += shift
	}
	for _, e := range edges {
		g.Edges = append(g.Edges, graphEdge{
			From: e.from.RefID,
			To:   e.to.RefID,
			D:    e.path(shift),
			Done: e.to.Status != "" && e.to.Status != status.NotStarted,
		})
	}
	return g
}

// graphLayout is layoutGraph's working state.
type graphLayout struct {
	nodes   []*graphNode
	byRef   map[string]*graphNode // the first node of each refId
	order   map[string]int        // document order by refId
	columns [][]*graphNode
	rows    int // the most stages in one column
}

func newGraphLayout(nodes []*graphNode) *graphLayout {
	l := &graphLayout{
		nodes: nodes,
		byRef: make(map[string]*graphNode, len(nodes)),
		order: make(map[string]int, len(nodes)),
	}
	for i, n := range nodes {
		if _, dup := l.byRef[n.RefID]; !dup {
			l.byRef[n.RefID] = n
			l.order[n.RefID] = i
		}
	}
	return l
}

// Column marks while assignColumns runs.
const (
	colUnset    = -1
	colVisiting = -2
)

// assignColumns puts each stage in the column of its longest path from an
// initial stage, and counts the rows the fullest column needs.
func (l *graphLayout) assignColumns() {
	for _, n := range l.nodes {
		n.col = colUnset
	}
	cols := 0
	for _, n := range l.nodes {
		cols = max(cols, l.column(n)+1)
	}
	l.columns = make([][]*graphNode, cols)
	for _, n := range l.nodes {
		if l.byRef[n.RefID] == n {
			l.columns[n.col] = append(l.columns[n.col], n)
		}
	}
	for _, c := range l.columns {
		l.rows = max(l.rows, len(c))
	}
}

// column returns n's column, computing it from n's parents first.
func (l *graphLayout) column(n *graphNode) int {
	switch n.col {
	case colVisiting:
		return -1 // a cycle: treat the back edge as absent
	case colUnset:
	default:
		return n.col
	}
	n.col = colVisiting
	c := 0
	for _, p := range n.Parents {
		if pn, ok := l.byRef[p]; ok && pn != n {
			c = max(c, l.column(pn)+1)
		}
	}
	n.col = c
	return c
}

// placeRows orders each column by the mean centre of its stages' upstream
// stages, then by document order, centres the column vertically and sets
// every stage's position.
func (l *graphLayout) placeRows() {
	centre := map[string]float64{}
	for ci, c := range l.columns {
		if ci > 0 {
			key := func(n *graphNode) float64 { return l.meanCentre(n, centre) }
			slices.SortStableFunc(c, func(a, b *graphNode) int {
				if d := cmp.Compare(key(a), key(b)); d != 0 {
					return d
				}
				return cmp.Compare(l.order[a.RefID], l.order[b.RefID])
			})
		}
		offset := float64(l.rows-len(c)) / 2
		for ri, n := range c {
			n.row = ri
			centre[n.RefID] = offset + float64(ri)
			n.X = graphPad + ci*(nodeW+colGap)
			n.Y = graphPad + int((offset+float64(ri))*float64(nodeH+rowGap))
		}
	}
}

// meanCentre is the mean row centre of n's placed parents; a stage with
// none goes last.
func (l *graphLayout) meanCentre(n *graphNode, centre map[string]float64) float64 {
	sum, k := 0.0, 0
	for _, p := range n.Parents {
		if y, ok := centre[p]; ok {
			sum += y
			k++
		}
	}
	if k == 0 {
		return float64(l.rows)
	}
	return sum / float64(k)
}

// plannedEdge is an edge before its path is drawn.
type plannedEdge struct {
	from, to *graphNode
	detour   bool
	top      int // the highest stage it must pass above
}

// planEdges lists the edges running forward, in document order of the
// stages they lead to. An edge that skips columns would run behind the stages between its
// ends when one of them overlaps its height; it is marked to detour above
// them.
func (l *graphLayout) planEdges(height int) []plannedEdge {
	var edges []plannedEdge
	for _, n := range l.nodes {
		for _, p := range n.Parents {
			pn, ok := l.byRef[p]
			if !ok || pn.col >= n.col {
				continue
			}
			e := plannedEdge{from: pn, to: n, top: height}
			lo := min(pn.Y, n.Y)
			hi := max(pn.Y, n.Y) + nodeH
			for c := pn.col + 1; c < n.col; c++ {
				for _, m := range l.columns[c] {
					e.top = min(e.top, m.Y)
					if m.Y < hi && m.Y+nodeH > lo {
						e.detour = true
					}
				}
			}
			edges = append(edges, e)
		}
	}
	return edges
}

// path is the edge's SVG path data once every stage has moved down by
// shift: a curve between the two stages, or for a detour up into the lane
// above the stages it passes, along it and down again.
func (e plannedEdge) path(shift int) string {
	x1, y1 := e.from.X+nodeW, e.from.Y+nodeH/2
	x2, y2 := e.to.X, e.to.Y+nodeH/2
	if e.detour {
		lane := e.top + shift - rowGap/2 - 2
		r := colGap / 2
		return fmt.Sprintf("M%d %d C%d %d %d %d %d %d L%d %d C%d %d %d %d %d %d",
			x1, y1, x1+r, y1, x1+r, lane, x1+colGap, lane,
			x2-colGap, lane, x2-r, lane, x2-r, y2, x2, y2)
	}
	dx := max((x2-x1)/2, 16)
	return fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1+dx, y1, x2-dx, y2, x2, y2)
}

// truncate shortens s to n runes, ending with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
