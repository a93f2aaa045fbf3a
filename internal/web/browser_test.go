package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/functions"
	"github.com/sluice-cd/sluice/internal/locallambda"
	"github.com/sluice-cd/sluice/internal/locallambda/locallambdatest"
)

// The console in a real browser: Debian's Chromium, headless, driven over
// the DevTools protocol by chromedp. Each test runs a whole Sluice in this
// process and uses the pages as a person would — clicking, typing, waiting
// for what the page shows. Nothing waits by sleeping: every wait is for a
// state of the DOM, with a deadline.
//
// With SLUICE_SCREENSHOTS=1 the tests save PNG screenshots of the pages to
// docs/screenshots/, which the README shows.

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// waitTimeout bounds every wait for the page.
const waitTimeout = 30 * time.Second

type browser struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	problems []string
	allowed  []string
}

// allowConsole lets console errors that contain substr pass: a page that
// shows an API's error answer also makes the browser log the response.
func (b *browser) allowConsole(substr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allowed = append(b.allowed, substr)
}

// newBrowser starts Chromium for one test, or skips the test when it is not
// installed.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests do not run with -short")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser tests need Chromium at %s (apt-get install -y chromium): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// On a machine without a network Chromium's own background
		// connections fail, and the pages' do too unless these are off.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, base: base}
	// The first action starts the browser; its life is ctx's.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Every script error and every resource the page fails to load (a
	// Content-Security-Policy violation among them) fails the test.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()
	// Show times in a zone that is not UTC, to see them converted.
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Berlin"}); err != nil {
		t.Fatalf("set time zone: %v", err)
	}
	return b
}

// do runs actions, failing the test on the first error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := chromedp.Do(ctx, actions...)
		// A live update may replace the element between finding it and
		// acting on it; find it again, as a person would.
		if err != nil && attempt < 5 && strings.Contains(err.Error(), "Could not find node with given id") {
			continue
		}
		if err != nil {
			b.fail(what, err)
		}
		return
	}
}

// open loads a page of the server.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

// waitFor waits until the JavaScript expression is true, checking on every
// change of the DOM.
func (b *browser) waitFor(what, expression string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	err := retryStale(ctx, func() error {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expression, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(waitTimeout)))
		return err
	})
	if err != nil {
		b.fail("wait for "+what, err)
	}
}

// retryStale runs f until it does not fail for a stale JavaScript context,
// or ctx ends. chromedp learns of a new page's context from an event that
// may come after the page's load event, which ends a navigation; an action
// run between the two names the old page's context.
func retryStale(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil || !strings.Contains(err.Error(), "Cannot find context with specified id") || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitLoad runs an action that navigates and waits for the new page.
func (b *browser) waitLoad(what string, action chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, action)); err != nil {
		b.fail(what, err)
	}
}

// signIn opens a one-time login link, as `sluice serve` prints one, which
// opens an admin session and lands on next.
func (b *browser) signIn(s *testServer, next string) {
	b.t.Helper()
	link, err := s.client.CreateLoginLink(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	b.open(link.Path + "&next=" + url.QueryEscape(next))
}

// eval evaluates a JavaScript expression; with chromedp.EvalAwaitPromise,
// the value of the promise it returns.
func eval[T any](b *browser, expression string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	var v T
	err := retryStale(ctx, func() (err error) {
		v, err = chromedp.Run(ctx, chromedp.Evaluate[T](expression, opts...))
		return err
	})
	if err != nil {
		b.fail("evaluate "+expression, err)
	}
	return v
}

// text returns the text of the first element the CSS selector matches.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent.trim()`, sel))
}

// fail ends the test with what the page showed.
func (b *browser) fail(what string, err error) {
	b.t.Helper()
	tctx, tcancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer tcancel()
	url, _ := chromedp.Run(tctx, chromedp.Location())
	body, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`document.querySelector("main") ? document.querySelector("main").innerText : ""`))
	b.t.Fatalf("%s: %v\npage %s shows:\n%.3000s", what, err, url, body)
}

// checkConsole fails the test for every error the pages logged.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		if !slices.ContainsFunc(b.allowed, func(a string) bool { return strings.Contains(p, a) }) {
			b.t.Errorf("browser console: %s", p)
		}
	}
	b.problems = nil
}

