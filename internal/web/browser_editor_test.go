package web_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// orderedPipeline is written with its keys in no sorted order.
const orderedPipeline = `{
  "name": "ordered",
  "application": "hello",
  "stages": [
    {"type": "wait", "name": "Wait", "refId": "1", "waitTime": 1}
  ],
  "description": "keys as the author wrote them"
}`

// dialogs answers the page's dialogs — confirm and beforeunload — with
// the answer set, and records each one's type.
type dialogs struct {
	mu     sync.Mutex
	accept bool
	seen   []page.DialogType
}

func (b *browser) answerDialogs() *dialogs {
	d := &dialogs{}
	events := chromedp.Events(b.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			d.mu.Lock()
			d.seen = append(d.seen, ev.Type)
			accept := d.accept
			d.mu.Unlock()
			_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept})
		}
	}()
	return d
}

func (d *dialogs) set(accept bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.accept = accept
}

// wait waits until n dialogs have opened, and returns their types.
func (d *dialogs) wait(t *testing.T, n int) []page.DialogType {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got := d.types()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (d *dialogs) types() []page.DialogType {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]page.DialogType(nil), d.seen...)
}

// TestBrowserEditorKeepsKeyOrder: the document reads in the order its
// author wrote its keys — in JSON and in YAML, and after a save from the
// editor.
func TestBrowserEditorKeepsKeyOrder(t *testing.T) {
	s := newTestServer(t, nil)
	b := newBrowser(t, s.URL)
	b.signIn(s, "/")
	s.apply(t, "hello", "ordered", []byte(orderedPipeline))

	inOrder := func(what string, text string, parts ...string) {
		t.Helper()
		at, prev := -1, ""
		for _, p := range parts {
			i := strings.Index(text, p)
			if i <= at {
				t.Errorf("%s: %q is not after %q in\n%s", what, p, prev, text)
				return
			}
			at, prev = i, p
		}
	}
	b.open("/pipelines/hello/ordered")
	b.waitFor("the document", `document.body.dataset.enhanced === '1'`)
	doc := eval[string](b, `document.querySelector('#doc-text').value`)
	inOrder("JSON", doc, `"name": "ordered"`, `"application": "hello"`, `"stages"`, `"type": "wait"`, `"name": "Wait"`, `"refId": "1"`, `"waitTime": 1`, `"description"`)

	b.open("/pipelines/hello/ordered?format=yaml")
	b.waitFor("the document", `document.body.dataset.enhanced === '1'`)
	doc = eval[string](b, `document.querySelector('#doc-text').value`)
	inOrder("YAML", doc, "name: ordered\n", "application: hello\n", "stages:\n", "- type: wait\n", "  name: Wait\n", "  refId: \"1\"\n", "description:")

	// Saved from the editor (YAML), the order is still the author's.
	_ = eval[bool](b, `(() => { const ta = document.querySelector('#doc-text'); ta.value = ta.value.replace('waitTime: 1', 'waitTime: 2'); ta.dispatchEvent(new Event('input')); return true; })()`)
	b.waitLoad("save", chromedp.Click(chromedp.ID("doc-save")))
	b.waitFor("revision 2", `document.querySelector('.page-head .meta').textContent.includes('Revision 2')`)
	b.open("/pipelines/hello/ordered")
	b.waitFor("the document", `document.body.dataset.enhanced === '1'`)
	doc = eval[string](b, `document.querySelector('#doc-text').value`)
	inOrder("JSON after a YAML save", doc, `"name": "ordered"`, `"application": "hello"`, `"stages"`, `"type": "wait"`, `"name": "Wait"`, `"refId": "1"`, `"waitTime": 2`, `"description"`)
	b.checkConsole()
}

// TestBrowserEditorWarnsBeforeDiscarding: with unsaved edits, a link of
// the console asks before leaving (and stays when told to), and so does
// the browser's own navigation; without edits nothing asks.
func TestBrowserEditorWarnsBeforeDiscarding(t *testing.T) {
	s := newTestServer(t, nil)
	b := newBrowser(t, s.URL)
	b.signIn(s, "/")
	s.apply(t, "hello", "ordered", []byte(orderedPipeline))
	d := b.answerDialogs()

	// No edits: the format toggle leaves without a question.
	b.open("/pipelines/hello/ordered")
	b.waitFor("the document", `document.body.dataset.enhanced === '1'`)
	b.waitLoad("show YAML", chromedp.Click(chromedp.CSS(`nav.toggle a[href*="format=yaml"]`)))
	b.waitFor("the YAML", `document.querySelector('#doc-form').dataset.format === 'yaml'`)
	if got := d.types(); len(got) != 0 {
		t.Errorf("without edits, leaving asked %v", got)
	}

	// An edit, typed; the toggle asks, and No stays with the edit.
	b.do("type", chromedp.SendKeys(chromedp.ID("doc-text"), "# a comment"+kb.Enter))
	b.waitFor("the edit to count", `document.querySelector('#doc-form').dataset.unsaved === '1'`)
	d.set(false)
	b.do("click JSON", chromedp.Click(chromedp.CSS(`nav.toggle a[aria-current]:not([href*="format=yaml"]), nav.toggle a:not([href*="format=yaml"])`)))
	if got := d.wait(t, 1); len(got) != 1 || got[0] != page.DialogTypeConfirm {
		t.Fatalf("leaving with edits asked %v, want one confirm", got)
	}
	if got := eval[string](b, `document.querySelector('#doc-form').dataset.format + ' ' + document.querySelector('#doc-text').value.includes('# a comment')`); got != "yaml true" {
		t.Errorf("after No: format and edit kept = %q, want yaml true", got)
	}

	// Yes leaves, without asking again.
	d.set(true)
	b.waitLoad("click JSON", chromedp.Click(chromedp.CSS(`nav.toggle a:not([href*="format=yaml"])`)))
	b.waitFor("the JSON", `document.querySelector('#doc-form') && document.querySelector('#doc-form').dataset.format === 'json'`)
	if got := d.types(); len(got) != 2 || got[1] != page.DialogTypeConfirm {
		t.Errorf("leaving with edits, told yes, asked %v, want two confirms", got)
	}

	// The browser's own navigation (here, to another page) asks too.
	b.do("type", chromedp.SendKeys(chromedp.ID("doc-text"), " "))
	b.waitFor("the edit to count", `document.querySelector('#doc-form').dataset.unsaved === '1'`)
	b.open("/executions")
	b.waitFor("the executions page", `location.pathname === '/executions'`)
	if got := d.wait(t, 3); len(got) != 3 || got[2] != page.DialogTypeBeforeunload {
		t.Errorf("navigating away with edits asked %v, want a beforeunload last", got)
	}
	b.checkConsole()
}
