package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// LoginTimeout is how long a user has from Start to Callback.
const LoginTimeout = 10 * time.Minute

// Errors a caller may branch on, e.g. to choose a status code. Each comes
// wrapped with what happened, in words for the user who sees it.
var (
	ErrDenied     = errors.New("the identity provider did not log you in")
	ErrState      = errors.New("this login does not match one started in this browser")
	ErrExpired    = errors.New("this login took too long")
	ErrNotAllowed = errors.New("you are not in a group allowed to log in to Sluice")
	ErrReturnTo   = errors.New("the page to return to must be a path on this server")
)

// Options are what the caller supplies besides the configuration.
type Options struct {
	// Secret keys the login cookie: at least MinSecretLen random bytes,
	// the same in every Sluice process that may receive a callback. A
	// key of its own is derived from it, so it may be the secret the
	// caller keys other things with. Nil derives it from the client
	// secret, which every process serving this provider has and which is
	// as secret as the cookie's key must be.
	Secret []byte
	// HTTPClient reaches the provider for discovery, keys and the code
	// exchange; nil means a client with a 30-second timeout.
	HTTPClient *http.Client
	// Now is the clock for login and ID token expiry; nil means time.Now.
	Now func() time.Time
}

// Provider logs users in through one OpenID Connect provider. It is safe
// for concurrent use.
type Provider struct {
	cfg      Config
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
	client   *http.Client
	sealer   sealer
	now      func() time.Time
	// cookie is the login cookie's name. When the callback is https it is
	// Secure, and its __Host- prefix stops a sibling domain or a plain-http
	// page from planting one. The scheme comes from the configured
	// RedirectURL, not the request, because behind a proxy that ends TLS
	// the request arrives as plain http.
	cookie   string
	secure   bool
	callback string // the callback's scheme and host, for error messages
}

const (
	cookieName       = "sluice_oidc"
	secureCookieName = "__Host-sluice_oidc"
)

// New checks cfg, reads the client secret and asks the provider for its
// endpoints (OpenID Connect discovery), with ctx bounding that request.
func New(ctx context.Context, cfg Config, opts Options) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	secret, err := cfg.secret()
	if err != nil {
		return nil, err
	}
	key := opts.Secret
	if key == nil {
		sum := sha256.Sum256([]byte("sluice oidc login cookie\x00" + secret))
		key = sum[:]
	}
	sl, err := newSealer(key)
	if err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, client: opts.HTTPClient, sealer: sl, now: opts.Now, cookie: cookieName}
	if p.client == nil {
		p.client = &http.Client{Timeout: 30 * time.Second}
	}
	if p.now == nil {
		p.now = time.Now
	}
	redirect, _ := url.Parse(cfg.RedirectURL) // Validate parsed it
	p.callback = redirect.Scheme + "://" + redirect.Host
	if redirect.Scheme == "https" {
		p.secure, p.cookie = true, secureCookieName
	}

	op, err := gooidc.NewProvider(gooidc.ClientContext(ctx, p.client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%sissuer: discover the provider at %s: %w", fieldPrefix, cfg.Issuer, err)
	}
	p.oauth = oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: secret,
		Endpoint:     op.Endpoint(),
		RedirectURL:  cfg.RedirectURL,
		Scopes:       cfg.scopes(),
	}
	p.verifier = op.Verifier(&gooidc.Config{ClientID: cfg.ClientID, Now: p.now})
	return p, nil
}

