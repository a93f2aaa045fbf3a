package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/store"
)

// These tests sign in and out as a browser without JavaScript would;
// browser_auth_test.go does it in Chromium.

// noRedirects is a client that shows redirects instead of following
// them, with its own cookie jar.
func noRedirects(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// send makes a request with hc and returns the response with its body
// read.
func send(t *testing.T, hc *http.Client, method, u string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "sluice_session" {
			return c
		}
	}
	return nil
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

func TestSignInAndOutWithoutJavaScript(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	hc := noRedirects(t)

	// A page without a session goes to the login page, which comes back.
	resp, _ := send(t, hc, "GET", s.URL+"/executions?status=RUNNING", nil, nil)
	if got, want := resp.Header.Get("Location"), "/login?next="+url.QueryEscape("/executions?status=RUNNING"); resp.StatusCode != http.StatusSeeOther || got != want {
		t.Fatalf("GET /executions without a session = %d to %q, want 303 to %q", resp.StatusCode, got, want)
	}
	resp, body := send(t, hc, "GET", s.URL+"/login?next="+url.QueryEscape("/executions?status=RUNNING"), nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /login = %d", resp.StatusCode)
	}
	contains(t, body, `<form method="post" action="/login"`, `name="token"`, `name="next" value="/executions?status=RUNNING"`,
		// The console's calls carry the browser's (loopback) address, to
		// which the API tells where the admin token is.
		"/data/admin.token")
	if strings.Contains(body, "single sign-on") {
		t.Error("the login page offers single sign-on, which the server does not have")
	}

	// Tokens the API refuses are refused with its message.
	for _, tt := range []struct {
		token      string
		wantStatus int
		want       string
	}{
		{"sluice_nothing", http.StatusUnauthorized, "the token is unknown, expired, revoked or already used"},
		{"  ", http.StatusBadRequest, "Paste an API token"},
	} {
		resp, body = send(t, hc, "POST", s.URL+"/login", url.Values{"token": {tt.token}, "next": {"/executions"}}, nil)
		if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.want) || sessionCookie(resp) != nil {
			t.Errorf("POST /login with %q = %d (cookie %v), want %d with %q:\n%.400s", tt.token, resp.StatusCode, sessionCookie(resp), tt.wantStatus, tt.want, body)
		}
	}

	// Another site's page cannot sign the browser in: the API's Origin
	// check guards the console's paths too.
	evil := http.Header{"Origin": {"http://evil.example"}}
	resp, _ = send(t, hc, "POST", s.URL+"/login", url.Values{"token": {s.adminToken}}, evil)
	if resp.StatusCode != http.StatusForbidden || sessionCookie(resp) != nil {
		t.Errorf("POST /login from another origin = %d (cookie %v), want 403 without a cookie", resp.StatusCode, sessionCookie(resp))
	}

	// A good token opens a session and goes to next, on this server only.
	for _, tt := range []struct{ next, want string }{
		{"/executions?status=RUNNING", "/executions?status=RUNNING"},
		{"//evil.example/", "/"},
		{"https://evil.example/", "/"},
	} {
		resp, _ = send(t, noRedirects(t), "POST", s.URL+"/login", url.Values{"token": {s.adminToken}, "next": {tt.next}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tt.want || sessionCookie(resp) == nil {
			t.Errorf("POST /login with next %q = %d to %q (cookie %v), want 303 to %q with a cookie", tt.next, resp.StatusCode, resp.Header.Get("Location"), sessionCookie(resp), tt.want)
		}
	}
	resp, _ = send(t, hc, "POST", s.URL+"/login", url.Values{"token": {s.adminToken}, "next": {"/"}}, nil)
	ck := sessionCookie(resp)
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
		t.Fatalf("the session cookie is %v, want HttpOnly, SameSite=Lax, Path=/", ck)
	}

	// Signed in, the layout says who, and carries the CSRF token for the
	// script and the Sign out form.
	resp, body = send(t, hc, "GET", s.URL+"/", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / signed in = %d", resp.StatusCode)
	}
	contains(t, body, "Signed in as <strong>token:tester</strong>", `<span class="role">admin</span>`, `<form method="post" action="/logout"`)
	m := csrfMeta.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the page has no csrf-token meta element")
	}
	csrf := m[1]
	contains(t, body, `<input type="hidden" name="csrf" value="`+csrf+`">`)

	// Signing out needs the CSRF token, and a request from this site.
	resp, body = send(t, hc, "POST", s.URL+"/logout", url.Values{"csrf": {"wrong"}}, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF token") {
		t.Errorf("POST /logout with a wrong CSRF token = %d:\n%.400s", resp.StatusCode, body)
	}
	resp, _ = send(t, hc, "POST", s.URL+"/logout", url.Values{"csrf": {csrf}}, evil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /logout from another origin = %d, want 403", resp.StatusCode)
	}
	if resp, _ = send(t, hc, "GET", s.URL+"/", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("after refused sign-outs GET / = %d, want the session still open", resp.StatusCode)
	}
	resp, _ = send(t, hc, "POST", s.URL+"/logout", url.Values{"csrf": {csrf}}, http.Header{"Origin": {s.URL}})
	if c := sessionCookie(resp); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" || c == nil || c.MaxAge >= 0 {
		t.Errorf("POST /logout = %d to %q (cookie %v), want 303 to /login clearing the cookie", resp.StatusCode, resp.Header.Get("Location"), c)
	}
	// The session ended on the server: its cookie, kept, no longer works.
	kept := noRedirects(t)
	u, _ := url.Parse(s.URL)
	kept.Jar.SetCookies(u, []*http.Cookie{{Name: "sluice_session", Value: ck.Value}})
	if resp, _ = send(t, kept, "GET", s.URL+"/", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the signed-out session's cookie still opens / (%d)", resp.StatusCode)
	}

	// Each login is in the audit log, from the browser's address.
	list, err := s.client.ListAudit(context.Background(), apiclient.AuditOptions{Action: "login"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Entries) == 0 || list.Entries[0].Source != "127.0.0.1 token" {
		t.Errorf("the last login's audit entry is %+v, want one from 127.0.0.1 by token", list.Entries)
	}
}