// screenshot saves the whole page as docs/screenshots/<name>.png when
// SLUICE_SCREENSHOTS=1.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if os.Getenv("SLUICE_SCREENSHOTS") != "1" {
		return
	}
	// No focus ring or caret in the picture.
	_ = eval[bool](b, `(document.activeElement && document.activeElement.blur && document.activeElement.blur(), true)`)
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// TestBrowserReleaseWithJudgment runs the hello-judgment example from the
// Applications page: the Run form, the live graph, the judgment.
func TestBrowserReleaseWithJudgment(t *testing.T) {
	s := newTestServer(t, nil)
	b := newBrowser(t, s.URL)
	b.signIn(s, "/")
	s.applyExample(t, "hello-judgment.json")

	b.open("/")
	b.waitFor("the pipeline listed", `!!document.querySelector('li[data-pipeline="hello/first-release"]') && document.body.dataset.enhanced === '1'`)
	if got := b.text(`li[data-pipeline="hello/first-release"] .pl-last`); got != "Never run" {
		t.Errorf("last execution = %q, want Never run", got)
	}
	// Times are shown in the viewer's zone (Europe/Berlin here), the UTC
	// text kept as the title.
	if ok := eval[bool](b, `(() => { const t = document.querySelector('time[data-local]'); return !!t && t.title.endsWith('UTC') && t.textContent !== t.title && /GMT\+|CET|CEST/.test(t.textContent); })()`); !ok {
		t.Errorf("times are not shown in the viewer's zone: %q", eval[string](b, `document.querySelector('time') ? document.querySelector('time').outerHTML : ''`))
	}

	// Who acts is the session's principal: the login link's, admin.
	if got := b.text("#who-name"); !strings.Contains(got, "Signed in as admin") {
		t.Errorf("the layout says %q, want who is signed in", got)
	}
	b.do("open the Run form", chromedp.Click(chromedp.CSS(`li[data-pipeline="hello/first-release"] details.run > summary`)))
	b.waitFor("the parameters form", `(() => { const f = document.querySelector('#run0-p0'); return !!f && f.offsetParent !== null && f.value === 'v2'; })()`)
	// An empty required parameter is refused next to the field.
	_ = eval[bool](b, `(document.querySelector('#run0-p0').value = '', true)`)
	b.do("run without a version", chromedp.Click(chromedp.CSS(`#run0 button[type=submit]`)))
	b.waitFor("the field error", `document.querySelector('#run0 output[data-error-for="parameters.version"]').textContent.includes('Required')`)
	b.do("type a version", chromedp.SendKeys(chromedp.ID("run0-p0"), "v3"))
	b.screenshot("run-form")
	b.waitLoad("run the pipeline", chromedp.Click(chromedp.CSS(`#run0 button[type=submit]`)))

	loc := eval[string](b, `location.pathname`)
	id, ok := strings.CutPrefix(loc, "/executions/")
	if !ok {
		t.Fatalf("after Run the browser is at %s, want /executions/{id}", loc)
	}
	// From here the page must update itself: a reload would lose this.
	_ = eval[bool](b, `window.__sameDocument = true`)
	b.waitFor("Plan to succeed", `document.querySelector('#node-1').dataset.status === 'SUCCEEDED'`)
	b.waitFor("Bake and Check to succeed", `document.querySelector('#node-2').dataset.status === 'SUCCEEDED' && document.querySelector('#node-3').dataset.status === 'SUCCEEDED'`)
	b.waitFor("the judgment panel", `!!document.querySelector('#judgment-4 input[value="promote"]')`)
	if got := b.text("section.judgment .instructions"); got != "Promote hello-v3 to 100% of traffic, or roll it back?" {
		t.Errorf("instructions = %q", got)
	}
	if got := b.text("#node-4 .node-status"); got != "RUNNING" {
		t.Errorf("Approve shows %q, want RUNNING", got)
	}
	b.screenshot("execution-judgment")

	b.do("choose promote", chromedp.Click(chromedp.CSS(`#judgment-4 input[value="promote"]`)))
	b.do("continue", chromedp.Click(chromedp.CSS(`#judgment-4 button[value="continue"]`)))
	b.waitFor("the execution to succeed", `document.querySelector('#exec-status').dataset.status === 'SUCCEEDED'`)
	b.waitFor("Promote ran and Roll back was skipped", `document.querySelector('#node-5').dataset.status === 'SUCCEEDED' && document.querySelector('#node-6').dataset.status === 'SKIPPED'`)
	if !eval[bool](b, `window.__sameDocument === true`) {
		t.Error("the execution page reloaded; it should update in place")
	}
	if eval[bool](b, `!!document.querySelector('#judgment-4')`) {
		t.Error("the judgment panel is still there")
	}
	b.screenshot("execution-succeeded")

	e, err := s.client.GetExecution(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var trig struct {
		User       string         `json:"user"`
		Parameters map[string]any `json:"parameters"`
	}
	_ = json.Unmarshal(e.Trigger, &trig)
	if trig.User != "admin" || trig.Parameters["version"] != "v3" {
		t.Errorf("trigger = %s, want user admin and version v3", e.Trigger)
	}
	for _, st := range e.Stages {
		if st.RefID != "4" {
			continue
		}
		var ctx map[string]any
		_ = json.Unmarshal(st.Context, &ctx)
		if ctx["judgmentInput"] != "promote" || ctx["lastModifiedBy"] != "admin" {
			t.Errorf("judgment context = %s, want promote by admin", st.Context)
		}
	}

	// The stage panel of a chosen stage, reached by keyboard: the graph's
	// stages are links.
	b.waitLoad("open the judgment stage", chromedp.Click(chromedp.CSS(`#node-4`)))
	b.waitFor("the judgment's panel", `document.querySelector('#stage-panel [data-stage]').dataset.stage === '4'`)
	if got := b.text("#stage-panel"); !strings.Contains(got, "promote") || !strings.Contains(got, "admin") || !strings.Contains(got, "waitForJudgment") {
		t.Errorf("the stage panel lacks the judgment: %q", got)
	}

	// The Applications page follows every execution: another pipeline
	// fails and a new run waits for its judgment, and the page shows both
	// without a reload.
	s.apply(t, "hello", "broken", []byte(failingPipeline))
	b.open("/")
	b.waitFor("the last execution", `!!document.querySelector('li[data-pipeline="hello/first-release"] .pl-last [data-status="SUCCEEDED"]') && document.body.dataset.enhanced === '1'`)
	_ = eval[bool](b, `window.__sameDocument = true`)
	ctx := context.Background()
	if _, err := s.client.Trigger(ctx, "hello", "broken", apitype.TriggerRequest{}); err != nil {
		t.Fatal(err)
	}
	waiting, err := s.client.Trigger(ctx, "hello", "first-release", apitype.TriggerRequest{Parameters: map[string]any{"version": "v4"}})
	if err != nil {
		t.Fatal(err)
	}
	b.waitFor("the failure to show", `!!document.querySelector('li[data-pipeline="hello/broken"] .pl-last [data-status="TERMINAL"]')`)
	b.waitFor("the new run to show", `!!document.querySelector('li[data-pipeline="hello/first-release"] .pl-last [data-status="RUNNING"]')`)
	if !eval[bool](b, `window.__sameDocument === true`) {
		t.Error("the Applications page reloaded; it should update in place")
	}
	s.waitExecution(t, waiting.ID, "the judgment", stageIs("4", "RUNNING"))
	b.screenshot("applications")

	b.open("/executions?application=hello")
	b.waitFor("the executions list", `!!document.querySelector('#exec-`+id+`') && !!document.querySelector('#exec-`+waiting.ID+`')`)
	b.screenshot("executions")

	// At phone width the page still reads: nothing wider than the screen
	// but the graph, which scrolls in its own box.
	b.do("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.open("/executions/" + id)
	b.waitFor("the execution", `document.querySelector('#exec-status').dataset.status === 'SUCCEEDED'`)
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("at 390px the page is %dpx wide", w)
	}
	b.screenshot("execution-phone")
	b.do("desktop width", chromedp.EmulateReset())
	b.checkConsole()
}

// TestBrowserFailedStage runs a pipeline whose precondition fails, from the
// pipeline page, and reads the error on the stage.
func TestBrowserFailedStage(t *testing.T) {
	s := newTestServer(t, nil)
	b := newBrowser(t, s.URL)
	b.signIn(s, "/")
	s.apply(t, "hello", "broken", []byte(failingPipeline))

	b.open("/pipelines/hello/broken")
	b.waitFor("the page", `document.body.dataset.enhanced === '1'`)
	// By keyboard: Enter on the Run button opens the form, Enter on its
	// submit button runs the pipeline.
	b.do("open the Run form", chromedp.SendKeys(chromedp.CSS(`#run > summary`), kb.Enter))
	b.waitFor("the form", `document.querySelector('#run').open`)
	b.waitLoad("run", chromedp.SendKeys(chromedp.CSS(`#run button[type=submit]`), kb.Enter))
	b.waitFor("the execution to fail", `document.querySelector('#exec-status').dataset.status === 'TERMINAL'`)
	b.waitFor("the error on the stage", `document.querySelector('#node-2').dataset.status === 'TERMINAL' && !!document.querySelector('#stage-panel .stage-error')`)
	if got := b.text("#stage-panel .stage-error"); !strings.Contains(got, "expression ${ready == true} is false, not true") {
		t.Errorf("stage error = %q", got)
	}
	b.screenshot("execution-failed")
	b.checkConsole()
}

// TestBrowserPipelineEditor validates a broken document on the page, finds
// the problem at its path, saves a fixed one and compares the revisions.
func TestBrowserPipelineEditor(t *testing.T) {
	s := newTestServer(t, nil)
	b := newBrowser(t, s.URL)
	b.signIn(s, "/")
	s.applyExample(t, "hello-judgment.json")

	b.allowConsole("/api/v1/pipelines/validate") // the 400 of an invalid document
	b.open("/pipelines/hello/first-release")
	b.waitFor("the document", `document.body.dataset.enhanced === '1' && document.querySelector('#doc-text').value.includes('"waitTime": 2')`)
	b.screenshot("pipeline")

	_ = eval[bool](b, `(() => { const ta = document.querySelector('#doc-text'); ta.value = ta.value.replace('"waitTime": 2', '"waitTime": "soon"'); return true; })()`)
	b.do("validate", chromedp.Click(chromedp.ID("doc-validate")))
	b.waitFor("the problems", `!document.querySelector('#doc-problems').hidden`)
	list := b.text("#doc-problems-list")
	if !strings.Contains(list, "stages[1].waitTime") {
		t.Fatalf("problems = %q, want one at stages[1].waitTime", list)
	}
	b.do("show the problem", chromedp.Click(chromedp.CSS(`#doc-problems-list button.path`)))
	if sel := eval[string](b, `(() => { const ta = document.querySelector('#doc-text'); return ta.value.slice(ta.selectionStart, ta.selectionEnd); })()`); !strings.Contains(sel, `"waitTime": "soon"`) {
		t.Errorf("the path selects %q, want the waitTime line", sel)
	}
	// A document with problems is not saved.
	b.do("try to save", chromedp.Click(chromedp.ID("doc-save")))
	b.waitFor("the problems again", `!document.querySelector('#doc-problems').hidden`)
	if revs, _ := s.client.ListRevisions(context.Background(), "hello", "first-release"); len(revs) != 1 {
		t.Errorf("an invalid document was saved: %d revisions", len(revs))
	}
	b.screenshot("pipeline-invalid")

	_ = eval[bool](b, `(() => { const ta = document.querySelector('#doc-text'); ta.value = ta.value.replace('"waitTime": "soon"', '"waitTime": 5'); return true; })()`)
	b.waitLoad("save", chromedp.Click(chromedp.ID("doc-save")))
	b.waitFor("revision 2", `document.querySelector('.page-head .meta').textContent.includes('Revision 2')`)

	b.open("/pipelines/hello/first-release?from=1&to=2#revisions")
	b.waitFor("the diff", `!!document.querySelector('#diff tr.add')`)
	if got := b.text("#diff tr.add"); !strings.Contains(got, `"waitTime": 5`) {
		t.Errorf("added line = %q", got)
	}
	if got := b.text("#diff tr.del"); !strings.Contains(got, `"waitTime": 2`) {
		t.Errorf("deleted line = %q", got)
	}
	_ = eval[bool](b, `(document.querySelector('#revisions').scrollIntoView(), true)`)
	b.screenshot("pipeline-diff")
	b.checkConsole()
}

// TestBrowserPipelineEditorWarnings: a document with a misspelled key is
// valid; the editor shows the warning at its line, apart from problems,
// and saving keeps it on screen.
func TestBrowserPipelineEditorWarnings(t *testing.T) {
	s := newTestServer(t, nil)
	b := newBrowser(t, s.URL)
	b.signIn(s, "/")
	s.applyExample(t, "hello-judgment.json")

	b.open("/pipelines/hello/first-release")
	b.waitFor("the document", `document.body.dataset.enhanced === '1' && document.querySelector('#doc-text').value.includes('"waitTime": 2')`)
	_ = eval[bool](b, `(() => { const ta = document.querySelector('#doc-text'); ta.value = ta.value.replace('"waitTime": 2', '"waitTiem": 3, "waitTime": 2'); return true; })()`)
	b.do("validate", chromedp.Click(chromedp.ID("doc-validate")))
	b.waitFor("the warnings", `!document.querySelector('#doc-problems').hidden`)
	if got := b.text("#doc-result"); !strings.HasPrefix(got, "Valid: ") {
		t.Errorf("result = %q, want Valid: …", got)
	}
	if !eval[bool](b, `document.querySelector('#doc-problems').classList.contains('warnings')`) {
		t.Error("the box is not marked as warnings")
	}
	if got := b.text("#doc-problems-msg"); !strings.HasPrefix(got, "1 warning:") {
		t.Errorf("message = %q, want 1 warning: …", got)
	}
	if got := b.text("#doc-problems-list"); !strings.Contains(got, "stages[1].waitTiem (line ") || !strings.Contains(got, "unknown field; did you mean waitTime?") {
		t.Errorf("warnings = %q, want the one at stages[1].waitTiem with its line", got)
	}
	b.do("show the warning", chromedp.Click(chromedp.CSS(`#doc-problems-list button.path`)))
	if sel := eval[string](b, `(() => { const ta = document.querySelector('#doc-text'); return ta.value.slice(ta.selectionStart, ta.selectionEnd); })()`); !strings.Contains(sel, `"waitTiem": 3`) {
		t.Errorf("the path selects %q, want the waitTiem line", sel)
	}
	b.screenshot("pipeline-warnings")

	// Warnings do not stop a save, and stay on screen after it.
	b.do("save", chromedp.Click(chromedp.ID("doc-save")))
	b.waitFor("the save", `document.querySelector('#doc-result').textContent.startsWith('Saved revision 2.')`)
	if got := b.text("#doc-problems-list"); !strings.Contains(got, "stages[1].waitTiem") {
		t.Errorf("after the save, warnings = %q, want the waitTiem one", got)
	}
	if revs, _ := s.client.ListRevisions(context.Background(), "hello", "first-release"); len(revs) != 2 {
		t.Errorf("revisions = %d, want 2", len(revs))
	}
	b.checkConsole()
}

// TestBrowserRollbackAnswerIsShown: Roll back, offered on a finished
// execution whose Route stage recorded how to undo it, asks the API, and
// its answer — here, that the execution was rolled back meanwhile — is
// shown next to the button. An execution with nothing to undo does not
// offer it.
func TestBrowserRollbackAnswerIsShown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function")
	}
	lam := newLocalLambda(t)
	s := newTestServerWith(t, serverOptions{accounts: lam.accounts})
	v1, _ := lam.deployTwoVersions(t, "hello-steer")
	lam.route(t, "hello-steer", "live", v1, nil)
	s.apply(t, "hello", "route", []byte(`{"application": "hello", "name": "route", "stages": [{
		"refId": "1", "type": "Aws.LambdaTrafficRoutingStage", "name": "Route",
		"account": "local", "region": "us-east-1", "functionName": "hello-steer", "aliasName": "live",
		"deploymentStrategy": "$SIMPLE", "versionNameA": "$LATEST"}]}`))
	exec, err := s.client.Trigger(context.Background(), "hello", "route", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s.waitExecution(t, exec.ID, "SUCCEEDED", func(e *apitype.Execution) bool { return e.Status.Complete() })
	s.apply(t, "hello", "broken", []byte(failingPipeline))
	broken, err := s.client.Trigger(context.Background(), "hello", "broken", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s.waitExecution(t, broken.ID, "TERMINAL", func(e *apitype.Execution) bool { return e.Status == "TERMINAL" })

	b := newBrowser(t, s.URL)
	b.signIn(s, "/executions/"+broken.ID)
	b.waitFor("the page", `document.body.dataset.enhanced === '1'`)
	if eval[bool](b, `!!document.getElementById('act-rollback')`) {
		t.Error("an execution with nothing to undo offers Roll back")
	}
	// A page that has not caught up: its event stream cannot connect, so
	// the rollback below reaches the API but not the page, which would
	// otherwise refresh and stop offering Roll back.
	if _, err := chromedp.Call(b.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/api/v1/executions/*/events", Block: true}}}); err != nil {
		t.Fatal(err)
	}
	b.allowConsole("/events")
	b.open("/executions/" + exec.ID)
	b.waitFor("the page", `document.body.dataset.enhanced === '1' && !!document.getElementById('act-rollback')`)
	// Nor can it refresh itself: a stream that fails makes the page fetch
	// itself once, and that fetch, landing after the rollback, would take
	// Roll back away. Wait for that fetch (if the browser gave the stream
	// up; it may keep reconnecting instead), then block the page's URL.
	b.waitFor("the event stream to fail", `(() => {
		const s = document.getElementById('live-state').textContent;
		return s.includes('stopped') ? Number(document.body.dataset.refreshed) >= 1 : s.includes('Reconnecting');
	})()`)
	if _, err := chromedp.Call(b.ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{
		{URLPattern: "*://*:*/api/v1/executions/*/events", Block: true},
		{URLPattern: "*://*:*/executions/" + exec.ID, Block: true},
	}}); err != nil {
		t.Fatal(err)
	}
	b.allowConsole("/executions/" + exec.ID)
	// Someone else rolls it back while the page is open.
	if _, err := s.client.Rollback(context.Background(), exec.ID); err != nil {
		t.Fatal(err)
	}
	// The rollback runs the execution again until its restore is done; the
	// page's Roll back is answered "already rolled back" only after that
	// (while it runs the answer is that the execution is running).
	s.waitExecution(t, exec.ID, "complete after its rollback", func(e *apitype.Execution) bool {
		return e.Status.Complete()
	})
	// Accept the confirmation dialog.
	dialogs := chromedp.Events(b.ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	b.do("roll back", chromedp.Click(chromedp.ID("act-rollback")))
	b.waitFor("the answer", `document.querySelector('output[for="act-rollback"]').textContent.length > 0`)
	got := b.text(`output[for="act-rollback"]`)
	if !strings.Contains(got, "already rolled back") {
		t.Errorf("next to Roll back: %q", got)
	}
	b.allowConsole("/rollback") // the API's answer, which the page showed
	b.checkConsole()
}

