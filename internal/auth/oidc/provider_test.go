package oidc_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/auth/oidc"
	"github.com/sluice-cd/sluice/internal/auth/oidc/oidctest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// secret keys the login cookie in every test.
var secret = []byte("0123456789abcdef0123456789abcdef")

// alice is the user the provider logs in unless a test says otherwise.
var alice = oidctest.User{
	Subject:  "u-1001",
	Email:    "alice@example.com",
	Username: "alice",
	Groups:   []string{"engineering", "deployers"},
}

// app is what the console does with the package: two routes, and a
// browser (a cookie jar) that uses them.
type app struct {
	url   string
	idp   *oidctest.Provider
	clock *sluicetest.Clock // starts at the real time: the provider stamps its tokens with it
	// browser follows no redirect, so a test can step through the flow.
	browser *http.Client
	// For the benchmark: time spent in Start and Callback, and in their
	// requests to the provider.
	inSluice, toProvider atomic.Int64
}

// timed is a transport that adds up the time of its round trips.
type timed struct {
	rt    http.RoundTripper
	total *atomic.Int64
}

func (t timed) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.rt.RoundTrip(r)
	if err == nil {
		// The body is read after RoundTrip returns; the provider's
		// answers are small and already in the buffer by then.
		t.total.Add(int64(time.Since(start)))
	}
	return resp, err
}

// result is what the app's callback route answers on success.
type result struct {
	Identity oidc.Identity
	ReturnTo string
}

