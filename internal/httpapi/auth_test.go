package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/auth/oidc"
	"github.com/sluice-cd/sluice/internal/auth/oidc/oidctest"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/store"
)

// TestSingleSignOn logs in through a real OpenID Connect provider running
// in the test: the callback opens a console session whose name and roles
// are the provider's user and groups, the login is audited, and a user the
// provider denies lands on the login page with a code, not a session.
func TestSingleSignOn(t *testing.T) {
	st := sluicetest.OpenSQLite(t)
	a, _ := sluicetest.Auth(t, st, "unused")
	idp := oidctest.Start(t, oidctest.User{Subject: "u-1", Email: "ann@example.com", Groups: []string{"release-managers", "dev"}})

	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer srv.Close()
	sso, err := oidc.New(t.Context(), idp.Config(srv.URL+"/auth/oidc/callback"), oidc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	handler = httpapi.New(httpapi.Config{Store: st, Auth: a, OIDC: sso})

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(srv.URL + "/auth/oidc/login?returnTo=/api/v1/session")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/api/v1/session" {
		t.Fatalf("login ended at %s with %s, want 200 at /api/v1/session", resp.Request.URL, resp.Status)
	}
	var sess apitype.Session
	if err := json.NewDecoder(resp.Body).Decode(&sess); err != nil {
		t.Fatal(err)
	}
	if sess.Name != "ann@example.com" || !slices.Equal(sess.Roles, []string{"release-managers", "dev"}) || sess.Via != string(auth.ViaSession) || sess.CSRFToken == "" {
		t.Errorf("session after single sign-on = %+v; want ann@example.com with her groups as roles, a session with a CSRF token", sess)
	}
	entries, err := st.AuditList(t.Context(), &store.AuditListParams{Action: "login"})
	if err != nil || len(entries) != 1 || entries[0].User != "ann@example.com" || !strings.HasSuffix(entries[0].Source, " sso") {
		t.Errorf("audit of the login = %v, %v; want one login by ann@example.com from sso", ssoJSON(entries), err)
	}

	// Denied at the provider: back to the console's login page with a
	// code, and no session.
	idp.DenyNext("access_denied", "the user said no")
	jar2, _ := cookiejar.New(nil)
	noRedirect := &http.Client{Jar: jar2}
	resp, err = noRedirect.Get(srv.URL + "/auth/oidc/login?returnTo=/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/login" || resp.Request.URL.Query().Get("sso") != "denied" {
		t.Errorf("a denied login ended at %s, want /login?sso=denied", resp.Request.URL)
	}
	for _, c := range jar2.Cookies(resp.Request.URL) {
		if c.Name == httpapi.SessionCookie {
			t.Errorf("a denied login set a session cookie")
		}
	}
}

func ssoJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRevokingATokenEndsItsSessions opens a console session with an API
// token and revokes the token: the session ends with it.
func TestRevokingATokenEndsItsSessions(t *testing.T) {
	t.Parallel()
	c, b := setup(t, nil)
	secret, tok, err := b.auth.CreateToken(t.Context(), auth.TokenParams{Name: "laptop", Roles: []string{auth.RoleAdmin}, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var cookie *http.Cookie
	if _, err := c.OpenSession(t.Context(), apitype.SessionRequest{Token: secret}, func(ck *http.Cookie) { cookie = ck }); err != nil || cookie == nil {
		t.Fatalf("open a session with the token: %v (cookie %v)", err, cookie)
	}
	status := func() int {
		req, _ := http.NewRequest(http.MethodGet, b.server.URL+"/api/v1/session", nil)
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusOK {
		t.Fatalf("the session before the revocation: %d, want 200", got)
	}
	if _, err := c.RevokeToken(t.Context(), tok.ID); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != http.StatusUnauthorized {
		t.Errorf("the session after its token was revoked: %d, want 401", got)
	}
}

// TestJudgmentRoles reads the roles a manualJudgment stage requires, as
// the judgment route enforces them and the API shows them to the console.
func TestJudgmentRoles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		context string
		want    []string
	}{
		{`{}`, nil},
		{`{"requiredJudgmentRoles": ["release-managers"]}`, []string{"release-managers"}},
		{`{"requiredJudgmentRoles": " sre , ops,"}`, []string{"sre", "ops"}},
		{`{"requiredJudgmentRoles": [], "selectedStageRoles": ["qa"]}`, []string{"qa"}},
		{`{"requiredJudgmentRoles": ["a"], "selectedStageRoles": ["qa"]}`, []string{"a"}},
		// A shape the API cannot read requires a role nobody has.
		{`{"requiredJudgmentRoles": 7}`, []string{"(requiredJudgmentRoles is not a list of role names)"}},
		{`{"selectedStageRoles": [1]}`, []string{"(selectedStageRoles is not a list of role names)"}},
	}
	for _, tt := range tests {
		if got := httpapi.JudgmentRoles([]byte(tt.context)); !slices.Equal(got, tt.want) {
			t.Errorf("judgmentRoles(%s) = %q, want %q", tt.context, got, tt.want)
		}
	}
}

// TestCredentialsCommitWithTheirAudit runs, on both stores, every route
// that issues or ends a credential — each writes it and its audit entry in
// one transaction — and checks the audit log afterwards.
func TestCredentialsCommitWithTheirAudit(t *testing.T) {
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		a, admin := sluicetest.Auth(t, st, "root", auth.RoleAdmin)
		srv := httptest.NewServer(httpapi.New(httpapi.Config{Store: st, Auth: a}))
		defer srv.Close()
		ctx := t.Context()
		c, err := apiclient.New(srv.URL, apiclient.WithToken(admin))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.CreateToken(ctx, apitype.TokenRequest{Name: "ci", Roles: []string{"deployers"}})
		if err != nil {
			t.Fatalf("create token: %v", err)
		}
		if _, err := c.CreateToken(ctx, apitype.TokenRequest{Name: "ci"}); err == nil {
			t.Error("a second token named ci was created")
		}
		var cookie *http.Cookie
		if _, err := c.OpenSession(ctx, apitype.SessionRequest{Token: tok.Secret}, func(ck *http.Cookie) { cookie = ck }); err != nil {
			t.Fatalf("open a session with the token: %v", err)
		}
		link, err := c.CreateLoginLink(ctx)
		if err != nil {
			t.Fatal(err)
		}
		code := strings.TrimPrefix(link.Path, "/login?code=")
		if _, err := c.OpenSession(ctx, apitype.SessionRequest{Code: code}, nil); err != nil {
			t.Fatalf("open a session with the login link: %v", err)
		}
		if _, err := c.OpenSession(ctx, apitype.SessionRequest{Code: code}, nil); err == nil {
			t.Error("a login link worked twice")
		}
		s, err := c.Session(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sessionClient, _ := apiclient.New(srv.URL)
		if err := sessionClient.CloseSession(ctx, http.Header{"Cookie": {cookie.String()}, httpapi.CSRFHeader: {csrfOf(t, srv.URL, cookie)}}, nil); err != nil {
			t.Fatalf("sign out: %v", err)
		}
		if _, err := c.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatalf("revoke token: %v", err)
		}
		entries, err := st.AuditList(ctx, &store.AuditListParams{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.User+" "+e.Action)
		}
		want := []string{s.Name + " token.revoke", "token:ci logout", "admin login", s.Name + " login-link.create", "token:ci login", s.Name + " token.create"}
		if !slices.Equal(got, want) {
			t.Errorf("audit log, newest first:\n got %q\nwant %q", got, want)
		}
	})
}

// csrfOf asks the API for the CSRF token of the session in cookie.
func csrfOf(t *testing.T, url string, cookie *http.Cookie) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/session", nil)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s apitype.Session
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || s.CSRFToken == "" {
		t.Fatalf("session of the cookie: %+v, %v", s, err)
	}
	return s.CSRFToken
}
