package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/engine"
)

// SessionCookie holds a console session's secret.
const SessionCookie = "sluice_session"

// CSRFHeader carries a session's CSRF token on every state-changing
// request (GET /api/v1/session tells it).
const CSRFHeader = "X-CSRF-Token"

// errNoCredential is the 401 of a request without a credential.
var errNoCredential = &Error{
	Status: http.StatusUnauthorized,
	Code:   apitype.CodeUnauthenticated,
	Message: "this route needs a credential: an API token (Authorization: Bearer sluice_…) or a console session. " +
		"The CLI finds the token of a server on this machine by itself; otherwise use sluice login, --token or $SLUICE_TOKEN",
}

// errBadCredential is the 401 of a credential the server does not know.
var errBadCredential = &Error{
	Status:  http.StatusUnauthorized,
	Code:    apitype.CodeUnauthenticated,
	Message: "the credential is unknown, expired or revoked; sign in again or ask an admin for a new token",
}

type permKey struct{}

// handle adapts a route's handler: it authenticates and authorizes the
// request by the route's access, then runs the handler and maps its error.
func (s *server) handle(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := s.authorize(r, rt.Access)
		if err == nil {
			err = rt.Handler(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// authorize finds the request's principal and checks what the route
// needs of it. It returns the request with the principal, the route's
// permission and the audit source in its context.
func (s *server) authorize(r *http.Request, a access) (*http.Request, error) {
	p, err := s.principal(r)
	switch {
	case err != nil && !a.Public:
		return r, err
	case err != nil:
		p = nil // a public route ignores a bad credential
	case p == nil && !a.Public && !a.Delivery:
		return r, errNoCredential
	}
	if p != nil && p.Via == auth.ViaSession && unsafeMethod(r.Method) &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(p.CSRFToken)) != 1 {
		return r, &Error{
			Status:  http.StatusForbidden,
			Code:    apitype.CodeForbidden,
			Message: "a console session's state-changing request must carry its CSRF token in " + CSRFHeader + " (GET /api/v1/session tells it); reload the page",
		}
	}
	if a.Admin {
		if err := s.policy.CheckAdmin(p, "call "+r.Method+" "+r.URL.Path); err != nil {
			return r, forbidden(err)
		}
	}
	ctx := r.Context()
	if p != nil {
		ctx = auth.WithPrincipal(ctx, p)
		ctx = engine.WithAuditSource(ctx, s.source(r, p))
	}
	ctx = context.WithValue(ctx, permKey{}, a.Perm)
	return r.WithContext(ctx), nil
}

// principal returns who the request's credential stands for: nil without
// one, errBadCredential for one the server does not know.
func (s *server) principal(r *http.Request) (*auth.Principal, error) {
	var (
		p   *auth.Principal
		err error
	)
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, &Error{Status: http.StatusUnauthorized, Code: apitype.CodeUnauthenticated,
				Message: "the Authorization header must be \"Bearer\" and an API token"}
		}
		p, err = s.auth.Token(r.Context(), strings.TrimSpace(token))
	} else if c, cerr := r.Cookie(SessionCookie); cerr == nil {
		p, err = s.auth.Session(r.Context(), c.Value)
	} else {
		return nil, nil
	}
	if errors.Is(err, auth.ErrUnauthenticated) {
		return nil, errBadCredential
	}
	return p, err
}

// allow checks that the request's principal has the route's permission on
// application app.
func (s *server) allow(r *http.Request, app string) error {
	perm, _ := r.Context().Value(permKey{}).(auth.Permission)
	if perm == 0 {
		perm = auth.Read
	}
	return s.allowPerm(r, app, perm)
}

func (s *server) allowPerm(r *http.Request, app string, perm auth.Permission) error {
	if err := s.policy.Check(s.who(r), app, perm); err != nil {
		return forbidden(err)
	}
	return nil
}

// canRead reports whether the request's principal may read app.
func (s *server) canRead(r *http.Request, app string) bool {
	return s.policy.Allows(s.who(r), app, auth.Read)
}

// who is the request's principal. Handlers run only after authorize, so
// it is set on every route that is not public.
func (s *server) who(r *http.Request) *auth.Principal {
	if p := auth.FromContext(r.Context()); p != nil {
		return p
	}
	return &auth.Principal{Name: "anonymous"}
}

func forbidden(err error) *Error {
	return &Error{Status: http.StatusForbidden, Code: apitype.CodeForbidden, Message: err.Error(), Err: err}
}

// source is where a request comes from, for the audit log: the client's
// address and how it authenticated.
func (s *server) source(r *http.Request, p *auth.Principal) string {
	return s.clientIP(r) + " " + string(p.Via)
}

// clientIP is the address of the client: the peer's, or behind a proxy the
// one the proxy appended to X-Forwarded-For.
func (s *server) clientIP(r *http.Request) string {
	if s.behindProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			if ip := strings.TrimSpace(hops[len(hops)-1]); ip != "" {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// checkRequest refuses what a web page on another site could send: a Host
// this server does not serve (DNS rebinding), a state-changing request
// from another origin, or one whose Content-Type a page may send without
// asking (a form, text/plain). It applies to every path, console included.
func (s *server) checkRequest(r *http.Request) error {
	if !s.hosts.allowed(r.Host) {
		return &Error{
			Status: http.StatusMisdirectedRequest,
			Code:   apitype.CodeHostNotAllowed,
			Message: fmt.Sprintf("this server does not serve the host %q; it serves %s (add names with sluice serve --allowed-host, or to server.hosts in sluice.yaml)",
				r.Host, s.hosts),
		}
	}
	if !unsafeMethod(r.Method) {
		return nil
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return &Error{Status: http.StatusForbidden, Code: apitype.CodeForbidden,
				Message: fmt.Sprintf("a state-changing request from the origin %q is refused; only pages of this server may send them", origin)}
		}
	}
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/webhooks/") {
		mt, err := mediaType(r)
		if err != nil {
			return err
		}
		if corsSafelisted[mt] {
			return &Error{
				Status:  http.StatusUnsupportedMediaType,
				Code:    apitype.CodeUnsupportedMediaType,
				Message: fmt.Sprintf("a state-changing request must be sent as application/json (or a pipeline document as YAML), not %q: a web page can send that type to any site without asking", cmpEmpty(mt)),
			}
		}
	}
	return nil
}

// corsSafelisted are the media types a browser sends across sites without
// a preflight (and none, which a bodiless fetch sends).
var corsSafelisted = map[string]bool{
	"":                                  true,
	"text/plain":                        true,
	"application/x-www-form-urlencoded": true,
	"multipart/form-data":               true,
}

func cmpEmpty(mt string) string {
	if mt == "" {
		return "no Content-Type"
	}
	return mt
}
