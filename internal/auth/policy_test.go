package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/auth"
)

const policyYAML = `
server:
  hosts: [sluice.example.com]
auth:
  admins: [user:root, platform]
  sessionTtl: 8h
  applications:
    shop:
      read: [support]
      execute: [deployers, "user:carol"]
      write: [shop-devs, "token:ci"]
    "*":
      read: [everyone]
`

func mustPolicy(t *testing.T, doc string) *auth.Policy {
	t.Helper()
	cfg, err := auth.ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return auth.NewPolicy(cfg)
}

func TestPolicyAllows(t *testing.T) {
	t.Parallel()
	pol := mustPolicy(t, policyYAML)
	var (
		nobody   = &auth.Principal{Name: "dave"}
		support  = &auth.Principal{Name: "erin", Roles: []string{"support"}}
		deployer = &auth.Principal{Name: "frank", Roles: []string{"deployers"}}
		carol    = &auth.Principal{Name: "carol"}
		dev      = &auth.Principal{Name: "gina", Roles: []string{"shop-devs"}}
		ci       = &auth.Principal{Name: "token:ci", Via: auth.ViaToken}
		other    = &auth.Principal{Name: "token:other", Via: auth.ViaToken}
		everyone = &auth.Principal{Name: "hal", Roles: []string{"everyone"}}
		root     = &auth.Principal{Name: "root"}
		platform = &auth.Principal{Name: "ivy", Roles: []string{"platform"}}
		admin    = &auth.Principal{Name: "admin", Roles: []string{auth.RoleAdmin}}
		// A role named like a user grant does not match it: "user:carol"
		// names the principal carol, not a role.
		fakeCarol = &auth.Principal{Name: "mallory", Roles: []string{"carol"}}
		// Nor does a role spelled as the grant: an identity provider's
		// group "user:carol" or "token:ci" is not carol or the token.
		groupCarol = &auth.Principal{Name: "mallory", Roles: []string{"user:carol", "token:ci", "user:root"}}
		// Nor a user named like a role: "platform" the user is not in the
		// role platform, and "deployers" not in the role deployers.
		namedLikeRoles = &auth.Principal{Name: "deployers"}
		namedPlatform  = &auth.Principal{Name: "platform"}
	)
	// want[i] is whether the principal has read, execute, write on shop.
	tests := []struct {
		p    *auth.Principal
		app  string
		want [3]bool
	}{
		{nobody, "shop", [3]bool{false, false, false}},
		{support, "shop", [3]bool{true, false, false}},
		{deployer, "shop", [3]bool{true, true, false}},
		{carol, "shop", [3]bool{true, true, false}},
		{fakeCarol, "shop", [3]bool{false, false, false}},
		{groupCarol, "shop", [3]bool{false, false, false}},
		{namedLikeRoles, "shop", [3]bool{false, false, false}},
		{namedPlatform, "shop", [3]bool{false, false, false}},
		{dev, "shop", [3]bool{true, true, true}},
		{ci, "shop", [3]bool{true, true, true}},
		{other, "shop", [3]bool{false, false, false}},
		{everyone, "shop", [3]bool{true, false, false}},
		{everyone, "anything", [3]bool{true, false, false}},
		{dev, "blog", [3]bool{false, false, false}},
		{support, "blog", [3]bool{false, false, false}},
		{root, "blog", [3]bool{true, true, true}},
		{platform, "shop", [3]bool{true, true, true}},
		{admin, "blog", [3]bool{true, true, true}},
		{nil, "shop", [3]bool{false, false, false}},
	}
	for _, tt := range tests {
		name := "nil"
		if tt.p != nil {
			name = tt.p.Name
		}
		for i, perm := range []auth.Permission{auth.Read, auth.Execute, auth.Write} {
			if got := pol.Allows(tt.p, tt.app, perm); got != tt.want[i] {
				t.Errorf("%s %s on %s = %v, want %v", name, perm, tt.app, got, tt.want[i])
			}
		}
	}
	for _, p := range []*auth.Principal{root, platform, admin} {
		if !pol.IsAdmin(p) {
			t.Errorf("IsAdmin(%s) = false", p.Name)
		}
	}
	for _, p := range []*auth.Principal{nobody, dev, ci, groupCarol, namedPlatform, nil} {
		if pol.IsAdmin(p) {
			t.Errorf("IsAdmin(%v) = true", p)
		}
	}
}

func TestZeroPolicyAllowsOnlyAdmins(t *testing.T) {
	t.Parallel()
	pol := auth.NewPolicy(auth.Config{})
	if pol.Allows(&auth.Principal{Name: "dev", Roles: []string{"writers"}}, "shop", auth.Read) {
		t.Error("the zero policy lets a non-admin read")
	}
	if !pol.Allows(&auth.Principal{Name: "admin", Roles: []string{auth.RoleAdmin}}, "shop", auth.Write) {
		t.Error("the zero policy refuses the admin")
	}
}

