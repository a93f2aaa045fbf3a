package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// TestBrowserExecutionsSearch: the executions list shows each run's
// trigger parameters, and finds a run by them — typed into the search, or
// by clicking a parameter — with the other filters kept.
func TestBrowserExecutionsSearch(t *testing.T) {
	s := newTestServer(t, nil)
	b := newBrowser(t, s.URL)
	b.signIn(s, "/")
	s.apply(t, "hello", "versioned", []byte(`{
  "application": "hello", "name": "versioned",
  "parameterConfig": [{"name": "version"}, {"name": "region", "default": "eu"}],
  "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]
}`))
	s.apply(t, "other", "versioned", []byte(`{
  "application": "other", "name": "versioned",
  "parameterConfig": [{"name": "version"}],
  "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]
}`))
	ids := map[string]string{}
	for _, run := range []struct{ app, version string }{{"hello", "v1"}, {"hello", "v2"}, {"hello", "v20"}, {"other", "v2"}} {
		e, err := s.client.Trigger(t.Context(), run.app, "versioned", apitype.TriggerRequest{Parameters: map[string]any{"version": run.version}})
		if err != nil {
			t.Fatal(err)
		}
		ids[run.app+"/"+run.version] = e.ID
	}
	rows := func() []string {
		return eval[[]string](b, `[...document.querySelectorAll('#executions tbody tr')].map((r) => r.id.replace('exec-', ''))`)
	}

	b.open("/executions?application=hello")
	b.waitFor("the list", `document.body.dataset.enhanced === '1' && document.querySelectorAll('#executions tbody tr').length === 3`)
	if got := b.text("#exec-" + ids["hello/v2"] + " .params"); !strings.Contains(got, "version=v2") || !strings.Contains(got, "region=eu") {
		t.Errorf("the v2 row's parameters = %q, want version=v2 and region=eu", got)
	}

	// Typed into the search, with the application filter kept.
	b.do("type a search", chromedp.SendKeys(chromedp.ID("f-q"), "version=v2"))
	b.waitLoad("search", chromedp.SendKeys(chromedp.ID("f-q"), kb.Enter))
	b.waitFor("the result", `document.querySelectorAll('#executions tbody tr').length === 1`)
	if got := rows(); len(got) != 1 || got[0] != ids["hello/v2"] {
		t.Errorf("hello, version=v2 lists %v, want only %s", got, ids["hello/v2"])
	}
	if got := eval[string](b, `document.querySelector('#f-q').value`); got != "version=v2" {
		t.Errorf("the search box holds %q after the search, want version=v2", got)
	}
	if got := b.text("h1"); !strings.Contains(got, "matching") {
		t.Errorf("heading = %q, want it to say what it matches", got)
	}
	b.pageFits("search result", 1280)

	// A free word matches a part of the parameters: v2 and v20.
	b.open("/executions?q=V2")
	b.waitFor("the result", `document.querySelectorAll('#executions tbody tr').length === 3`)

	// A parameter links to the pipeline's runs with the same value.
	b.open("/executions")
	b.waitFor("the list", `document.querySelectorAll('#executions tbody tr').length === 4`)
	b.waitLoad("click version=v1", chromedp.Click(chromedp.CSS(`#exec-`+ids["hello/v1"]+` a.param[href*="q=version"]`)))
	b.waitFor("the runs with v1", `document.querySelectorAll('#executions tbody tr').length === 1`)
	if got := rows(); len(got) != 1 || got[0] != ids["hello/v1"] {
		t.Errorf("the v1 link lists %v, want only %s", got, ids["hello/v1"])
	}
	if got := eval[string](b, `document.querySelector('#f-app').value + '/' + document.querySelector('#f-pipeline').value + ' ' + document.querySelector('#f-q').value`); got != "hello/versioned version=v1" {
		t.Errorf("filters after the link = %q, want hello/versioned version=v1", got)
	}

	b.setViewport(390, 844, true)
	b.open("/executions")
	b.waitFor("the list", `document.querySelectorAll('#executions tbody tr').length === 4`)
	b.pageFits("executions at 390px", 390)
	b.checkConsole()
}