// TestBrowserFunctions deploys the hello example to a real local Lambda
// (two versions, an alias sending 10% to the new one), invokes it, and reads
// the Functions page; then the alias moves to 100% and the page follows.
func TestBrowserFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function")
	}
	lam := newLocalLambda(t)
	s := newTestServer(t, functions.New(functions.Config{Accounts: lam.accounts, LocalLambdaURL: lam.url}))
	b := newBrowser(t, s.URL)
	b.signIn(s, "/")
	v1, v2 := lam.deployTwoVersions(t, "hello")
	lam.route(t, "hello", "live", v1, map[string]float64{v2: 0.1})
	for range 40 {
		lam.invoke(t, "hello", "live")
	}

	b.open("/functions")
	b.waitFor("the alias", `!!document.querySelector('#fn-hello .alias[data-alias="live"]') && document.body.dataset.enhanced === '1'`)
	if got, want := b.text(`#fn-hello .alias[data-alias="live"] .traffic-text`), "v1 90% · v2 10%"; got != want {
		t.Errorf("traffic = %q, want %q", got, want)
	}
	// Every invocation is counted on the version that ran it.
	total := eval[int](b, `[...document.querySelectorAll('#fn-hello td[data-invocations]')].reduce((n, td) => n + Number(td.dataset.invocations), 0)`)
	if total != 40 {
		t.Errorf("the versions count %d invocations, want 40", total)
	}
	b.screenshot("functions")

	lam.route(t, "hello", "live", v2, nil)
	b.waitFor("the alias at 100%", `document.querySelector('#fn-hello .alias[data-alias="live"] .traffic-text').textContent.trim() === 'v2 100%'`)
	b.checkConsole()
}

