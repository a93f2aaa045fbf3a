package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// viewports are the widths at which a page must fit: a laptop's and a
// phone's.
var viewports = []struct {
	name          string
	width, height int64
	mobile        bool
}{
	{"1280px", 1280, 900, false},
	{"390px phone", 390, 844, true},
}

// setViewport makes the page as wide as a viewport.
func (b *browser) setViewport(width, height int64, mobile bool) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: width, Height: height, DeviceScaleFactor: 1, Mobile: mobile,
	}); err != nil {
		b.t.Fatalf("set the viewport to %dpx: %v", width, err)
	}
}

// pageFits fails the test when the page is wider than the viewport: the
// document scrolls sideways only when something inside it does not wrap.
func (b *browser) pageFits(what string, width int64) {
	b.t.Helper()
	got := eval[[]int64](b, `[document.documentElement.scrollWidth, window.innerWidth]`)
	if got[0] > got[1] || got[1] > width {
		b.t.Errorf("%s: the page is %dpx wide in a %dpx viewport, want at most %dpx", what, got[0], got[1], width)
	}
}

// TestBrowserLongErrorWraps: a stage that fails with a 3,000-character
// error without a space in it keeps the page within the viewport, at a
// laptop's width and a phone's, and its whole text is still on the page.
func TestBrowserLongErrorWraps(t *testing.T) {
	s := newTestServer(t, nil)
	b := newBrowser(t, s.URL)
	b.signIn(s, "/")
	long := strings.Repeat("x", 3000)
	s.apply(t, "hello", "long-error", []byte(`{
  "application": "hello", "name": "long-error",
  "stages": [
    {"refId": "1", "type": "checkPreconditions", "name": "Gate",
     "preconditions": [{"type": "expression", "context": {"expression": "${'`+long+`' == 'y'}"}}]}
  ]
}`))
	exec, err := s.client.Trigger(t.Context(), "hello", "long-error", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s.waitExecution(t, exec.ID, "TERMINAL", func(e *apitype.Execution) bool { return e.Status == "TERMINAL" })

	for _, vp := range viewports {
		b.setViewport(vp.width, vp.height, vp.mobile)
		b.open("/executions/" + exec.ID + "?stage=1")
		b.waitFor("the stage's error", `!!document.querySelector('#stage-panel .stage-error')`)
		if got := b.text("#stage-panel .stage-error"); !strings.Contains(got, long) {
			t.Errorf("at %s the stage error lacks the long text: %.200q", vp.name, got)
		}
		// The context, which holds the expression too, open.
		_ = eval[bool](b, `(document.querySelectorAll('details').forEach((d) => { d.open = true; }), true)`)
		b.pageFits("execution at "+vp.name, vp.width)
		b.open("/executions")
		b.waitFor("the list", `!!document.querySelector('#executions table')`)
		b.pageFits("executions at "+vp.name, vp.width)
	}
	b.checkConsole()
}

// widePipeline fans out to eight parallel branches, each two stages long,
// that join in one stage: a graph wider than a phone and taller than
// most.
func widePipeline() []byte {
	stages := []string{`{"refId": "start", "type": "wait", "name": "Start", "waitTime": 0}`}
	var joins []string
	for i := 1; i <= 8; i++ {
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		stages = append(stages,
			fmt.Sprintf(`{"refId": %q, "requisiteStageRefIds": ["start"], "type": "wait", "name": "Branch %d with a long name", "waitTime": 0}`, a, i),
			fmt.Sprintf(`{"refId": %q, "requisiteStageRefIds": [%q], "type": "wait", "name": "Check %d", "waitTime": 0}`, b, a, i))
		joins = append(joins, fmt.Sprintf("%q", b))
	}
	prev := "join"
	stages = append(stages, fmt.Sprintf(`{"refId": "join", "requisiteStageRefIds": [%s], "type": "wait", "name": "Join", "waitTime": 0}`, strings.Join(joins, ", ")))
	for i := 1; i <= 4; i++ {
		ref := fmt.Sprintf("after%d", i)
		stages = append(stages, fmt.Sprintf(`{"refId": %q, "requisiteStageRefIds": [%q], "type": "wait", "name": "After %d", "waitTime": 0}`, ref, prev, i))
		prev = ref
	}
	return []byte(`{"application": "hello", "name": "wide", "stages": [` + strings.Join(stages, ",\n") + `]}`)
}

// graphCheck is what graphShowsEveryNode measures.
type graphCheck struct {
	Nodes, Clipped, Unreachable int
	Scale                       float64
	WrapOverflow                string
	// Scrolls is whether the graph is wider than its box; Hint whether
	// the page then says so, MoreRight whether the right side is marked.
	Scrolls, Hint, MoreRight bool
	// SelectedInView is whether the selected stage, if any, is in view.
	SelectedInView bool
}

// graphShowsEveryNode checks the stage graph on the page: drawn at
// minGraphScale of its size or more, every node inside the drawing, every
// node reachable by scrolling the graph's box — which scrolls by itself,
// not the page — and, when it scrolls, the page says so and shows the
// selected stage.
func (b *browser) graphShowsEveryNode(what string, nodes int) graphCheck {
	b.t.Helper()
	got := eval[graphCheck](b, `(() => {
  const svg = document.querySelector('svg.graph');
  const wrap = svg.closest('.graph-wrap');
  const frame = wrap.parentElement;
  const hint = document.querySelector('.graph-hint');
  const box = svg.getBoundingClientRect();
  const vb = svg.viewBox.baseVal;
  const w = wrap.getBoundingClientRect();
  const inView = (n) => { const r = n.getBoundingClientRect(); return r.left >= w.left - 1 && r.right <= w.right + 1 && r.top >= w.top - 1 && r.bottom <= w.bottom + 1; };
  const sel = svg.querySelector('.node.selected');
  const out = {Nodes: 0, Clipped: 0, Unreachable: 0, Scale: box.width / vb.width, WrapOverflow: getComputedStyle(wrap).overflowX,
    Scrolls: wrap.scrollWidth > wrap.clientWidth, Hint: !!hint && !hint.hidden && hint.offsetHeight > 0,
    MoreRight: frame.classList.contains('more-right'), SelectedInView: !sel || inView(sel)};
  const start = wrap.scrollLeft;
  svg.querySelectorAll('.node').forEach((n) => {
    out.Nodes++;
    const bb = n.getBBox();
    if (bb.x < 0 || bb.y < 0 || bb.x + bb.width > vb.width || bb.y + bb.height > vb.height) out.Clipped++;
    // Scroll the node into the box's view, then it must lie inside the box.
    wrap.scrollLeft = Math.max(0, bb.x * out.Scale - 10);
    if (!inView(n)) out.Unreachable++;
  });
  wrap.scrollLeft = start;
  return out;
})()`)
	if got.Nodes != nodes {
		b.t.Errorf("%s: the graph has %d nodes, want %d", what, got.Nodes, nodes)
	}
	if got.Clipped > 0 {
		b.t.Errorf("%s: %d nodes lie outside the drawing", what, got.Clipped)
	}
	if got.Unreachable > 0 {
		b.t.Errorf("%s: %d nodes cannot be scrolled into view in the graph's box", what, got.Unreachable)
	}
	if got.Scale < 0.85 {
		b.t.Errorf("%s: the graph is drawn at %.2f of its size; its text would be too small to read", what, got.Scale)
	}
	if got.WrapOverflow != "auto" && got.WrapOverflow != "scroll" {
		b.t.Errorf("%s: the graph's box has overflow-x %q, want it to scroll", what, got.WrapOverflow)
	}
	if got.Scrolls && !got.Hint {
		b.t.Errorf("%s: the graph scrolls sideways but no hint says so", what)
	}
	if !got.Scrolls && got.Hint {
		b.t.Errorf("%s: the graph fits, but the hint says it scrolls", what)
	}
	if !got.SelectedInView {
		b.t.Errorf("%s: the selected stage is not in view", what)
	}
	return got
}

// TestBrowserWideGraph: a pipeline of eight parallel branches and a long
// tail is drawn whole on the pipeline and execution pages, at a laptop's
// width and a phone's: the graph's box scrolls sideways, the page does
// not, and no node is cut.
func TestBrowserWideGraph(t *testing.T) {
	s := newTestServer(t, nil)
	b := newBrowser(t, s.URL)
	b.signIn(s, "/")
	s.apply(t, "hello", "wide", widePipeline())
	exec, err := s.client.Trigger(t.Context(), "hello", "wide", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s.waitExecution(t, exec.ID, "SUCCEEDED", func(e *apitype.Execution) bool { return e.Status == "SUCCEEDED" })
	const nodes = 1 + 16 + 1 + 4

	for _, vp := range viewports {
		b.setViewport(vp.width, vp.height, vp.mobile)
		b.open("/pipelines/hello/wide")
		b.waitFor("the graph", `!!document.querySelector('svg.graph')`)
		if g := b.graphShowsEveryNode("pipeline at "+vp.name, nodes); !g.Scrolls || !g.MoreRight {
			t.Errorf("pipeline at %s: a graph of seven columns scrolls = %v, marks more on the right = %v; want both", vp.name, g.Scrolls, g.MoreRight)
		}
		b.pageFits("pipeline at "+vp.name, vp.width)
		// Scrolled to its end, the graph marks more on the left, none on
		// the right.
		_ = eval[bool](b, `(() => { const w = document.querySelector('.graph-wrap'); w.scrollLeft = w.scrollWidth; return true; })()`)
		b.waitFor("the marks to follow the scroll", `(() => { const f = document.querySelector('.graph-frame'); return f.classList.contains('more-left') && !f.classList.contains('more-right'); })()`)

		b.open("/executions/" + exec.ID)
		b.waitFor("the graph", `!!document.querySelector('svg.graph .node')`)
		b.graphShowsEveryNode("execution at "+vp.name, nodes)
		b.pageFits("execution at "+vp.name, vp.width)
	}
	// Five stages in a row are a little wider than a 1280px window's
	// card: drawn a little smaller, they fit; on a phone they scroll.
	s.apply(t, "hello", "five", []byte(`{"application": "hello", "name": "five", "stages": [
  {"refId": "1", "type": "wait", "name": "One", "waitTime": 0},
  {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "Two", "waitTime": 0},
  {"refId": "3", "requisiteStageRefIds": ["2"], "type": "wait", "name": "Three", "waitTime": 0},
  {"refId": "4", "requisiteStageRefIds": ["3"], "type": "wait", "name": "Four", "waitTime": 0},
  {"refId": "5", "requisiteStageRefIds": ["4"], "type": "wait", "name": "Five", "waitTime": 0}]}`))
	for _, vp := range viewports {
		b.setViewport(vp.width, vp.height, vp.mobile)
		b.open("/pipelines/hello/five")
		b.waitFor("the graph", `!!document.querySelector('svg.graph')`)
		g := b.graphShowsEveryNode("five stages at "+vp.name, 5)
		if want := vp.width < 1000; g.Scrolls != want {
			t.Errorf("five stages at %s: the graph scrolls = %v, want %v", vp.name, g.Scrolls, want)
		}
		b.pageFits("five stages at "+vp.name, vp.width)
	}
	b.checkConsole()
}