// Start sends the browser to the provider to log in; Callback will return
// returnTo, a path on this server (IsLocalPath; empty means "/"). It refuses
// any other returnTo with ErrReturnTo, writing nothing.
func (p *Provider) Start(w http.ResponseWriter, r *http.Request, returnTo string) error {
	if returnTo == "" {
		returnTo = "/"
	}
	if !IsLocalPath(returnTo) {
		return fmt.Errorf("%w: %q", ErrReturnTo, returnTo)
	}
	st := loginState{
		State:    rand.Text(),
		Nonce:    rand.Text(),
		Verifier: oauth2.GenerateVerifier(),
		ReturnTo: returnTo,
		Expires:  p.now().Add(LoginTimeout).Unix(),
	}
	c := p.newCookie(p.sealer.seal(p.cookie, st))
	c.MaxAge = int(LoginTimeout / time.Second)
	http.SetCookie(w, c)
	w.Header().Set("Cache-Control", "no-store")
	to := p.oauth.AuthCodeURL(st.State, gooidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	http.Redirect(w, r, to, http.StatusFound)
	return nil
}

// Callback finishes a login when the provider sends the browser back, and
// returns who logged in and the path Start was given. It writes only a header that
// clears the login cookie (whatever the outcome, so each login is finished
// at most once); the caller writes the response.
func (p *Provider) Callback(w http.ResponseWriter, r *http.Request) (id Identity, returnTo string, err error) {
	c, err := r.Cookie(p.cookie)
	gone := p.newCookie("")
	gone.MaxAge = -1
	http.SetCookie(w, gone)
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		return Identity{}, "", fmt.Errorf("%w: this browser has no login in progress (it finished, expired, or started at an address other than %s); start the login again", ErrState, p.callback)
	}
	st, err := p.sealer.open(p.cookie, c.Value)
	if err != nil {
		return Identity{}, "", fmt.Errorf("%w: %v; start the login again", ErrState, err)
	}
	if p.now().Unix() > st.Expires {
		return Identity{}, "", fmt.Errorf("%w: it started more than %s ago; start the login again", ErrExpired, LoginTimeout)
	}
	// The state first: until it matches, nothing else in the URL is the
	// provider's, not even an error message to show.
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		return Identity{}, "", fmt.Errorf("%w: the state in the link differs from this browser's login (was another login started since?); start the login again", ErrState)
	}
	if e := q.Get("error"); e != "" {
		return Identity{}, "", fmt.Errorf("%w: %s", ErrDenied, printable(strings.TrimSpace(e+": "+q.Get("error_description"))))
	}
	code := q.Get("code")
	if code == "" {
		return Identity{}, "", errors.New("the identity provider sent neither a code nor an error; start the login again")
	}

	ctx := gooidc.ClientContext(r.Context(), p.client)
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	var refused *oauth2.RetrieveError
	if errors.As(err, &refused) {
		return Identity{}, "", fmt.Errorf("the identity provider refused the login code: %s", exchangeError(refused))
	}
	if err != nil {
		return Identity{}, "", fmt.Errorf("reach the identity provider's token endpoint: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, "", errors.New("the identity provider sent no ID token; check that it allows the openid scope for this client")
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, "", fmt.Errorf("the identity provider's ID token was refused: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return Identity{}, "", errors.New("the ID token belongs to another login (its nonce differs); start the login again")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, "", fmt.Errorf("read the ID token's claims: %w", err)
	}
	// go-oidc checks that the audience includes us; the authorized party,
	// when named, must be us too (OpenID Connect Core 3.1.3.7).
	if azp, ok := claims["azp"].(string); ok && azp != p.cfg.ClientID {
		return Identity{}, "", fmt.Errorf("the ID token was issued to client %q, not to %s (%sclientId)", azp, p.cfg.ClientID, fieldPrefix)
	}
	id, err = p.cfg.identity(claims)
	if err != nil {
		return Identity{}, "", err
	}
	if !IsLocalPath(st.ReturnTo) {
		// Start checked it before sealing it; checked again so that a
		// mistake there cannot become an open redirect.
		st.ReturnTo = "/"
	}
	return id, st.ReturnTo, nil
}

func (p *Provider) newCookie(value string) *http.Cookie {
	return &http.Cookie{
		Name:     p.cookie,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   p.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// exchangeError says why the token endpoint refused, by the error code
// alone (RFC 6749 §5.2): some providers echo what the client sent, secret
// included, in the description, and this message is shown to the user.
func exchangeError(re *oauth2.RetrieveError) string {
	switch re.ErrorCode {
	case "invalid_grant":
		return "invalid_grant (the code was used already or expired); start the login again"
	case "invalid_client", "unauthorized_client":
		return re.ErrorCode + fmt.Sprintf(" (check %sclientId and the client secret)", fieldPrefix)
	case "":
		return "it answered " + re.Response.Status
	}
	return printable(re.ErrorCode)
}

// printable keeps a provider's message short and on one line.
func printable(s string) string {
	s = strings.TrimSuffix(s, ":")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}

// maxReturnTo bounds returnTo, which travels in a cookie.
const maxReturnTo = 1024

// IsLocalPath reports whether s is a path on this server that no browser
// reads as another site: it starts with a single "/" and holds only
// printable ASCII other than "\". Browsers turn "\" into "/" and drop tabs
// and newlines, so "/\evil.example" and "/\t/evil.example" would leave.
func IsLocalPath(s string) bool {
	if len(s) > maxReturnTo || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b >= 0x7f || b == '\\' {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}