// localLambda is the embedded local Lambda and the local account's SDK
// clients.
type localLambda struct {
	url      string
	accounts *awsclient.Accounts
	lambda   *lambda.Client
}

func newLocalLambda(t *testing.T) *localLambda {
	t.Helper()
	srv := locallambdatest.Start(t, locallambda.Config{})
	accounts := locallambdatest.Accounts(t, srv)
	local, err := accounts.Get(awsclient.LocalName)
	if err != nil {
		t.Fatal(err)
	}
	return &localLambda{url: srv.URL(), accounts: accounts, lambda: local.Lambda}
}

// deployTwoVersions creates the function from the hello example and
// publishes two versions that say v1 and v2.
func (l *localLambda) deployTwoVersions(t *testing.T, name string) (v1, v2 string) {
	t.Helper()
	ctx := context.Background()
	zip, err := fnbuild.Zip(ctx, filepath.Join("..", ".."), "./examples/functions/hello")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName:  aws.String(name),
		Role:          aws.String("arn:aws:iam::000000000000:role/lambda"),
		Runtime:       lambdatypes.RuntimeProvidedal2023,
		Handler:       aws.String("bootstrap"),
		Architectures: []lambdatypes.Architecture{lambdatypes.Architecture(fnbuild.Architecture())},
		Code:          &lambdatypes.FunctionCode{ZipFile: zip},
		Description:   aws.String("the example function"),
		Environment:   &lambdatypes.Environment{Variables: map[string]string{"HELLO_VERSION": "v1"}},
	}); err != nil {
		t.Fatal(err)
	}
	l.waitUpdated(t, name)
	v1 = l.publish(t, name, "first release")
	if _, err := l.lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name),
		Environment:  &lambdatypes.Environment{Variables: map[string]string{"HELLO_VERSION": "v2"}},
	}); err != nil {
		t.Fatal(err)
	}
	l.waitUpdated(t, name)
	v2 = l.publish(t, name, "second release")
	return v1, v2
}