// startApp starts a provider that logs in user, and an app that uses it
// with the configuration that configure (if any) changes.
func startApp(t testing.TB, user oidctest.User, configure func(*oidc.Config)) *app {
	t.Helper()
	a := &app{idp: oidctest.Start(t, user), clock: sluicetest.NewClock(time.Now())}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a.url = "http://" + ln.Addr().String()
	cfg := a.idp.Config(a.url + "/auth/oidc/callback")
	if configure != nil {
		configure(&cfg)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	p, err := oidc.New(context.Background(), cfg, oidc.Options{
		Secret: secret, HTTPClient: &http.Client{Transport: timed{tr, &a.toProvider}}, Now: a.clock.Now,
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/oidc/login", func(w http.ResponseWriter, r *http.Request) {
		defer a.timeIt(time.Now())
		if err := p.Start(w, r, r.URL.Query().Get("returnTo")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("GET /auth/oidc/callback", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id, returnTo, err := p.Callback(w, r)
		a.timeIt(start)
		switch {
		case errors.Is(err, oidc.ErrState), errors.Is(err, oidc.ErrExpired):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case errors.Is(err, oidc.ErrDenied), errors.Is(err, oidc.ErrNotAllowed):
			http.Error(w, err.Error(), http.StatusForbidden)
		case err != nil:
			http.Error(w, err.Error(), http.StatusUnauthorized)
		default:
			json.NewEncoder(w).Encode(result{id, returnTo})
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	btr := &http.Transport{}
	t.Cleanup(btr.CloseIdleConnections)
	a.browser = &http.Client{
		Jar: jar, Transport: btr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return a
}

func (a *app) timeIt(start time.Time) { a.inSluice.Add(int64(time.Since(start))) }

// get is one browser request, redirects not followed.
func (a *app) get(t testing.TB, u string) (status int, location, body string) {
	t.Helper()
	resp, err := a.browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// begin starts a login and follows it through the provider, and returns
// the callback URL the provider sent the browser back to.
func (a *app) begin(t testing.TB, returnTo string) *url.URL {
	t.Helper()
	status, toIdP, body := a.get(t, a.url+"/auth/oidc/login?returnTo="+url.QueryEscape(returnTo))
	if status != http.StatusFound {
		t.Fatalf("login: status %d (%s), want a redirect to the provider", status, body)
	}
	status, back, body := a.get(t, toIdP)
	if status != http.StatusFound {
		t.Fatalf("provider: status %d (%s), want a redirect back", status, body)
	}
	u, err := url.Parse(back)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// finish requests the callback and returns the app's answer.
func (a *app) finish(t testing.TB, callback *url.URL) (status int, body string) {
	t.Helper()
	status, _, body = a.get(t, callback.String())
	return status, body
}

// login runs a whole login and returns the app's answer.
func (a *app) login(t testing.TB) (status int, body string) {
	t.Helper()
	return a.finish(t, a.begin(t, "/"))
}

func decode(t *testing.T, body string) result {
	t.Helper()
	var r result
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("callback answered %q: %v", body, err)
	}
	return r
}

// TestLogin drives a whole login with a browser that follows redirects,
// as a user's would: app → provider → app.
func TestLogin(t *testing.T) {
	t.Parallel()
	a := startApp(t, alice, func(c *oidc.Config) { c.AllowedGroups = []string{"ops", "deployers"} })
	var visited []*url.URL
	browser := *a.browser
	browser.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		visited = append(visited, r.URL)
		return nil
	}
	resp, err := browser.Get(a.url + "/auth/oidc/login?returnTo=" + url.QueryEscape("/applications/shop?tab=runs"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login ended with status %d: %s", resp.StatusCode, body)
	}

	got := decode(t, string(body))
	want := result{
		Identity: oidc.Identity{Subject: "u-1001", Name: "alice@example.com", Email: "alice@example.com", Groups: []string{"engineering", "deployers"}},
		ReturnTo: "/applications/shop?tab=runs",
	}
	if got.ReturnTo != want.ReturnTo || got.Identity.Subject != want.Identity.Subject || got.Identity.Name != want.Identity.Name ||
		got.Identity.Email != want.Identity.Email || !slices.Equal(got.Identity.Groups, want.Identity.Groups) {
		t.Errorf("got %+v, want %+v", got, want)
	}

	// The browser went to the provider with the code challenge of PKCE
	// and a nonce; the provider checked the verifier at the exchange.
	if len(visited) != 2 {
		t.Fatalf("visited %v, want the provider and the callback", visited)
	}
	q := visited[0].Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Errorf("authorize request %s lacks PKCE (S256), nonce or state", visited[0])
	}
	if q.Get("scope") != "openid profile email groups" {
		t.Errorf("scope = %q, want the configured scopes", q.Get("scope"))
	}
	// The login cookie is gone once the login is done.
	u, _ := url.Parse(a.url)
	if c := a.browser.Jar.Cookies(u); len(c) != 0 {
		t.Errorf("cookies left after the login: %v", c)
	}
}

// TestLoginCookie checks the attributes of the cookie Start sets, for an
// http callback on loopback and an https one.
func TestLoginCookie(t *testing.T) {
	t.Parallel()
	idp := oidctest.Start(t, alice)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	for _, tc := range []struct {
		redirect, name string
		secure         bool
	}{
		{"http://127.0.0.1:8080/auth/oidc/callback", "sluice_oidc", false},
		{"https://sluice.example.com/auth/oidc/callback", "__Host-sluice_oidc", true},
	} {
		p, err := oidc.New(context.Background(), idp.Config(tc.redirect), oidc.Options{Secret: secret, HTTPClient: &http.Client{Transport: tr}})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		if err := p.Start(w, httptest.NewRequest("GET", "/auth/oidc/login", nil), "/"); err != nil {
			t.Fatal(err)
		}
		cookies := w.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("%s: cookies %v, want one", tc.redirect, cookies)
		}
		c := cookies[0]
		if c.Name != tc.name || c.Secure != tc.secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 600 {
			t.Errorf("%s: cookie %s, want %s, Secure=%v, HttpOnly, SameSite=Lax, Path=/, Max-Age=600", tc.redirect, c, tc.name, tc.secure)
		}
		for _, part := range []string{"state", "nonce", "code_challenge", "alice", "/auth"} {
			if strings.Contains(c.Value, part) {
				t.Errorf("cookie value shows %q: it must be sealed", part)
			}
		}
	}
}

// TestCallbackRefuses plays what an attacker, a slow user or a wrong
// provider does, and checks that each is refused with a message that says
// what went wrong.
func TestCallbackRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		configure func(*oidc.Config)
		// play runs the login and returns the app's answer.
		play       func(t *testing.T, a *app) (int, string)
		wantStatus int
		wantBody   string
	}{
		{
			name: "state changed in the link",
			play: func(t *testing.T, a *app) (int, string) {
				u := a.begin(t, "/")
				q := u.Query()
				q.Set("state", q.Get("state")+"x")
				u.RawQuery = q.Encode()
				return a.finish(t, u)
			},
			wantStatus: http.StatusBadRequest, wantBody: "the state in the link differs",
		},
		{
			name: "cookie changed",
			play: func(t *testing.T, a *app) (int, string) {
				u := a.begin(t, "/")
				base, _ := url.Parse(a.url)
				c := a.browser.Jar.Cookies(base)[0]
				c.Value = c.Value[:10] + flip(c.Value[10]) + c.Value[11:]
				a.browser.Jar.SetCookies(base, []*http.Cookie{c})
				return a.finish(t, u)
			},
			wantStatus: http.StatusBadRequest, wantBody: "not made by this server, or was changed",
		},
		{
			name: "callback replayed in the same browser",
			play: func(t *testing.T, a *app) (int, string) {
				u := a.begin(t, "/")
				if status, body := a.finish(t, u); status != http.StatusOK {
					t.Fatalf("first callback: %d %s", status, body)
				}
				return a.finish(t, u)
			},
			wantStatus: http.StatusBadRequest, wantBody: "no login in progress",
		},
		{
			name: "callback replayed with a copy of the cookie",
			play: func(t *testing.T, a *app) (int, string) {
				u := a.begin(t, "/")
				base, _ := url.Parse(a.url)
				saved := a.browser.Jar.Cookies(base)
				if status, body := a.finish(t, u); status != http.StatusOK {
					t.Fatalf("first callback: %d %s", status, body)
				}
				a.browser.Jar.SetCookies(base, saved)
				return a.finish(t, u)
			},
			wantStatus: http.StatusUnauthorized, wantBody: "refused the login code: invalid_grant (the code was used already or expired)",
		},
		{
			name: "login took longer than LoginTimeout",
			play: func(t *testing.T, a *app) (int, string) {
				u := a.begin(t, "/")
				a.clock.Advance(oidc.LoginTimeout + time.Second)
				return a.finish(t, u)
			},
			wantStatus: http.StatusBadRequest, wantBody: "took too long: it started more than 10m0s ago",
		},
		{
			name: "denied at the provider",
			play: func(t *testing.T, a *app) (int, string) {
				a.idp.DenyNext("access_denied", "The user declined.")
				return a.login(t)
			},
			wantStatus: http.StatusForbidden, wantBody: "did not log you in: access_denied: The user declined.",
		},
		{
			name: "an error in a link whose state is not this browser's",
			play: func(t *testing.T, a *app) (int, string) {
				u := a.begin(t, "/")
				u.RawQuery = url.Values{"state": {"guessed"}, "error": {"access_denied"}, "error_description": {"Call +1 555 0100 to log in"}}.Encode()
				return a.finish(t, u)
			},
			wantStatus: http.StatusBadRequest, wantBody: "the state in the link differs",
		},
		{
			name: "not in the allowed groups",
			configure: func(c *oidc.Config) {
				c.AllowedGroups = []string{"ops", "admins"}
			},
			play:       login,
			wantStatus: http.StatusForbidden, wantBody: "not in a group allowed to log in to Sluice: alice@example.com has groups engineering, deployers, and only members of ops, admins may log in",
		},
		{
			name: "ID token for another client",
			play: func(t *testing.T, a *app) (int, string) {
				a.idp.EditNextIDToken(func(c map[string]any) { c["aud"] = "another-client" })
				return a.login(t)
			},
			wantStatus: http.StatusUnauthorized, wantBody: `ID token was refused: oidc: expected audience`,
		},
		{
			name: "ID token for us and, authorized, another client",
			play: func(t *testing.T, a *app) (int, string) {
				a.idp.EditNextIDToken(func(c map[string]any) {
					c["aud"] = []any{a.idp.ClientID, "another-client"}
					c["azp"] = "another-client"
				})
				return a.login(t)
			},
			wantStatus: http.StatusUnauthorized, wantBody: `issued to client "another-client"`,
		},
		{
			name: "ID token from another issuer",
			play: func(t *testing.T, a *app) (int, string) {
				a.idp.EditNextIDToken(func(c map[string]any) { c["iss"] = "https://evil.example/oidc" })
				return a.login(t)
			},
			wantStatus: http.StatusUnauthorized, wantBody: "id token issued by a different provider",
		},
		{
			name: "expired ID token",
			play: func(t *testing.T, a *app) (int, string) {
				a.idp.EditNextIDToken(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })
				return a.login(t)
			},
			wantStatus: http.StatusUnauthorized, wantBody: "token is expired",
		},
		{
			name: "ID token of another login (nonce)",
			play: func(t *testing.T, a *app) (int, string) {
				a.idp.EditNextIDToken(func(c map[string]any) { c["nonce"] = "another-login" })
				return a.login(t)
			},
			wantStatus: http.StatusUnauthorized, wantBody: "belongs to another login (its nonce differs)",
		},
		{
			name: "unverified email as the user name",
			play: func(t *testing.T, a *app) (int, string) {
				a.idp.EditNextIDToken(func(c map[string]any) { c["email_verified"] = false })
				return a.login(t)
			},
			wantStatus: http.StatusUnauthorized, wantBody: "says the email alice@example.com is not verified",
		},
		{
			name:       "the named username claim is missing",
			configure:  func(c *oidc.Config) { c.UsernameClaim = "upn" },
			play:       login,
			wantStatus: http.StatusUnauthorized, wantBody: "has no upn claim (auth.oidc.usernameClaim)",
		},
		{
			name: "groups claim of the wrong type",
			play: func(t *testing.T, a *app) (int, string) {
				a.idp.EditNextIDToken(func(c map[string]any) { c["groups"] = map[string]any{"a": 1} })
				return a.login(t)
			},
			wantStatus: http.StatusUnauthorized, wantBody: "groups claim (auth.oidc.groupsClaim) must be a list of strings or one string",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := startApp(t, alice, tc.configure)
			status, body := tc.play(t, a)
			if status != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
				t.Errorf("got %d %q, want %d with %q", status, body, tc.wantStatus, tc.wantBody)
			}
			if strings.Contains(body, a.idp.ClientSecret) {
				t.Errorf("the answer shows the client secret: %q", body)
			}
		})
	}
}

func login(t *testing.T, a *app) (int, string) { return a.login(t) }

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

// TestClaims checks how claims become an Identity.
func TestClaims(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		user      oidctest.User
		configure func(*oidc.Config)
		edit      func(map[string]any)
		want      oidc.Identity
	}{
		{
			name: "username from another claim",
			user: alice, configure: func(c *oidc.Config) { c.UsernameClaim = "preferred_username" },
			want: oidc.Identity{Subject: "u-1001", Name: "alice", Email: "alice@example.com", Groups: []string{"engineering", "deployers"}},
		},
		{
			name: "no email: the subject names the user",
			user: oidctest.User{Subject: "svc-7"},
			want: oidc.Identity{Subject: "svc-7", Name: "svc-7"},
		},
		{
			name: "groups as one string, from another claim",
			user: alice, configure: func(c *oidc.Config) { c.GroupsClaim = "https://example.com/team" },
			edit: func(c map[string]any) { c["https://example.com/team"] = "payments" },
			want: oidc.Identity{Subject: "u-1001", Name: "alice@example.com", Email: "alice@example.com", Groups: []string{"payments"}},
		},
		{
			name: "unverified email with another username claim: no email",
			user: alice, configure: func(c *oidc.Config) { c.UsernameClaim = "preferred_username" },
			edit: func(c map[string]any) { c["email_verified"] = false },
			want: oidc.Identity{Subject: "u-1001", Name: "alice", Groups: []string{"engineering", "deployers"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := startApp(t, tc.user, tc.configure)
			if tc.edit != nil {
				a.idp.EditNextIDToken(tc.edit)
			}
			status, body := a.login(t)
			if status != http.StatusOK {
				t.Fatalf("login: %d %s", status, body)
			}
			got := decode(t, body).Identity
			if got.Subject != tc.want.Subject || got.Name != tc.want.Name || got.Email != tc.want.Email || !slices.Equal(got.Groups, tc.want.Groups) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestStartRefusesOpenRedirect checks that a returnTo off this server is
// refused before the browser is sent anywhere.
func TestStartRefusesOpenRedirect(t *testing.T) {
	t.Parallel()
	a := startApp(t, alice, nil)
	for _, to := range []string{"https://evil.example/", "//evil.example", `/\evil.example`, "/\t/evil.example", "evil.example"} {
		status, location, body := a.get(t, a.url+"/auth/oidc/login?returnTo="+url.QueryEscape(to))
		if status != http.StatusBadRequest || location != "" || !strings.Contains(body, "must be a path on this server") {
			t.Errorf("returnTo %q: got %d, Location %q, %q; want 400 naming the rule", to, status, location, body)
		}
	}
	if n := a.idp.Requests("/oidc/authorize"); n != 0 {
		t.Errorf("the provider saw %d authorize requests, want 0", n)
	}
}

// BenchmarkLogin runs whole logins (app → provider → app, over loopback
// HTTP, the provider in this process) and reports, besides the time of a
// login: the time spent in Start and Callback, the part of it waiting for
// the provider's token endpoint, what remains (this package's own work:
// sealing and opening the cookie, verifying the ID token's signature,
// reading claims), and the size of the login cookie.
func BenchmarkLogin(b *testing.B) {
	a := startApp(b, alice, nil)
	status, body := a.login(b) // discovery's keys fetched, connections open
	if status != http.StatusOK {
		b.Fatalf("login: %d %s", status, body)
	}
	resp, err := a.browser.Get(a.url + "/auth/oidc/login")
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	cookie := len(resp.Header.Get("Set-Cookie"))

	a.inSluice.Store(0)
	a.toProvider.Store(0)
	for b.Loop() {
		if status, body := a.login(b); status != http.StatusOK {
			b.Fatalf("login: %d %s", status, body)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(a.inSluice.Load())/n, "handlers-ns/op")
	b.ReportMetric(float64(a.toProvider.Load())/n, "token-endpoint-ns/op")
	b.ReportMetric(float64(a.inSluice.Load()-a.toProvider.Load())/n, "own-ns/op")
	b.ReportMetric(float64(cookie), "cookie-bytes")
}