func TestPolicyErrorsSayWhatToDo(t *testing.T) {
	t.Parallel()
	pol := mustPolicy(t, policyYAML)
	support := &auth.Principal{Name: "erin", Roles: []string{"support"}}
	err := pol.Check(support, "shop", auth.Write)
	var denied *auth.DeniedError
	if !errors.As(err, &denied) || denied.Principal != "erin" {
		t.Fatalf("Check = %v, want a *auth.DeniedError for erin", err)
	}
	for _, want := range []string{"erin", "save or delete pipelines of application shop", "auth.applications.shop.write"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error %q lacks %q", err, want)
		}
	}
	if err := pol.Check(support, "shop", auth.Read); err != nil {
		t.Errorf("Check read = %v", err)
	}
	err = pol.CheckAdmin(support, "revoke tokens")
	if !errors.As(err, &denied) || !strings.Contains(err.Error(), "only admins may revoke tokens") || !strings.Contains(err.Error(), "auth.admins") {
		t.Errorf("CheckAdmin = %v", err)
	}
	if err := pol.CheckAdmin(&auth.Principal{Name: "root"}, "revoke tokens"); err != nil {
		t.Errorf("CheckAdmin(root) = %v", err)
	}
}

func TestCheckJudge(t *testing.T) {
	t.Parallel()
	pol := mustPolicy(t, policyYAML)
	tests := []struct {
		p       *auth.Principal
		roles   []string
		wantErr string // "" when allowed
	}{
		{&auth.Principal{Name: "a"}, nil, ""},
		{&auth.Principal{Name: "a", Roles: []string{"qa"}}, []string{"release-managers"}, "this judgment needs one of the roles release-managers, and a has qa"},
		{&auth.Principal{Name: "a"}, []string{"release-managers", "sre"}, "needs one of the roles release-managers, sre, and a has none"},
		{&auth.Principal{Name: "a", Roles: []string{"sre"}}, []string{"release-managers", "sre"}, ""},
		// A user grant is not a role: judgment roles are roles.
		{&auth.Principal{Name: "release-managers"}, []string{"release-managers"}, "needs one of the roles"},
		{&auth.Principal{Name: "root"}, []string{"release-managers"}, ""},
		{&auth.Principal{Name: "x", Roles: []string{auth.RoleAdmin}}, []string{"release-managers"}, ""},
	}
	for _, tt := range tests {
		err := pol.CheckJudge(tt.p, tt.roles)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("CheckJudge(%s %v, %v) = %v, want nil", tt.p.Name, tt.p.Roles, tt.roles, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("CheckJudge(%s %v, %v) = %v, want an error with %q", tt.p.Name, tt.p.Roles, tt.roles, err, tt.wantErr)
		}
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	cfg, err := auth.ParseConfig([]byte(policyYAML))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SessionTTL != "8h" {
		t.Errorf("sessionTtl = %q, want 8h", cfg.SessionTTL)
	}
	if g := cfg.Applications["shop"]; len(g.Execute) != 2 || g.Write[1] != "token:ci" {
		t.Errorf("shop grants = %+v", g)
	}
	for _, doc := range []string{"", "server: {}\n", "auth:\n", "auth: null\n"} {
		cfg, err := auth.ParseConfig([]byte(doc))
		if err != nil || len(cfg.Admins)+len(cfg.Applications) != 0 {
			t.Errorf("ParseConfig(%q) = %+v, %v, want the zero config", doc, cfg, err)
		}
		if cfg.SessionTTL != "" {
			t.Errorf("ParseConfig(%q): sessionTtl %q, want none", doc, cfg.SessionTTL)
		}
	}
}

func TestParseConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		doc  string
		want []string
	}{
		{"auth:\n  admin: [root]\n", []string{`unknown field "admin"`, "known fields: admins, applications, sessionTtl, oidc"}},
		{"auth:\n  applications:\n    shop:\n      deploy: [x]\n", []string{`unknown field "deploy"`, "read, execute, write"}},
		{"auth:\n  admins: [root, '']\n", []string{"auth.admins[1] is empty", "role, user:NAME or token:NAME"}},
		{"auth:\n  applications:\n    shop:\n      write: ['  ']\n", []string{"auth.applications.shop.write[0] is empty"}},
		{"auth:\n  applications:\n    '':\n      read: [x]\n", []string{"empty application name", `"*"`}},
		{"auth:\n  sessionTtl: forever\n", []string{`auth.sessionTtl "forever"`, `"8h"`}},
		{"auth:\n  sessionTtl: 10s\n", []string{`auth.sessionTtl "10s"`, "a minute or more"}},
		{"auth:\n  admins: root\n", []string{"auth:", "admins"}},
		{"auth: [1, 2]\n", []string{"auth:"}},
		{"auth: {\n", []string{"auth:"}},
		// Every problem at once.
		{"auth:\n  admins: ['']\n  sessionTtl: x\n", []string{"auth.admins[0]", "auth.sessionTtl"}},
	}
	for _, tt := range tests {
		_, err := auth.ParseConfig([]byte(tt.doc))
		if err == nil {
			t.Errorf("ParseConfig(%q) = nil error", tt.doc)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseConfig(%q) = %q, want it to contain %q", tt.doc, err, w)
			}
		}
	}
}