func (l *localLambda) waitUpdated(t *testing.T, name string) {
	t.Helper()
	w := lambda.NewFunctionUpdatedV2Waiter(l.lambda, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 100*time.Millisecond
	})
	if err := w.Wait(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, waitTimeout); err != nil {
		t.Fatal(err)
	}
}

func (l *localLambda) publish(t *testing.T, name, description string) string {
	t.Helper()
	out, err := l.lambda.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String(name), Description: aws.String(description)})
	if err != nil {
		t.Fatal(err)
	}
	w := lambda.NewPublishedVersionActiveWaiter(l.lambda, func(o *lambda.PublishedVersionActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 100*time.Millisecond
	})
	in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name), Qualifier: out.Version}
	if err := w.Wait(context.Background(), in, waitTimeout); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Version)
}

// route points an alias at version, with weights to others; it creates
// the alias the first time.
func (l *localLambda) route(t *testing.T, name, alias, version string, weights map[string]float64) {
	t.Helper()
	ctx := context.Background()
	rc := &lambdatypes.AliasRoutingConfiguration{AdditionalVersionWeights: weights}
	if weights == nil {
		rc.AdditionalVersionWeights = map[string]float64{}
	}
	_, err := l.lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(name), Name: aws.String(alias), FunctionVersion: aws.String(version), RoutingConfig: rc})
	var nf *lambdatypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		_, err = l.lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(name), Name: aws.String(alias), FunctionVersion: aws.String(version), RoutingConfig: rc})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (l *localLambda) invoke(t *testing.T, name, qualifier string) {
	t.Helper()
	out, err := l.lambda.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), Qualifier: aws.String(qualifier), Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.FunctionError != nil {
		t.Fatalf("invoke %s:%s: %s: %s", name, qualifier, aws.ToString(out.FunctionError), out.Payload)
	}
}

