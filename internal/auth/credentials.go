package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/atomicfile"
	"github.com/sluice-cd/sluice/internal/store"
)

// ErrUnauthenticated is returned for a credential that is unknown,
// expired or revoked.
var ErrUnauthenticated = errors.New("the credential is unknown, expired or revoked")

// LoginLinkTTL is how long a login link may wait to be used.
const LoginLinkTTL = 24 * time.Hour

// purgeAfter is how long revoked and expired credentials are kept before
// they are deleted.
const purgeAfter = 7 * 24 * time.Hour

// Authenticator issues credentials and tells whom one stands for. It
// keeps nothing in memory: every server sharing a database accepts every
// credential, and a revocation takes effect on the next request.
type Authenticator struct {
	store      store.Querier
	now        func() time.Time
	sessionTTL time.Duration
}

// NewAuthenticator returns an Authenticator over s; now defaults to
// time.Now.
func NewAuthenticator(s store.Querier, cfg Config, now func() time.Time) (*Authenticator, error) {
	ttl, err := cfg.sessionTTL()
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Authenticator{store: s, now: now, sessionTTL: ttl}, nil
}

// In returns an Authenticator that works in q, a transaction, so that a
// credential and the audit entry that records it commit together.
func (a *Authenticator) In(q store.Querier) *Authenticator {
	b := *a
	b.store = q
	return &b
}

func principalOf(c *store.Credential, via Via) *Principal {
	return &Principal{Name: c.Subject, Roles: c.Roles, Via: via, CredentialID: c.ID}
}

// Token returns the principal of an API token.
func (a *Authenticator) Token(ctx context.Context, secret string) (*Principal, error) {
	c, err := a.store.CredentialFind(ctx, store.CredentialToken, HashSecret(secret), a.now())
	if err != nil {
		return nil, unauthenticated(err)
	}
	return principalOf(c, ViaToken), nil
}

// Session returns the principal of a console session, with its CSRF
// token.
func (a *Authenticator) Session(ctx context.Context, secret string) (*Principal, error) {
	c, err := a.store.CredentialFind(ctx, store.CredentialSession, HashSecret(secret), a.now())
	if err != nil {
		return nil, unauthenticated(err)
	}
	p := principalOf(c, ViaSession)
	p.CSRFToken = csrfToken(secret)
	return p, nil
}

func unauthenticated(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnauthenticated
	}
	return err
}

