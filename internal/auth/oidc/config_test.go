package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/auth/oidc"
	"github.com/sluice-cd/sluice/internal/auth/oidc/oidctest"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	good := oidc.Config{
		Issuer:       "https://dex.example.com",
		ClientID:     "sluice",
		ClientSecret: "s3cret",
		RedirectURL:  "https://sluice.example.com/auth/oidc/callback",
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*oidc.Config)
		want   []string
	}{
		{"empty", func(c *oidc.Config) { *c = oidc.Config{} }, []string{
			"auth.oidc.issuer: required", "auth.oidc.clientId: required",
			"auth.oidc.clientSecret: give the client secret exactly one way", "auth.oidc.redirectUrl: required",
		}},
		{"plain http issuer", func(c *oidc.Config) { c.Issuer = "http://dex.example.com" }, []string{
			`auth.oidc.issuer: "http://dex.example.com" must use https (http is accepted on loopback addresses only)`,
		}},
		{"relative redirect", func(c *oidc.Config) { c.RedirectURL = "/auth/oidc/callback" }, []string{
			`auth.oidc.redirectUrl: "/auth/oidc/callback" is not an absolute http(s) URL`,
		}},
		{"two secrets", func(c *oidc.Config) { c.ClientSecretEnv = "SLUICE_OIDC_SECRET" }, []string{
			"auth.oidc.clientSecret: give the client secret exactly one way: clientSecret, clientSecretFile or clientSecretEnv (2 given)",
		}},
		{"scopes in one string", func(c *oidc.Config) { c.Scopes = []string{"openid", "email groups"} }, []string{
			`auth.oidc.scopes[1]: "email groups" is not a scope: one word per entry`,
		}},
		{"empty group", func(c *oidc.Config) { c.AllowedGroups = []string{"ops", ""} }, []string{
			"auth.oidc.allowedGroups[1]: empty group name",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.change(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	loopback := good
	loopback.Issuer, loopback.RedirectURL = "http://127.0.0.1:5556/dex", "http://localhost:8080/auth/oidc/callback"
	if err := loopback.Validate(); err != nil {
		t.Errorf("http on loopback refused: %v", err)
	}
}

// TestSecretOutsideTheFile logs in with the client secret read from a file
// and from an environment variable: the provider accepts the exchange only
// with the right secret.
func TestSecretOutsideTheFile(t *testing.T) {
	// t.Setenv: not parallel.
	file := filepath.Join(t.TempDir(), "client-secret")
	for _, tc := range []struct {
		name  string
		set   func(c *oidc.Config, secret string)
		valid bool
	}{
		{"file", func(c *oidc.Config, s string) {
			if err := os.WriteFile(file, []byte(s+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c.ClientSecret, c.ClientSecretFile = "", file
		}, true},
		{"environment", func(c *oidc.Config, s string) {
			t.Setenv("SLUICE_TEST_OIDC_SECRET", s)
			c.ClientSecret, c.ClientSecretEnv = "", "SLUICE_TEST_OIDC_SECRET"
		}, true},
		{"wrong secret", func(c *oidc.Config, s string) { c.ClientSecret = "not-" + s }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startApp(t, alice, func(c *oidc.Config) { tc.set(c, c.ClientSecret) })
			status, body := a.login(t)
			if tc.valid && status != http.StatusOK || !tc.valid && !strings.Contains(body, "refused the login code: invalid_client (check auth.oidc.clientId and the client secret)") {
				t.Errorf("got %d %s", status, body)
			}
			// mockoidc echoes the secret it was sent in its error
			// description; the user must not see it.
			if strings.Contains(body, a.idp.ClientSecret) {
				t.Errorf("the answer shows the client secret: %s", body)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	idp := oidctest.Start(t, alice)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	opts := oidc.Options{Secret: secret, HTTPClient: &http.Client{Transport: tr}}
	// The same provider under another name for the same address: its
	// discovery document names the issuer it signs as, which differs.
	u, _ := url.Parse(idp.Issuer)
	other := "http://localhost:" + u.Port() + u.Path
	for _, tc := range []struct {
		name   string
		change func(*oidc.Config, *oidc.Options)
		want   string
	}{
		{"issuer under another name", func(c *oidc.Config, _ *oidc.Options) { c.Issuer = other },
			"auth.oidc.issuer: discover the provider at " + other + ": oidc: issuer URL provided to client (\"" + other + "\") did not match"},
		{"no such provider", func(c *oidc.Config, _ *oidc.Options) { c.Issuer = idp.Issuer + "/nothing" },
			"auth.oidc.issuer: discover the provider at " + idp.Issuer + "/nothing: 404"},
		{"secret file missing", func(c *oidc.Config, _ *oidc.Options) { c.ClientSecret, c.ClientSecretFile = "", "/nonexistent/secret" },
			"auth.oidc.clientSecretFile: open /nonexistent/secret: no such file or directory"},
		{"secret variable unset", func(c *oidc.Config, _ *oidc.Options) {
			c.ClientSecret, c.ClientSecretEnv = "", "SLUICE_TEST_OIDC_UNSET"
		}, "auth.oidc.clientSecretEnv: the environment variable SLUICE_TEST_OIDC_UNSET is not set or empty"},
		{"short cookie secret", func(_ *oidc.Config, o *oidc.Options) { o.Secret = secret[:16] },
			"oidc secret has 16 bytes; give at least 32 random bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, o := idp.Config("http://127.0.0.1:1/auth/oidc/callback"), opts
			tc.change(&c, &o)
			_, err := oidc.New(context.Background(), c, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestIsLocalPath(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"/", "/applications/shop", "/executions/01J?tab=log#stage-2", "/a/../b", "/%2F%2Fevil.example"} {
		if !oidc.IsLocalPath(s) {
			t.Errorf("IsLocalPath(%q) = false, want true", s)
		}
	}
	for _, s := range []string{
		"", "applications", "//evil.example", "///evil.example", `/\evil.example`, `/a\b`, "/\t/evil.example", "/\n/evil.example",
		"https://evil.example", "javascript:alert(1)", "/é", "/ok" + strings.Repeat("x", 1024),
	} {
		if oidc.IsLocalPath(s) {
			t.Errorf("IsLocalPath(%q) = true, want false", s)
		}
	}
}

// FuzzIsLocalPath checks that whatever IsLocalPath accepts stays on this
// server when a browser resolves it, after the browser's own clean-up
// (tabs and newlines dropped, "\" read as "/").
func FuzzIsLocalPath(f *testing.F) {
	for _, s := range []string{"/", "//evil.example", `/\evil.example`, "/\t/evil.example", "/a?b=//c", "/.//evil", "/%09/evil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://sluice.example.com/auth/oidc/callback")
	f.Fuzz(func(t *testing.T, s string) {
		if !oidc.IsLocalPath(s) {
			return
		}
		cleaned := strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(s)
		u, err := url.Parse(cleaned)
		if err != nil {
			t.Fatalf("IsLocalPath accepted %q, which does not parse: %v", s, err)
		}
		if got := base.ResolveReference(u); got.Host != base.Host || got.Scheme != base.Scheme {
			t.Fatalf("IsLocalPath accepted %q, which a browser resolves to %s", s, got)
		}
	})
}
