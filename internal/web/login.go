package web

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
)

// csrfHeader is the header in which the API expects a session's CSRF
// token (httpapi.CSRFHeader; this package must not import httpapi).
const csrfHeader = "X-CSRF-Token"

// maxFormBytes bounds the body of the console's own forms (a token, a
// CSRF token and a path).
const maxFormBytes = 64 << 10

// loginView is the login page.
type loginView struct {
	// Next is where a successful login goes: a path on this server.
	Next string
	// Error is why the last attempt failed: the API's own message.
	Error string
	// SignedInAs names the viewer's current session, if they have one.
	SignedInAs string
	// SingleSignOnURL starts OpenID Connect login, when the server offers
	// it.
	SingleSignOnURL string
	// AdminTokenFile is where the server keeps its admin token. The API
	// tells it only to a viewer on the server's own machine, who can read
	// it; the console's calls carry the viewer's address.
	AdminTokenFile string
}

// loginURL is the login page that returns to next.
func loginURL(next string) string { return "/login?next=" + url.QueryEscape(next) }

// singleSignOnURL starts single sign-on (the API's /auth/oidc/login),
// which returns to next.
func singleSignOnURL(next string) string {
	return "/auth/oidc/login?returnTo=" + url.QueryEscape(next)
}

// maxNext bounds the page a login returns to: single sign-on carries it in
// a cookie, and refuses more than this.
const maxNext = 1024

// localPath returns next when it is a path on this server, and "/" for
// anything else, so that a login link cannot send the viewer to another
// site. The rule is single sign-on's (oidc.IsLocalPath, which this package
// may not import; a test keeps the two in step): a single leading "/" and
// only printable ASCII other than "\" — browsers read "//host" and
// "/\host" as another site, and drop tabs and newlines, making "/\t/host"
// into "//host". The login and logout pages themselves are refused too.
func localPath(next string) string {
	if len(next) > maxNext || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if b := next[i]; b <= ' ' || b >= 0x7f || b == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Path == "/login" || u.Path == "/logout" {
		return "/"
	}
	return next
}

// singleSignOnErrors explain the codes with which single sign-on's
// callback sends a refused login back to the login page (/login?sso=…).
// The details, which may name the user's groups, are in the server log.
var singleSignOnErrors = map[string]string{
	"denied":      "The identity provider did not sign you in. Try again, or sign in with a token.",
	"state":       "That single sign-on does not match one started in this browser (it finished already, or another was started since). Sign in with single sign-on again.",
	"expired":     "Single sign-on took too long. Sign in with single sign-on again.",
	"not-allowed": "You are not in a group that may sign in to Sluice; an admin lists those groups under auth.oidc.allowedGroups in sluice.yaml.",
	"failed":      "Single sign-on failed; the server log says why. Try again, or sign in with a token.",
}

// loginPage shows the login form. With ?code= (the one-time link that
// `sluice serve` and `sluice demo` print) it opens a session at once.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	next := localPath(q.Get("next"))
	if code := strings.TrimSpace(q.Get("code")); code != "" {
		c.openSession(w, r, apitype.SessionRequest{Code: code}, next)
		return
	}
	msg := ""
	if code := q.Get("sso"); code != "" {
		msg = cmp.Or(singleSignOnErrors[code], singleSignOnErrors["failed"])
	}
	c.renderLogin(w, r, next, msg, http.StatusOK)
}

// login opens a session with the API token pasted into the login form.
// Another site's page cannot post it: the API's handler, in front of the
// console, refuses state-changing requests from other origins.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.renderLogin(w, r, "/", "The form could not be read ("+err.Error()+"); reload the page and try again.", http.StatusBadRequest)
		return
	}
	next := localPath(r.PostForm.Get("next"))
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		c.renderLogin(w, r, next, "Paste an API token (it starts with sluice_) into the field.", http.StatusBadRequest)
		return
	}
	c.openSession(w, r, apitype.SessionRequest{Token: token}, next)
}

// openSession asks the API for a session and hands its cookie to the
// browser. The browser's current cookie is not sent: the API would take
// it for the request's credential and want its CSRF token.
func (c *Console) openSession(w http.ResponseWriter, r *http.Request, req apitype.SessionRequest, next string) {
	_, err := c.api.OpenSession(withoutCookie(r.Context()), req, func(ck *http.Cookie) { http.SetCookie(w, ck) })
	var apiErr *apiclient.Error
	switch {
	case err == nil:
		http.Redirect(w, r, next, http.StatusSeeOther)
	case errors.As(err, &apiErr):
		c.renderLogin(w, r, next, apiErr.Message, apiErr.Status)
	default:
		c.render(w, r, c.errorPage(r, err), nil, nil)
	}
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, next, msg string, status int) {
	ctx := r.Context()
	v := &loginView{Next: next, Error: msg}
	if h, err := c.api.Health(ctx); err == nil {
		if h.SingleSignOn {
			v.SingleSignOnURL = singleSignOnURL(next)
		}
		v.AdminTokenFile = h.AdminTokenFile
	}
	// A viewer may sign in again as someone else; the page says who they
	// are now. Without a session (401) the layout shows nobody.
	sess, _ := c.api.Session(ctx)
	if sess != nil {
		v.SignedInAs = sess.Name
	}
	c.render(w, r, &page{Name: "login", Title: "Sign in", Data: v, Status: status}, sess, nil)
}

// logout ends the viewer's session. The form carries the session's CSRF
// token, which the API requires; the API also clears the cookie.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.render(w, r, c.errorPage(r, &pageError{Status: http.StatusBadRequest,
			Message: "The sign-out form could not be read (" + err.Error() + "); reload the page and try again."}), nil, nil)
		return
	}
	h := http.Header{}
	h.Set(csrfHeader, r.PostForm.Get("csrf"))
	err := c.api.CloseSession(r.Context(), h, func(ck *http.Cookie) { http.SetCookie(w, ck) })
	if err != nil && !isUnauthenticated(err) { // a session that already ended is as good
		sess, _ := c.api.Session(r.Context())
		c.render(w, r, c.errorPage(r, err), sess, nil)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