func TestLoginLinkWithoutJavaScript(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	link, err := s.client.CreateLoginLink(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hc := noRedirects(t)
	resp, _ := send(t, hc, "GET", s.URL+link.Path+"&next="+url.QueryEscape("/executions"), nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/executions" || sessionCookie(resp) == nil {
		t.Fatalf("the login link = %d to %q (cookie %v), want 303 to /executions with a cookie", resp.StatusCode, resp.Header.Get("Location"), sessionCookie(resp))
	}
	resp, body := send(t, hc, "GET", s.URL+"/executions", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Signed in as <strong>admin</strong>") {
		t.Errorf("after the login link GET /executions = %d:\n%.400s", resp.StatusCode, body)
	}
	// A link works once, even for a browser that is signed in.
	resp, body = send(t, hc, "GET", s.URL+link.Path, nil, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "the login link is unknown, expired, revoked or already used") || sessionCookie(resp) != nil {
		t.Errorf("the login link a second time = %d (cookie %v):\n%.400s", resp.StatusCode, sessionCookie(resp), body)
	}
	contains(t, body, "You are signed in as admin")
	// Signed in, the browser may sign in again as someone else.
	resp, _ = send(t, hc, "POST", s.URL+"/login", url.Values{"token": {s.adminToken}, "next": {"/"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || sessionCookie(resp) == nil {
		t.Errorf("signing in again while signed in = %d (cookie %v), want 303 with a new cookie", resp.StatusCode, sessionCookie(resp))
	}
	if _, body = send(t, hc, "GET", s.URL+"/", nil, nil); !strings.Contains(body, "Signed in as <strong>token:tester</strong>") {
		t.Errorf("after signing in again the page says:\n%.400s", body)
	}
}

func TestAuditPage(t *testing.T) {
	t.Parallel()
	s := newTestServerWith(t, serverOptions{policy: helloPolicy})
	ctx := context.Background()
	s.apply(t, "hello", "gated", []byte(gatedPipeline))
	exec, err := s.client.Trigger(ctx, "hello", "gated", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s.waitExecution(t, exec.ID, "the judgment", stageIs("1", "RUNNING"))
	if _, err := s.client.Cancel(ctx, exec.ID, "not today"); err != nil {
		t.Fatal(err)
	}
	// Enough entries of another application for two pages.
	for i := range 60 {
		if err := s.store.AuditInsert(ctx, &store.AuditEntry{User: "ci", Source: "10.0.0.9 token", Action: "pipeline.save",
			Application: "other", Pipeline: fmt.Sprintf("p%d", i)}); err != nil {
			t.Fatal(err)
		}
	}

	// The execution page links to its audit log, which says who canceled
	// it, when, from where.
	_, body := s.get(t, "/executions/"+exec.ID)
	contains(t, body, `href="/audit?execution=`+exec.ID+`"`)
	status, body := s.get(t, "/audit?execution="+exec.ID)
	if status != http.StatusOK {
		t.Fatalf("GET /audit?execution= = %d", status)
	}
	contains(t, body, `data-action="cancel"`, `data-action="trigger"`, "token:tester", "127.0.0.1 token", `href="/executions/`+exec.ID+`"`)
	if strings.Contains(body, "pipeline.save") {
		t.Error("the execution's audit log lists another application's saves")
	}

	// The admin reads all of it, a page at a time.
	_, body = s.get(t, "/audit")
	if n := strings.Count(body, `<tr id="audit-`); n != 50 {
		t.Errorf("the first page has %d entries, want 50", n)
	}
	older := regexp.MustCompile(`<a href="(/audit\?before=\d+)" rel="next">`).FindStringSubmatch(body)
	if older == nil {
		t.Fatal("the first page has no link to older entries")
	}
	_, body = s.get(t, strings.ReplaceAll(older[1], "&amp;", "&"))
	contains(t, body, `data-action="cancel"`, `href="/audit">← Newest</a>`)
	if strings.Contains(body, `rel="next"`) {
		t.Error("the last page links to older entries")
	}

	// A developer may read hello but not the whole log: the page says so
	// and offers hello.
	dev := s.signIn(t, s.newToken(t, "dev", "developers"))
	status, body = getWith(t, dev, s.URL+"/audit")
	if status != http.StatusForbidden {
		t.Errorf("GET /audit as a developer = %d, want 403", status)
	}
	contains(t, body, "only admins read the whole audit log", `<a href="/audit?application=hello">hello</a>`, `action="/audit"`,
		`Signed in as <strong>token:dev</strong> <span class="role">developers</span>`)
	status, body = getWith(t, dev, s.URL+"/audit?application=hello")
	if status != http.StatusOK {
		t.Errorf("GET /audit?application=hello as a developer = %d", status)
	}
	contains(t, body, `data-action="cancel"`)
	status, body = getWith(t, dev, s.URL+"/audit?application=other")
	if status != http.StatusForbidden || !strings.Contains(body, "may not read application other") {
		t.Errorf("GET /audit?application=other as a developer = %d:\n%.400s", status, body)
	}
}

// TestSingleSignOnFromTheLoginPage follows the login page's single sign-on
// link through a real OpenID Connect provider, and reads the page's
// explanation of each refusal the callback sends back.
func TestSingleSignOnFromTheLoginPage(t *testing.T) {
	t.Parallel()
	s := newTestServerWith(t, serverOptions{policy: helloPolicy, sso: &releaseManager})
	s.apply(t, "hello", "gated", []byte(gatedPipeline))

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar}
	status, body := getWith(t, browser, s.URL+"/login?next="+url.QueryEscape("/pipelines/hello/gated"))
	if status != http.StatusOK {
		t.Fatalf("GET /login = %d", status)
	}
	link := regexp.MustCompile(`<a class="button" href="([^"]+)" id="login-sso">Sign in with single sign-on</a>`).FindStringSubmatch(body)
	if link == nil {
		t.Fatalf("the login page has no single sign-on link:\n%.600s", body)
	}
	if want := "/auth/oidc/login?returnTo=%2Fpipelines%2Fhello%2Fgated"; link[1] != want {
		t.Errorf("the single sign-on link is %q, want %q", link[1], want)
	}
	resp, err := browser.Get(s.URL + strings.ReplaceAll(link[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/pipelines/hello/gated" || !strings.Contains(string(b), "Signed in as <strong>ann@example.com</strong>") {
		t.Errorf("single sign-on ended at %s (%d):\n%.600s", resp.Request.URL, resp.StatusCode, b)
	}

	for code, want := range map[string]string{
		"denied":      "The identity provider did not sign you in.",
		"not-allowed": "You are not in a group that may sign in to Sluice",
		"made-up":     "Single sign-on failed; the server log says why.",
	} {
		_, body := getWith(t, http.DefaultClient, s.URL+"/login?sso="+code)
		contains(t, body, `id="login-error"`, want)
	}
}
