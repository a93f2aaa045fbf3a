package web_test

import (
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
