package auth

import (
	"context"
	"slices"
	"strings"
)

// RoleAdmin is the role that may do everything.
const RoleAdmin = "admin"

// AdminSubject is the name the admin token and its login links act as.
const AdminSubject = "admin"

// Via says how a principal authenticated.
type Via string

const (
	ViaToken   Via = "token"
	ViaSession Via = "session"
)

// Principal is who a request acts for.
type Principal struct {
	// Name is what records carry: "admin", "token:ci", an SSO user's name.
	Name string
	// Roles are the principal's roles (groups); RoleAdmin among them
	// makes it an admin.
	Roles []string
	Via   Via
	// CredentialID is the credential the request came with.
	CredentialID string
	// CSRFToken is the token a session's state-changing requests must
	// echo; empty for tokens, which browsers cannot send on their own.
	CSRFToken string
}

// HasRole reports whether p has role.
func (p *Principal) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

// matches reports whether a grant's subject names p: "user:" and its
// name, "token:NAME" when it is that token (its name), or else one of its
// roles. A subject with a prefix never matches a role, nor a bare subject
// a name: roles and names come from different places (an identity
// provider's groups claim, a username), and a group called "user:root" or
// a user called "platform" must not pass for the grant of that name.
func (p *Principal) matches(subject string) bool {
	switch {
	case strings.HasPrefix(subject, "user:"):
		return subject == "user:"+p.Name
	case strings.HasPrefix(subject, "token:"):
		return subject == p.Name
	case strings.HasPrefix(subject, ApplicationSubject):
		return false // grants to an application's pipelines, never to a person
	}
	return p.HasRole(subject)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal WithPrincipal put in ctx, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