// TestBrowserCanaryRelease runs examples/pipelines/canary-release.json
// against the local Lambda: the first release goes to 100%; the second,
// run from the pipeline page's Run form, takes 10% of the alias's traffic,
// which the Functions page shows; it is promoted from the page, and the
// alias reaches 100%.
func TestBrowserCanaryRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function")
	}
	lam := newLocalLambda(t)
	s := newTestServerWith(t, serverOptions{
		accounts:       lam.accounts,
		localLambdaURL: lam.url,
		functions:      functions.New(functions.Config{Accounts: lam.accounts, LocalLambdaURL: lam.url}),
	})
	b := newBrowser(t, s.URL)
	b.signIn(s, "/")
	ctx := context.Background()
	lam.uploadHello(t, "sluice-demo", "hello.zip")
	cfg, err := os.ReadFile(filepath.Join("..", "..", "examples", "canary-configs", "lambda-errors-latency.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.PutCanaryConfig(ctx, "lambda-errors-latency", cfg); err != nil {
		t.Fatal(err)
	}
	app, name := s.applyExample(t, "canary-release.json")

	first, err := s.client.Trigger(ctx, app, name, apitype.TriggerRequest{Parameters: map[string]any{"version": "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	s.waitExecution(t, first.ID, "the first release", func(e *apitype.Execution) bool { return e.Status.Complete() })
	if e, _ := s.client.GetExecution(ctx, first.ID); e.Status != "SUCCEEDED" {
		t.Fatalf("the first release ended %s: %s", e.Status, stageSummary(e))
	}

	b.open("/pipelines/hello/canary-release")
	b.waitFor("the page", `document.body.dataset.enhanced === '1'`)
	b.do("open the Run form", chromedp.Click(chromedp.CSS(`#run > summary`)))
	_ = eval[bool](b, `(document.querySelector('#run-p0').value = '', true)`)
	b.do("type the version", chromedp.SendKeys(chromedp.ID("run-p0"), "v2"))
	b.waitLoad("run", chromedp.Click(chromedp.CSS(`#run button[type=submit]`)))
	id := strings.TrimPrefix(eval[string](b, `location.pathname`), "/executions/")
	b.waitFor("the canary", `document.querySelector('#node-canary').dataset.status === 'SUCCEEDED'`)
	b.waitFor("the judgment", `!!document.querySelector('#judgment-judge input[value="promote"]')`)
	if got := b.text("#node-first .node-status"); got != "SKIPPED" {
		t.Errorf("First release is %q on the second run, want SKIPPED", got)
	}
	b.screenshot("canary-judgment")

	for range 30 {
		lam.invoke(t, "hello-api", "live")
	}
	b.open("/functions/local")
	b.waitFor("the alias", `!!document.querySelector('#fn-hello-api .alias[data-alias="live"]')`)
	if got, want := b.text(`#fn-hello-api .alias[data-alias="live"] .traffic-text`), "v1 90% · v2 10%"; got != want {
		t.Errorf("traffic during the canary = %q, want %q", got, want)
	}
	b.screenshot("canary-functions")

	b.open("/executions/" + id)
	b.waitFor("the judgment", `!!document.querySelector('#judgment-judge input[value="promote"]') && document.body.dataset.enhanced === '1'`)
	b.do("choose promote", chromedp.Click(chromedp.CSS(`#judgment-judge input[value="promote"]`)))
	b.do("continue", chromedp.Click(chromedp.CSS(`#judgment-judge button[value="continue"]`)))
	b.waitFor("the release to finish", `['SUCCEEDED', 'TERMINAL', 'CANCELED', 'STOPPED'].includes(document.querySelector('#exec-status').dataset.status)`)
	if got := b.text("#exec-status"); got != "SUCCEEDED" {
		e, _ := s.client.GetExecution(ctx, id)
		t.Fatalf("the release ended %s: %s", got, stageSummary(e))
	}
	b.waitFor("promote and cleanup", `document.querySelector('#node-promote').dataset.status === 'SUCCEEDED' && document.querySelector('#node-cleanup').dataset.status === 'SUCCEEDED' && document.querySelector('#node-rollback').dataset.status === 'SKIPPED'`)
	b.screenshot("canary-succeeded")

	b.open("/functions/local")
	b.waitFor("the alias at 100%", `document.querySelector('#fn-hello-api .alias[data-alias="live"] .traffic-text').textContent.trim() === 'v2 100%'`)
	// Version 1 is deleted, and keeps its row with the figures of the
	// requests it served before the promotion.
	if !eval[bool](b, `!!document.querySelector('#fn-hello-api tr[data-version="1"][data-deleted]')`) {
		t.Error("version 1 is not listed as deleted after Delete previous")
	} else if n := eval[string](b, `document.querySelector('#fn-hello-api tr[data-version="1"] [data-invocations]').dataset.invocations`); n == "0" {
		t.Error("version 1 lost its figures after the promotion")
	}
	b.screenshot("canary-promoted")
	b.checkConsole()
}

// uploadHello builds the hello example into the local S3, where the
// canary example's Deploy stage takes it from.
func (l *localLambda) uploadHello(t *testing.T, bucket, key string) {
	t.Helper()
	ctx := context.Background()
	zip, err := fnbuild.Zip(ctx, filepath.Join("..", ".."), "./examples/functions/hello")
	if err != nil {
		t.Fatal(err)
	}
	local, err := l.accounts.Get(awsclient.LocalName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := local.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(zip)}); err != nil {
		t.Fatal(err)
	}
}

// stageSummary lists an execution's stages with their status and error.
func stageSummary(e *apitype.Execution) string {
	if e == nil {
		return ""
	}
	var b strings.Builder
	for _, st := range e.Stages {
		fmt.Fprintf(&b, "\n  %s %s", st.Name, st.Status)
		var ctx struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(st.Context, &ctx)
		if ctx.Error != "" {
			fmt.Fprintf(&b, ": %s", ctx.Error)
		}
	}
	return b.String()
}

// canaryJudgedPipeline analyses hello-api's two versions behind alias live
// with kayentaCanary (three half-second intervals), then waits for a
// person.
const canaryJudgedPipeline = `{
  "application": "hello", "name": "canary-judged",
  "stages": [
    {"refId": "canary", "type": "kayentaCanary", "name": "Canary", "region": "us-east-1", "functionName": "hello-api", "aliasName": "live",
     "canaryConfig": {"canaryConfigName": "lambda-errors-latency",
       "scopes": [{"controlScope": "$PREVIOUS", "experimentScope": "$LATEST", "step": 0.1}],
       "scoreThresholds": {"pass": "75", "marginal": "50"},
       "lifetimeDuration": "PT1.5S", "canaryAnalysisIntervalMins": "0.008333333333333333"}},
    {"refId": "judge", "type": "manualJudgment", "name": "Judge", "requisiteStageRefIds": ["canary"],
     "instructions": "Promote version 2?", "judgmentInputs": [{"value": "promote"}]}
  ]
}`

// TestBrowserCanaryReportAndEvidence runs a real kayentaCanary stage on
// the local Lambda, two versions of hello-api taking half of alias live
// each, then a manual judgment. The judgment card shows the evidence
// beside its buttons — the alias's split, each version's requests since
// the judgment began, the analysis's recommendation — the header counts
// the judgment waiting and links to it, and the canary stage's panel shows
// the decision, the score chart with a point per interval and the
// metrics' box plots.
func TestBrowserCanaryReportAndEvidence(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function")
	}
	lam := newLocalLambda(t)
	s := newTestServerWith(t, serverOptions{
		accounts:       lam.accounts,
		localLambdaURL: lam.url,
		functions:      functions.New(functions.Config{Accounts: lam.accounts, LocalLambdaURL: lam.url}),
	})
	b := newBrowser(t, s.URL)
	ctx := context.Background()
	v1, v2 := lam.deployTwoVersions(t, "hello-api")
	lam.route(t, "hello-api", "live", v1, map[string]float64{v2: 0.5})
	doc, err := os.ReadFile(filepath.Join("..", "..", "examples", "canary-configs", "lambda-errors-latency.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.PutCanaryConfig(ctx, "lambda-errors-latency", doc); err != nil {
		t.Fatal(err)
	}
	s.apply(t, "hello", "canary-judged", []byte(canaryJudgedPipeline))

	// Clients call the alias while the analysis runs, as they would.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				lam.invoke(t, "hello-api", "live")
			}
		}
	})
	stopTraffic := sync.OnceFunc(func() { close(done); wg.Wait() })
	t.Cleanup(stopTraffic)
	exec, err := s.client.Trigger(ctx, "hello", "canary-judged", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s.waitExecution(t, exec.ID, "the analysis to end", func(e *apitype.Execution) bool {
		return e.Status.Complete() || stageIs("judge", "RUNNING")(e)
	})
	stopTraffic()
	if e, _ := s.client.GetExecution(ctx, exec.ID); !stageIs("judge", "RUNNING")(e) {
		t.Fatalf("the judgment is not waiting: %s", stageSummary(e))
	}
	// Requests since the judgment began.
	for range 40 {
		lam.invoke(t, "hello-api", "live")
	}

	b.signIn(s, "/executions/"+exec.ID)
	b.waitFor("the evidence", `!!document.querySelector('#judgment-judge-evidence') && document.body.dataset.enhanced === '1'`)
	if got := b.text("#recommendation strong"); !strings.Contains(got, "The analysis recommends continuing: passed with score") {
		t.Errorf("recommendation %q, want the analysis's pass", got)
	}
	if got, want := b.text("#evidence-split .traffic-text"), "v1 50% · v2 50%"; got != want {
		t.Errorf("split %q, want %q", got, want)
	}
	// Which account and region the judged release is in, as the stage named them.
	if acct, region := b.text("#evidence-account"), b.text("#evidence-region"); acct != "local" || region != "us-east-1" {
		t.Errorf("evidence names account %q, region %q; want local, us-east-1", acct, region)
	}
	for _, v := range []string{v1, v2} {
		n := eval[string](b, `(document.querySelector('#judgment-judge-evidence tr[data-version="`+v+`"] [data-requests]') || {dataset: {}}).dataset.requests || ''`)
		if n == "" || n == "0" {
			t.Errorf("version %s: requests since the judgment began %q, want some", v, n)
		}
		if p50 := b.text(`#judgment-judge-evidence tr[data-version="` + v + `"] td:nth-child(6)`); !strings.HasSuffix(p50, " ms") {
			t.Errorf("version %s: p50 %q, want a latency in ms", v, p50)
		}
	}
	// The evidence sits beside the buttons, not under them.
	if !eval[bool](b, `(() => { const f = document.querySelector('#judgment-judge').getBoundingClientRect(), e = document.querySelector('#judgment-judge-evidence').getBoundingClientRect(); return e.left >= f.right && e.top < f.bottom; })()`) {
		t.Error("the evidence is not beside the judgment's buttons")
	}
	if got := eval[string](b, `document.querySelector('#waiting-count').dataset.count`); got != "1" {
		t.Errorf("header: %s judgments waiting, want 1", got)
	}
	if href := eval[string](b, `document.querySelector('#waiting a').getAttribute('href')`); href != "/executions/"+exec.ID+"#judgments" {
		t.Errorf("header links to %q, want the execution's judgments", href)
	}
	b.screenshot("canary-judgment-evidence")

	b.open("/executions/" + exec.ID + "?stage=canary")
	b.waitFor("the report", `!!document.querySelector('#report-canary svg.score-chart')`)
	if got := b.text("#report-canary-decision .decision-head"); !strings.HasPrefix(got, "Passed with score") {
		t.Errorf("decision %q, want Passed with score …", got)
	}
	if got := eval[int](b, `document.querySelectorAll('#report-canary svg.score-chart circle.score').length`); got != 3 {
		t.Errorf("%d points on the chart, want one per interval (3)", got)
	}
	if got := eval[int](b, `document.querySelectorAll('#report-canary svg.score-chart line.threshold').length`); got != 2 {
		t.Errorf("%d threshold lines, want pass and marginal", got)
	}
	if got := eval[int](b, `document.querySelectorAll('#report-canary-metrics tbody tr').length`); got == 0 {
		t.Error("no metrics in the table")
	}
	if got := eval[int](b, `document.querySelectorAll('#report-canary-metrics svg.box-plot').length`); got == 0 {
		t.Error("no box plots in the metrics table")
	}
	// The chart is drawn: it has a size on the page.
	if w := eval[float64](b, `document.querySelector('#report-canary svg.score-chart').getBoundingClientRect().width`); w < 300 {
		t.Errorf("the chart is %v px wide", w)
	}
	b.screenshot("canary-report")

	b.open("/executions/" + exec.ID)
	b.waitFor("the judgment", `!!document.querySelector('#judgment-judge input[value="promote"]') && document.body.dataset.enhanced === '1'`)
	b.do("continue", chromedp.Click(chromedp.CSS(`#judgment-judge button[value="continue"]`)))
	b.waitFor("the execution to finish", `document.querySelector('#exec-status').dataset.status === 'SUCCEEDED'`)
	b.open("/executions/" + exec.ID)
	if got := eval[string](b, `document.querySelector('#waiting-count').dataset.count`); got != "0" {
		t.Errorf("header after the judgment: %s waiting, want 0", got)
	}
	b.checkConsole()
}
