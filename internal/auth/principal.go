package auth

import (
	"context"
	"slices"
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

// matches reports whether a grant's subject names p: its name, "user:" or
// "token:" and its name, or one of its roles.
func (p *Principal) matches(subject string) bool {
	return subject == p.Name || subject == "user:"+p.Name || p.HasRole(subject)
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
