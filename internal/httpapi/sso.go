package httpapi

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"

	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/auth/oidc"
	"github.com/sluice-cd/sluice/internal/store"
)

// Single sign-on is a pair of browser redirects, not JSON routes: they sit
// beside the console's pages, outside /api/v1 and the route table, and
// need no credential — the provider's answer is the credential.
const (
	ssoLoginPath    = "/auth/oidc/login"
	ssoCallbackPath = "/auth/oidc/callback"
)

// mountSSO registers the single sign-on redirects when a provider is
// configured.
func (s *server) mountSSO() {
	if s.oidc == nil {
		return
	}
	s.mux.Handle("GET "+ssoLoginPath, s.handleFunc(s.ssoLogin))
	s.mux.Handle("GET "+ssoCallbackPath, s.handleFunc(s.ssoCallback))
}

// ssoLogin sends the browser to the identity provider.
func (s *server) ssoLogin(w http.ResponseWriter, r *http.Request) error {
	if err := s.oidc.Start(w, r, r.URL.Query().Get("returnTo")); err != nil {
		return badRequest("%s", err.Error())
	}
	return nil
}

// ssoCallback finishes a login: the provider's identity becomes a console
// session, its groups the session's roles. A refusal goes back to the
// login page with a code the console explains; the details, which may
// name the user's groups, go to the log, never into a URL.
func (s *server) ssoCallback(w http.ResponseWriter, r *http.Request) error {
	id, returnTo, err := s.oidc.Callback(w, r)
	if err != nil {
		s.log.WarnContext(r.Context(), "single sign-on refused", "request_id", requestID(r.Context()), "err", err)
		http.Redirect(w, r, "/login?sso="+ssoErrorCode(err), http.StatusSeeOther)
		return nil
	}
	var sess *auth.Session
	err = s.store.InTx(r.Context(), func(tx store.Tx) error {
		var err error
		if sess, err = s.auth.In(tx).OpenSession(r.Context(), id.Name, id.Groups, ""); err != nil {
			return err
		}
		return tx.AuditInsert(r.Context(), &store.AuditEntry{User: id.Name, Source: s.clientIP(r) + " sso", Action: "login"})
	})
	if err != nil {
		return err
	}
	s.setSessionCookie(w, r, sess.Secret, sess.ExpiresAt)
	http.Redirect(w, r, cmp.Or(returnTo, "/"), http.StatusSeeOther)
	return nil
}

// ssoErrorCode names a refusal for the login page.
func ssoErrorCode(err error) string {
	for code, target := range map[string]error{
		"denied": oidc.ErrDenied, "state": oidc.ErrState, "expired": oidc.ErrExpired, "not-allowed": oidc.ErrNotAllowed,
	} {
		if errors.Is(err, target) {
			return url.QueryEscape(code)
		}
	}
	return "failed"
}