// tokenName is what a token's name may be: it appears in records as
// token:NAME and in sluice.yaml grants.
var tokenName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,62}$`) })

// TokenParams are the arguments of CreateToken.
type TokenParams struct {
	Name  string
	Roles []string
	// ExpiresAt is nil for a token that does not expire.
	ExpiresAt *time.Time
	// CreatedBy is the principal creating it.
	CreatedBy string
	// Subject is whom the token acts as; empty means "token:NAME".
	Subject string
}

// ErrInvalid is returned (wrapped, with what to fix) for bad TokenParams.
var ErrInvalid = errors.New("invalid")

// CreateToken stores a new API token and returns its secret, which
// nobody can see again.
func (a *Authenticator) CreateToken(ctx context.Context, p TokenParams) (string, *store.Credential, error) {
	if !tokenName().MatchString(p.Name) {
		return "", nil, fmt.Errorf("%w: token name %q: use 1 to 63 lowercase letters, digits, '.', '_', '@' or '-', starting with a letter or digit", ErrInvalid, p.Name)
	}
	for i, r := range p.Roles {
		if strings.TrimSpace(r) == "" || len(r) > 200 {
			return "", nil, fmt.Errorf("%w: roles[%d] %q: a role is a non-empty name of at most 200 bytes", ErrInvalid, i, r)
		}
	}
	if p.ExpiresAt != nil && !p.ExpiresAt.After(a.now()) {
		return "", nil, fmt.Errorf("%w: expiresAt %s is not in the future", ErrInvalid, p.ExpiresAt.Format(time.RFC3339))
	}
	secret := newSecret(TokenPrefix)
	c := &store.Credential{
		Kind: store.CredentialToken, Name: p.Name, SecretHash: HashSecret(secret),
		Subject: p.Subject, Roles: p.Roles, CreatedBy: p.CreatedBy, CreatedAt: a.now(), ExpiresAt: p.ExpiresAt,
	}
	if c.Subject == "" {
		c.Subject = "token:" + p.Name
	}
	if err := a.store.CredentialInsert(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", nil, fmt.Errorf("%w: a token named %q exists; revoke it first or choose another name", ErrInvalid, p.Name)
		}
		return "", nil, err
	}
	return secret, c, nil
}

// Tokens lists the tokens in force.
func (a *Authenticator) Tokens(ctx context.Context) ([]*store.Credential, error) {
	return a.store.CredentialList(ctx, store.CredentialToken, a.now())
}

// RevokeToken revokes an API token by ID.
func (a *Authenticator) RevokeToken(ctx context.Context, id string) (*store.Credential, error) {
	return a.store.CredentialRevoke(ctx, store.CredentialToken, id, a.now())
}

// CloseSession ends a console session by ID.
func (a *Authenticator) CloseSession(ctx context.Context, id string) error {
	_, err := a.store.CredentialRevoke(ctx, store.CredentialSession, id, a.now())
	return err
}

// Session is a newly opened console session.
type Session struct {
	// Secret is the cookie's value.
	Secret    string
	Principal *Principal
	ExpiresAt time.Time
}

// OpenSession opens a console session for the principal a token, a login
// link or single sign-on established. parentID is the token it was opened
// with, whose revocation ends it too; empty for the others.
func (a *Authenticator) OpenSession(ctx context.Context, subject string, roles []string, parentID string) (*Session, error) {
	now := a.now()
	// Housekeeping: sessions pile up, one per login.
	if _, err := a.store.CredentialPurge(ctx, now.Add(-purgeAfter)); err != nil {
		return nil, err
	}
	secret := newSecret("")
	expires := now.Add(a.sessionTTL)
	c := &store.Credential{
		Kind: store.CredentialSession, SecretHash: HashSecret(secret), Subject: subject, Roles: roles, ParentID: parentID,
		CreatedBy: subject, CreatedAt: now, ExpiresAt: &expires,
	}
	if err := a.store.CredentialInsert(ctx, c); err != nil {
		return nil, err
	}
	p := principalOf(c, ViaSession)
	p.CSRFToken = csrfToken(secret)
	return &Session{Secret: secret, Principal: p, ExpiresAt: expires}, nil
}

// NewLoginLink returns a one-time code that opens a session as the admin
// within LoginLinkTTL.
func (a *Authenticator) NewLoginLink(ctx context.Context, createdBy string) (code string, expires time.Time, err error) {
	code = newSecret("")
	expires = a.now().Add(LoginLinkTTL).UTC()
	c := &store.Credential{
		Kind: store.CredentialLoginLink, SecretHash: HashSecret(code), Subject: AdminSubject, Roles: []string{RoleAdmin},
		CreatedBy: createdBy, CreatedAt: a.now(), ExpiresAt: &expires,
	}
	if err := a.store.CredentialInsert(ctx, c); err != nil {
		return "", time.Time{}, err
	}
	return code, expires, nil
}

// UseLoginLink takes a login link's code, which then no longer works, and
// opens a session for it.
func (a *Authenticator) UseLoginLink(ctx context.Context, code string) (*Session, error) {
	c, err := a.store.CredentialTake(ctx, store.CredentialLoginLink, HashSecret(code), a.now())
	if err != nil {
		return nil, unauthenticated(err)
	}
	return a.OpenSession(ctx, c.Subject, c.Roles, "")
}

// AdminTokenFile is the name of the admin token's file in a data
// directory.
const AdminTokenFile = "admin.token"

// EnsureAdminToken makes sure the file at path holds an admin token in
// force, named name: it keeps the token there if the store knows it, and
// otherwise revokes any token of that name, creates one and writes it to
// path (mode 0600, atomically). It returns the token.
func (a *Authenticator) EnsureAdminToken(ctx context.Context, path, name string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		secret := strings.TrimSpace(string(b))
		p, err := a.Token(ctx, secret)
		switch {
		case err == nil && p.HasRole(RoleAdmin):
			return secret, nil
		case err != nil && !errors.Is(err, ErrUnauthenticated):
			return "", err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	tokens, err := a.Tokens(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range tokens {
		if t.Name == name {
			if _, err := a.RevokeToken(ctx, t.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return "", err
			}
		}
	}
	secret, _, err := a.CreateToken(ctx, TokenParams{Name: name, Roles: []string{RoleAdmin}, CreatedBy: "sluice", Subject: AdminSubject})
	if err != nil {
		return "", err
	}
	if err := atomicfile.Write(path, []byte(secret+"\n")); err != nil {
		return "", fmt.Errorf("write admin token: %w", err)
	}
	return secret, nil
}
