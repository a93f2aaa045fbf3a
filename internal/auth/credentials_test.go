package auth_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/store"
)

// newClock is the tests' clock, which they move by hand.
func newClock() *sluicetest.Clock {
	return sluicetest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
}

func newAuthenticator(t *testing.T, st store.Store, cfg auth.Config) (*auth.Authenticator, *sluicetest.Clock) {
	t.Helper()
	clk := newClock()
	a, err := auth.NewAuthenticator(st, cfg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return a, clk
}

func wantUnauthenticated(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("%s: err = %v, want ErrUnauthenticated", what, err)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		a, clk := newAuthenticator(t, st, auth.Config{})
		expires := clk.Now().Add(time.Hour)
		secret, cred, err := a.CreateToken(ctx, auth.TokenParams{Name: "ci", Roles: []string{"deployers"}, ExpiresAt: &expires, CreatedBy: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		if !auth.LooksLikeToken(secret) {
			t.Errorf("secret %q does not look like a token", secret)
		}
		if cred.Subject != "token:ci" || cred.CreatedBy != "admin" || cred.ID == "" {
			t.Errorf("credential = %+v, want subject token:ci by admin with an id", cred)
		}
		if cred.SecretHash != auth.HashSecret(secret) || strings.Contains(cred.SecretHash, secret) {
			t.Errorf("the store is given %q for the secret %q, want only its hash", cred.SecretHash, secret)
		}

		p, err := a.Token(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if p.Name != "token:ci" || !slices.Equal(p.Roles, []string{"deployers"}) || p.Via != auth.ViaToken || p.CredentialID != cred.ID || p.CSRFToken != "" {
			t.Errorf("principal = %+v", p)
		}
		_, err = a.Token(ctx, secret+"x")
		wantUnauthenticated(t, "a wrong secret", err)
		_, err = a.Session(ctx, secret)
		wantUnauthenticated(t, "a token as a session", err)

		// Names are unique among the tokens in force.
		_, _, err = a.CreateToken(ctx, auth.TokenParams{Name: "ci"})
		if !errors.Is(err, auth.ErrInvalid) || !strings.Contains(err.Error(), `"ci"`) || !strings.Contains(err.Error(), "revoke it first") {
			t.Errorf("a second token named ci: %v, want ErrInvalid saying what to do", err)
		}

		// A token without expiry, acting as someone else.
		admin, adminCred, err := a.CreateToken(ctx, auth.TokenParams{Name: "ops", Roles: []string{auth.RoleAdmin}, Subject: auth.AdminSubject})
		if err != nil {
			t.Fatal(err)
		}
		if p, err := a.Token(ctx, admin); err != nil || p.Name != auth.AdminSubject || !p.HasRole(auth.RoleAdmin) {
			t.Errorf("admin token = %+v, %v", p, err)
		}
		names := func() []string {
			t.Helper()
			ts, err := a.Tokens(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, c := range ts {
				out = append(out, c.Name)
			}
			slices.Sort(out)
			return out
		}
		if got := names(); !slices.Equal(got, []string{"ci", "ops"}) {
			t.Errorf("tokens = %v, want ci and ops", got)
		}

		// Expiry.
		clk.Advance(time.Hour)
		_, err = a.Token(ctx, secret)
		wantUnauthenticated(t, "an expired token", err)
		if got := names(); !slices.Equal(got, []string{"ops"}) {
			t.Errorf("tokens after ci expired = %v, want ops", got)
		}

		// Revocation takes effect at once, once.
		revoked, err := a.RevokeToken(ctx, adminCred.ID)
		if err != nil || revoked.RevokedAt == nil || revoked.Name != "ops" {
			t.Fatalf("revoke = %+v, %v", revoked, err)
		}
		_, err = a.Token(ctx, admin)
		wantUnauthenticated(t, "a revoked token", err)
		if _, err := a.RevokeToken(ctx, adminCred.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoking twice: %v, want ErrNotFound", err)
		}
		if got := names(); len(got) != 0 {
			t.Errorf("tokens after revoking = %v, want none", got)
		}
		// A revoked token's name is free again.
		if _, _, err := a.CreateToken(ctx, auth.TokenParams{Name: "ops"}); err != nil {
			t.Errorf("a new token named like a revoked one: %v", err)
		}
	})
}

func TestTokenParamsRules(t *testing.T) {
	t.Parallel()
	a, clk := newAuthenticator(t, sluicetest.OpenSQLite(t), auth.Config{})
	ctx := t.Context()
	for _, name := range []string{"a", "ci", "deploy-bot", "ci.prod_2", "alice@example.com", "0", strings.Repeat("x", 63)} {
		if _, _, err := a.CreateToken(ctx, auth.TokenParams{Name: name}); err != nil {
			t.Errorf("name %q: %v", name, err)
		}
	}
	past, now := clk.Now().Add(-time.Second), clk.Now()
	tests := []struct {
		p    auth.TokenParams
		want string
	}{
		{auth.TokenParams{Name: ""}, `token name ""`},
		{auth.TokenParams{Name: "CI"}, `token name "CI"`},
		{auth.TokenParams{Name: "-ci"}, `token name "-ci"`},
		{auth.TokenParams{Name: ".ci"}, `token name ".ci"`},
		{auth.TokenParams{Name: "c i"}, `token name "c i"`},
		{auth.TokenParams{Name: "a/b"}, `token name "a/b"`},
		{auth.TokenParams{Name: "ci\n"}, `token name "ci\n"`},
		{auth.TokenParams{Name: "café"}, `token name "café"`},
		{auth.TokenParams{Name: strings.Repeat("x", 64)}, "1 to 63 lowercase letters"},
		{auth.TokenParams{Name: "ok", Roles: []string{"a", ""}}, `roles[1] ""`},
		{auth.TokenParams{Name: "ok", Roles: []string{"  "}}, `roles[0] "  "`},
		{auth.TokenParams{Name: "ok", Roles: []string{strings.Repeat("r", 201)}}, "at most 200 bytes"},
		{auth.TokenParams{Name: "ok", ExpiresAt: &past}, "expiresAt"},
		{auth.TokenParams{Name: "ok", ExpiresAt: &now}, "is not in the future"},
	}
	for _, tt := range tests {
		secret, _, err := a.CreateToken(ctx, tt.p)
		if !errors.Is(err, auth.ErrInvalid) || !strings.Contains(err.Error(), tt.want) || secret != "" {
			t.Errorf("CreateToken(%+v) = %q, %v; want ErrInvalid containing %q", tt.p, secret, err, tt.want)
		}
	}
}

func TestLoginLinks(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		a, clk := newAuthenticator(t, st, auth.Config{})
		code, expires, err := a.NewLoginLink(ctx, "sluice")
		if err != nil {
			t.Fatal(err)
		}
		if want := clk.Now().Add(auth.LoginLinkTTL); !expires.Equal(want) {
			t.Errorf("expires %v, want %v", expires, want)
		}
		_, err = a.Token(ctx, code)
		wantUnauthenticated(t, "a login link as a token", err)
		s, err := a.UseLoginLink(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		if s.Principal.Name != auth.AdminSubject || !s.Principal.HasRole(auth.RoleAdmin) || s.Principal.Via != auth.ViaSession {
			t.Errorf("login link session = %+v", s.Principal)
		}
		if p, err := a.Session(ctx, s.Secret); err != nil || p.Name != auth.AdminSubject {
			t.Errorf("the session the link opened: %+v, %v", p, err)
		}
		_, err = a.UseLoginLink(ctx, code)
		wantUnauthenticated(t, "a login link used twice", err)
		_, err = a.UseLoginLink(ctx, "nonsense")
		wantUnauthenticated(t, "an unknown login link", err)

		late, _, err := a.NewLoginLink(ctx, "sluice")
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(auth.LoginLinkTTL + time.Second)
		_, err = a.UseLoginLink(ctx, late)
		wantUnauthenticated(t, "an expired login link", err)
	})
}

func TestSessions(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		a, clk := newAuthenticator(t, st, auth.Config{SessionTTL: "8h"})
		s, err := a.OpenSession(ctx, "carol", []string{"sre"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := clk.Now().Add(8 * time.Hour); !s.ExpiresAt.Equal(want) {
			t.Errorf("session expires %v, want %v (sessionTtl 8h)", s.ExpiresAt, want)
		}
		csrf := s.Principal.CSRFToken
		if csrf == "" || csrf == s.Secret || strings.Contains(s.Secret, csrf) || csrf == auth.HashSecret(s.Secret) {
			t.Errorf("CSRF token %q: want one that is neither the secret %q nor the hash the store keeps", csrf, s.Secret)
		}
		for i := range 2 {
			p, err := a.Session(ctx, s.Secret)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != "carol" || !slices.Equal(p.Roles, []string{"sre"}) || p.Via != auth.ViaSession || p.CSRFToken != csrf {
				t.Errorf("Session #%d = %+v, want carol with the CSRF token %q", i, p, csrf)
			}
		}
		other, err := a.OpenSession(ctx, "carol", []string{"sre"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if other.Principal.CSRFToken == csrf || other.Secret == s.Secret {
			t.Error("two sessions share a secret or a CSRF token")
		}
		_, err = a.Token(ctx, s.Secret)
		wantUnauthenticated(t, "a session as a token", err)

		if err := a.CloseSession(ctx, other.Principal.CredentialID); err != nil {
			t.Fatal(err)
		}
		_, err = a.Session(ctx, other.Secret)
		wantUnauthenticated(t, "a closed session", err)
		if _, err := a.Session(ctx, s.Secret); err != nil {
			t.Errorf("closing one session closed another: %v", err)
		}
		clk.Advance(8 * time.Hour)
		_, err = a.Session(ctx, s.Secret)
		wantUnauthenticated(t, "an expired session", err)
	})
}

func TestNewAuthenticatorChecksSessionTTL(t *testing.T) {
	t.Parallel()
	_, err := auth.NewAuthenticator(sluicetest.OpenSQLite(t), auth.Config{SessionTTL: "1s"}, nil)
	if err == nil || !strings.Contains(err.Error(), "auth.sessionTtl") {
		t.Errorf("err = %v, want one naming auth.sessionTtl", err)
	}
}

func TestEnsureAdminToken(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		a, _ := newAuthenticator(t, st, auth.Config{})
		path := filepath.Join(t.TempDir(), auth.AdminTokenFile)
		const name = "admin@node1"
		ensure := func() string {
			t.Helper()
			secret, err := a.EnsureAdminToken(ctx, path, name)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != secret+"\n" {
				t.Errorf("file holds %q, want the token %q and a newline", data, secret)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if mode := info.Mode().Perm(); mode != 0o600 {
				t.Errorf("file mode %v, want 0600", mode)
			}
			p, err := a.Token(ctx, secret)
			if err != nil || p.Name != auth.AdminSubject || !p.HasRole(auth.RoleAdmin) {
				t.Errorf("the admin token stands for %+v, %v; want the admin", p, err)
			}
			return secret
		}
		inForce := func() []*store.Credential {
			t.Helper()
			ts, err := a.Tokens(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return ts
		}

		first := ensure()
		if second := ensure(); second != first {
			t.Error("a valid admin token was replaced")
		}
		if ts := inForce(); len(ts) != 1 || ts[0].Name != name || ts[0].CreatedBy != "sluice" {
			t.Fatalf("tokens = %+v, want the one admin token %s", ts, name)
		}

		// Revoked: replaced.
		if _, err := a.RevokeToken(ctx, inForce()[0].ID); err != nil {
			t.Fatal(err)
		}
		third := ensure()
		if third == first {
			t.Error("a revoked admin token was kept")
		}

		// The file lost (or holding something else): a new token, and the
		// old one of the same name no longer works.
		for _, content := range []string{"", "sluice_unknown\n"} {
			before := third
			if content == "" {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			third = ensure()
			if third == before {
				t.Errorf("file %q: the token was kept", content)
			}
			_, err := a.Token(ctx, before)
			wantUnauthenticated(t, "the replaced admin token", err)
			if ts := inForce(); len(ts) != 1 || ts[0].Name != name {
				t.Errorf("file %q: tokens in force = %+v, want one named %s", content, ts, name)
			}
		}

		// A token in the file that is not an admin's is replaced too.
		plain, _, err := a.CreateToken(ctx, auth.TokenParams{Name: "plain"})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(plain), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := ensure(); got == plain {
			t.Error("a token without the admin role was kept as the admin token")
		}
		if _, err := a.Token(ctx, plain); err != nil {
			t.Errorf("replacing the file's token revoked %q, which has another name: %v", "plain", err)
		}

		// A path that cannot be read is an error that says so.
		if _, err := a.EnsureAdminToken(ctx, t.TempDir(), name); err == nil || !strings.Contains(err.Error(), "admin token") {
			t.Errorf("a directory as the path: %v, want an error about the admin token", err)
		}
	})
}
