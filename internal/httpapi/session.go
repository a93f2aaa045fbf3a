package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/store"
)

// getSession tells who the request acts for, and a session's CSRF token.
func (s *server) getSession(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.toSession(s.who(r), nil))
	return nil
}

func (s *server) toSession(p *auth.Principal, expires *time.Time) apitype.Session {
	return apitype.Session{
		Name: p.Name, Roles: nonNil(p.Roles), Admin: s.policy.IsAdmin(p), Via: string(p.Via),
		CSRFToken: p.CSRFToken, ExpiresAt: expires,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// openSession opens a console session from an API token or a login link's
// code and sets its cookie.
func (s *server) openSession(w http.ResponseWriter, r *http.Request) error {
	var req apitype.SessionRequest
	if err := decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if (req.Token == "") == (req.Code == "") {
		return badRequest("give exactly one of token (an API token) and code (a login link's)")
	}
	how := "token"
	if req.Code != "" {
		how = "login link"
	}
	var sess *auth.Session
	err := s.store.InTx(r.Context(), func(tx store.Tx) error {
		a := s.auth.In(tx)
		var err error
		if req.Token != "" {
			var p *auth.Principal
			if p, err = a.Token(r.Context(), strings.TrimSpace(req.Token)); err == nil {
				sess, err = a.OpenSession(r.Context(), p.Name, p.Roles, p.CredentialID)
			}
		} else {
			sess, err = a.UseLoginLink(r.Context(), strings.TrimSpace(req.Code))
		}
		if err != nil {
			return err
		}
		return tx.AuditInsert(r.Context(), &store.AuditEntry{
			User: sess.Principal.Name, Source: s.clientIP(r) + " " + how, Action: "login",
		})
	})
	if errors.Is(err, auth.ErrUnauthenticated) {
		return &Error{Status: http.StatusUnauthorized, Code: apitype.CodeUnauthenticated,
			Message: "the " + how + " is unknown, expired, revoked or already used; ask for a new one (sluice login-link prints a login link)"}
	}
	if err != nil {
		return err
	}
	s.setSessionCookie(w, r, sess.Secret, sess.ExpiresAt)
	writeJSON(w, http.StatusOK, s.toSession(sess.Principal, &sess.ExpiresAt))
	return nil
}

// closeSession ends the request's console session and clears its cookie.
func (s *server) closeSession(w http.ResponseWriter, r *http.Request) error {
	p := s.who(r)
	if p.Via != auth.ViaSession {
		return badRequest("this request authenticated with an API token, not a session; an admin revokes tokens with DELETE /api/v1/tokens/{id}")
	}
	err := s.store.InTx(r.Context(), func(tx store.Tx) error {
		if err := s.auth.In(tx).CloseSession(r.Context(), p.CredentialID); err != nil {
			return err
		}
		return tx.AuditInsert(r.Context(), s.auditEntry(r, "logout", "", "", nil))
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.setSessionCookie(w, r, "", time.Time{})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setSessionCookie sets the session cookie, or clears it when secret is
// empty. It is HttpOnly (no script reads it), SameSite=Lax (no other site's
// form or fetch sends it; a link from another site, as single sign-on
// redirects back, does) and Secure whenever the page came over TLS.
func (s *server) setSessionCookie(w http.ResponseWriter, r *http.Request, secret string, expires time.Time) {
	c := &http.Cookie{
		Name: SessionCookie, Value: secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || s.behindProxy,
	}
	if secret == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

// createLoginLink makes a one-time link that opens a session as the admin.
func (s *server) createLoginLink(w http.ResponseWriter, r *http.Request) error {
	if err := decodeJSONBody(w, r, &struct{}{}); err != nil {
		return err
	}
	var (
		code    string
		expires time.Time
	)
	err := s.store.InTx(r.Context(), func(tx store.Tx) error {
		var err error
		if code, expires, err = s.auth.In(tx).NewLoginLink(r.Context(), s.who(r).Name); err != nil {
			return err
		}
		return tx.AuditInsert(r.Context(), s.auditEntry(r, "login-link.create", "", "", nil))
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apitype.LoginLink{
		Path: "/login?code=" + url.QueryEscape(code), ExpiresAt: expires,
	})
	return nil
}

// auditEntry is an audit entry of an action the API itself performs.
func (s *server) auditEntry(r *http.Request, action, app, pipeline string, details map[string]any) *store.AuditEntry {
	p := s.who(r)
	e := &store.AuditEntry{User: p.Name, Source: s.source(r, p), Action: action, Application: app, Pipeline: pipeline}
	if details != nil {
		e.Details, _ = json.Marshal(details) // maps of plain values always encode
	}
	return e
}
