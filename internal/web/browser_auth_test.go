package web_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/auth/oidc/oidctest"
	"github.com/sluice-cd/sluice/internal/status"
)

// gatedPipeline waits for a judgment that only release-managers may make.
const gatedPipeline = `{
  "application": "hello", "name": "gated", "limitConcurrent": false,
  "stages": [
    {"refId": "1", "type": "manualJudgment", "name": "Approve", "instructions": "Ship it?",
     "requiredJudgmentRoles": ["release-managers"]}
  ]
}`

// helloPolicy lets the roles developers and release-managers run and
// operate hello's executions; the gated stage's judgment needs
// release-managers.
var helloPolicy = auth.NewPolicy(auth.Config{Applications: map[string]auth.Grants{
	"hello": {Execute: []string{"developers", "release-managers"}},
}})

// releaseManager is who single sign-on signs in: the provider's groups
// become the session's roles.
var releaseManager = oidctest.User{Subject: "u-1", Email: "ann@example.com", Groups: []string{"release-managers"}}

// TestBrowserSignIn signs in and out in Chromium: a one-time login link
// lands on the page it names and does not work twice; signing out sends
// pages to the login page; a console action carries the session's CSRF
// token, and the same request without it is refused; a session that ends
// under a page sends its next action to the login page; a user without the
// judgment's role sees why its buttons are disabled; and one who signs in
// through single sign-on with that role as a group makes the judgment.
func TestBrowserSignIn(t *testing.T) {
	s := newTestServerWith(t, serverOptions{policy: helloPolicy, sso: &releaseManager})
	b := newBrowser(t, s.URL)
	ctx := context.Background()
	s.apply(t, "hello", "gated", []byte(gatedPipeline))
	var execs [3]string
	for i := range execs {
		e, err := s.client.Trigger(ctx, "hello", "gated", apitype.TriggerRequest{})
		if err != nil {
			t.Fatal(err)
		}
		s.waitExecution(t, e.ID, "the judgment", stageIs("1", "RUNNING"))
		execs[i] = e.ID
	}
	judged, canceled, waiting := execs[0], execs[1], execs[2]
	judgedPath := "/executions/" + judged

	// Without a session a page sends the browser to the login page, which
	// will bring it back.
	b.open(judgedPath)
	if got := eval[string](b, `location.pathname + location.search`); got != "/login?next="+url.QueryEscape(judgedPath) {
		t.Errorf("without a session %s went to %s, want the login page", judgedPath, got)
	}
	b.screenshot("login")

	// The login link opens a session and lands on next; it works once.
	link, err := s.client.CreateLoginLink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.allowConsole("/login?code=") // the 401 of the used link, which the page shows
	b.open(link.Path + "&next=" + url.QueryEscape(judgedPath))
	if got := eval[string](b, `location.pathname`); got != judgedPath {
		t.Fatalf("the login link landed on %s, want %s", got, judgedPath)
	}
	if got := b.text("#who-name"); !strings.Contains(got, "Signed in as admin") {
		t.Errorf("the layout says %q, want the admin signed in", got)
	}
	b.open(link.Path)
	if got := eval[string](b, `location.pathname`); got != "/login" {
		t.Errorf("the used login link went to %s, want the login page", got)
	}
	if got := b.text("#login-error"); !strings.Contains(got, "already used") {
		t.Errorf("the used login link says %q, want that it was used", got)
	}

	// The judgment's button works: the page sends the CSRF token.
	b.open(judgedPath)
	b.waitFor("the judgment", `document.body.dataset.enhanced === '1' && !!document.querySelector('#judgment-1 button[value="continue"]')`)
	if got := b.text("#judgment-1-who"); got != "Only release-managers may judge this stage; admins may too." {
		t.Errorf("the judgment says %q, want who may judge it", got)
	}
	if eval[bool](b, `document.querySelector('#judgment-1 button[value="continue"]').disabled`) {
		t.Error("the admin's Continue button is disabled")
	}
	b.do("continue", chromedp.Click(chromedp.CSS(`#judgment-1 button[value="continue"]`)))
	b.waitFor("the execution to succeed", `document.querySelector('#exec-status').dataset.status === 'SUCCEEDED'`)

	// The same kind of request from the page's script without the token
	// is refused; with it, it works.
	b.allowConsole("/cancel")
	cancel := func(withToken bool) []any {
		headers := `{'Content-Type': 'application/json'}`
		if withToken {
			headers = `{'Content-Type': 'application/json', 'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content}`
		}
		return eval[[]any](b, `fetch('/api/v1/executions/`+canceled+`/cancel', {method: 'POST', headers: `+headers+`, body: '{}'}).then(async r => [r.status, await r.text()])`, chromedp.EvalAwaitPromise)
	}
	if got := cancel(false); got[0] != float64(403) || !strings.Contains(got[1].(string), "CSRF token") {
		t.Errorf("a cancel without the CSRF token = %v, want 403 naming the CSRF token", got)
	}
	if e, err := s.client.GetExecution(ctx, canceled); err != nil || e.Status != status.Running {
		t.Fatalf("after the refused cancel the execution is %v (%v), want RUNNING", e.Status, err)
	}
	if got := cancel(true); got[0] != float64(200) {
		t.Errorf("a cancel with the CSRF token = %v, want 200", got)
	}
	s.waitExecution(t, canceled, "CANCELED", func(e *apitype.Execution) bool { return e.Status == status.Canceled })

	// The audit log has what just happened, linked from the navigation.
	b.waitLoad("open the audit log", chromedp.Click(chromedp.CSS(`nav a[href="/audit"]`)))
	if got := b.text(`#audit tbody tr:first-child`); !strings.Contains(got, "cancel") || !strings.Contains(got, "admin") || !strings.Contains(got, "127.0.0.1 session") {
		t.Errorf("the newest audit entry reads %q, want the admin's cancel from 127.0.0.1", got)
	}
	b.screenshot("audit")

	// Sign out: the session ends, and pages send the browser to log in.
	waitingPath := "/executions/" + waiting
	b.open(waitingPath)
	b.waitFor("the page", `document.body.dataset.enhanced === '1' && !!document.querySelector('#logout-form')`)
	b.waitLoad("sign out", chromedp.Click(chromedp.CSS(`#logout-form button`)))
	if got := eval[string](b, `location.pathname + location.search`); got != "/login" {
		t.Errorf("after signing out the browser is at %s, want /login", got)
	}
	b.open(waitingPath)
	if got := eval[string](b, `location.pathname + location.search`); got != "/login?next="+url.QueryEscape(waitingPath) {
		t.Errorf("after signing out %s went to %s, want the login page", waitingPath, got)
	}

	// A session that ends under an open page (signed out in another tab)
	// sends the page's next action to the login page. The pipeline page
	// has no live updates, which would find that out by themselves.
	pipelinePath := "/pipelines/hello/gated"
	b.signIn(s, pipelinePath)
	b.waitFor("the page", `document.body.dataset.enhanced === '1' && !!document.querySelector('#doc-validate')`)
	if got := eval[string](b, `fetch('/logout', {method: 'POST', body: new URLSearchParams({csrf: document.querySelector('meta[name="csrf-token"]').content})}).then(r => new URL(r.url).pathname)`, chromedp.EvalAwaitPromise); got != "/login" {
		t.Fatalf("signing out from the script ended at %s", got)
	}
	b.allowConsole("/api/v1/pipelines/validate")
	// Clicked from the script: the page navigates away while chromedp's
	// Click could still be looking at the button.
	clickValidate := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(document.querySelector('#doc-validate').click(), true)`)(ctx, t)
		return err
	})
	b.waitLoad("validate without a session", clickValidate)
	if got := eval[string](b, `location.pathname + location.search`); got != "/login?next="+url.QueryEscape(pipelinePath) {
		t.Errorf("an action without a session went to %s, want the login page", got)
	}

	// A developer signs in with a token through the form. They may operate
	// hello's executions but not make this judgment: the panel says why,
	// and its buttons are disabled.
	devToken := s.newToken(t, "dev", "developers")
	b.do("type the token", chromedp.SendKeys(chromedp.ID("login-token"), devToken))
	b.waitLoad("sign in", chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)))
	if got := eval[string](b, `location.pathname`); got != pipelinePath {
		t.Fatalf("signing in with the form landed on %s, want %s", got, pipelinePath)
	}
	b.open(waitingPath)
	b.waitFor("the judgment", `document.body.dataset.enhanced === '1' && !!document.querySelector('#judgment-1')`)
	if got := b.text("#who-name"); !strings.Contains(got, "Signed in as token:dev") {
		t.Errorf("the layout says %q, want token:dev signed in", got)
	}
	if got := b.text("#judgment-1-who"); !strings.Contains(got, "Only release-managers may judge this stage") {
		t.Errorf("the judgment says %q, want who may judge it", got)
	}
	if got := b.text("#judgment-1-denied"); !strings.Contains(got, "token:dev") || !strings.Contains(got, "developers") || !strings.Contains(got, "cannot judge") {
		t.Errorf("the judgment's explanation is %q", got)
	}
	if !eval[bool](b, `[...document.querySelectorAll('#judgment-1 button[type=submit]')].every(b => b.disabled && b.getAttribute('aria-describedby') === 'judgment-1-denied')`) {
		t.Error("the developer's judgment buttons are not disabled with the explanation")
	}
	if !eval[bool](b, `!!document.querySelector('#act-pause') && !document.querySelector('#act-pause').disabled`) {
		t.Error("the developer, who may execute, is not offered Pause")
	}
	b.screenshot("judgment-denied")
	// The API decides: a button enabled by hand is refused, and the page
	// shows the API's answer.
	b.allowConsole("/judgment")
	_ = eval[bool](b, `(document.querySelectorAll('#judgment-1 button').forEach(b => { b.disabled = false; }), true)`)
	b.do("continue anyway", chromedp.Click(chromedp.CSS(`#judgment-1 button[value="continue"]`)))
	b.waitFor("the refusal", `document.querySelector('#judgment-1 output.error').textContent.length > 0`)
	if got := b.text("#judgment-1 output.error"); !strings.Contains(got, "needs one of the roles release-managers") {
		t.Errorf("a judgment without the role shows %q, want the API's refusal", got)
	}
	if e, _ := s.client.GetExecution(ctx, waiting); e.Status != status.Running {
		t.Errorf("the execution is %s after a refused judgment, want RUNNING", e.Status)
	}

	// Single sign-on, from the login page, through a real OpenID Connect
	// provider: the provider's groups are the session's roles, so Ann, a
	// release manager, may judge.
	b.waitLoad("sign out", chromedp.Click(chromedp.CSS(`#logout-form button`)))
	b.open(waitingPath)
	b.waitLoad("sign in with single sign-on", chromedp.Click(chromedp.ID("login-sso")))
	if got := eval[string](b, `location.pathname`); got != waitingPath {
		t.Fatalf("single sign-on landed on %s, want %s", got, waitingPath)
	}
	b.waitFor("the judgment", `document.body.dataset.enhanced === '1' && !!document.querySelector('#judgment-1 button[value="continue"]')`)
	if got := b.text("#who-name"); !strings.Contains(got, "Signed in as ann@example.com") {
		t.Errorf("after single sign-on the layout says %q", got)
	}
	if eval[bool](b, `!!document.querySelector('#judgment-1-denied') || document.querySelector('#judgment-1 button[value="continue"]').disabled`) {
		t.Error("the release manager's judgment is disabled")
	}
	b.do("continue", chromedp.Click(chromedp.CSS(`#judgment-1 button[value="continue"]`)))
	b.waitFor("the execution to succeed", `document.querySelector('#exec-status').dataset.status === 'SUCCEEDED'`)
	e, err := s.client.GetExecution(ctx, waiting)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range e.Stages {
		var sc struct {
			LastModifiedBy string `json:"lastModifiedBy"`
		}
		_ = json.Unmarshal(st.Context, &sc)
		if sc.LastModifiedBy != "ann@example.com" {
			t.Errorf("the judgment was made by %q, want ann@example.com", sc.LastModifiedBy)
		}
	}
	b.checkConsole()
}
