// Package oidctest runs a real OpenID Connect provider inside a test
// process (github.com/oauth2-proxy/mockoidc on a loopback port), for tests
// of single sign-on: internal/auth/oidc's own, and the console's login
// through Chromium. Every login at it succeeds as the User it was given,
// without a login page, unless a test asks for a denial. It is imported by
// tests only and must not be imported by product code.
//
// mockoidc is a full provider over HTTP: discovery, JWKS, authorize and
// token endpoints, RS256-signed ID tokens with the nonce and groups, PKCE
// (S256 and plain) checked at the token endpoint, and codes that work once.
// What it lacks, this package adds around it: a lock (its session store has
// none), the same user for every login, a denial at the authorize
// endpoint, and ID tokens changed on the way out for tests of what the
// client must refuse. It does not check redirect_uri against a registered
// one, and it signs with a key every mockoidc shares.
package oidctest

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/sluice-cd/sluice/internal/auth/oidc"
)

// User is who logs in at the provider.
type User struct {
	Subject string // the "sub" claim; required
	// Email is sent with email_verified: true (mockoidc cannot send false;
	// EditNextIDToken can).
	Email string
	// Username is the preferred_username claim.
	Username string
	Groups   []string
}

// Provider is a running provider. Its fields are what Sluice is configured
// with to use it.
type Provider struct {
	Issuer       string
	ClientID     string
	ClientSecret string

	mock *mockoidc.MockOIDC
	// mu serializes requests, since mockoidc's session store is a map with
	// no lock, and guards the fields below.
	mu     sync.Mutex
	user   User
	deny   url.Values           // the error the next authorize request redirects back with
	edit   func(map[string]any) // changes the next ID token
	counts map[string]int       // requests served, by path
}

// Start starts a provider that logs everyone in as user, and stops it when
// the test ends.
func Start(tb testing.TB, user User) *Provider {
	tb.Helper()
	m, err := mockoidc.NewServer(nil) // nil: mockoidc's built-in key, no RSA key generation
	if err != nil {
		tb.Fatal(err)
	}
	p := &Provider{mock: m, user: user, counts: map[string]int{}}
	if err := m.AddMiddleware(p.intercept); err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := m.Shutdown(); err != nil {
			tb.Error(err)
		}
	})
	p.Issuer, p.ClientID, p.ClientSecret = m.Issuer(), m.ClientID, m.ClientSecret
	return p
}

// Config returns the auth.oidc configuration that uses this provider, with
// the console's callback at redirectURL and the groups scope asked for
// (mockoidc sends groups only then).
func (p *Provider) Config(redirectURL string) oidc.Config {
	return oidc.Config{
		Issuer:       p.Issuer,
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret,
		RedirectURL:  redirectURL,
		Scopes:       []string{"openid", "profile", "email", "groups"},
	}
}

// SetUser makes later logins log in as u.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// DenyNext makes the next login fail at the provider: it redirects back
// with error (e.g. "access_denied") and description, as a provider does when
// the user declines or may not use the client.
func (p *Provider) DenyNext(error, description string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deny = url.Values{"error": {error}, "error_description": {description}}
}

// EditNextIDToken makes the token endpoint pass the next ID token's claims
// through f and sign them again with the provider's key: a token that is
// validly signed but says what the test wants (another audience, issuer,
// nonce or expiry).
func (p *Provider) EditNextIDToken(f func(claims map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.edit = f
}

// Requests returns how many requests the provider served at path, e.g.
// mockoidc.TokenEndpoint ("/oidc/token").
func (p *Provider) Requests(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[path]
}

func (p *Provider) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.counts[r.URL.Path]++
		switch r.URL.Path {
		case mockoidc.AuthorizationEndpoint:
			if p.deny != nil {
				p.redirectDenied(w, r)
				return
			}
			p.mock.UserQueue.Lock()
			p.mock.UserQueue.Queue = []mockoidc.User{p.user.mock()}
			p.mock.UserQueue.Unlock()
		case mockoidc.TokenEndpoint:
			if p.edit != nil {
				p.editToken(next, w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (p *Provider) redirectDenied(w http.ResponseWriter, r *http.Request) {
	q := p.deny
	p.deny = nil
	to, err := url.Parse(r.FormValue("redirect_uri"))
	if err != nil || to.Host == "" {
		http.Error(w, "redirect_uri is not an absolute URL", http.StatusBadRequest)
		return
	}
	q.Set("state", r.FormValue("state"))
	to.RawQuery = q.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

func (p *Provider) editToken(next http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	var resp map[string]any
	if rec.Code == http.StatusOK && json.Unmarshal(body, &resp) == nil {
		if raw, ok := resp["id_token"].(string); ok {
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
				http.Error(w, "parse the ID token to edit: "+err.Error(), http.StatusInternalServerError)
				return
			}
			p.edit(claims)
			p.edit = nil // only now: a refused request (a client trying another way to authenticate) does not use it up
			signed, err := p.mock.Keypair.SignJWT(claims)
			if err != nil {
				http.Error(w, "sign the edited ID token: "+err.Error(), http.StatusInternalServerError)
				return
			}
			resp["id_token"] = signed
			body, _ = json.Marshal(resp)
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	w.Write(body)
}

func (u User) mock() *mockoidc.MockUser {
	return &mockoidc.MockUser{
		Subject:           u.Subject,
		Email:             u.Email,
		EmailVerified:     u.Email != "",
		PreferredUsername: u.Username,
		Groups:            u.Groups,
	}
}
