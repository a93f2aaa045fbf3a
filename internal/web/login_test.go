package web

import (
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/auth/oidc"
)

func TestLocalPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ next, want string }{
		{"", "/"},
		{"/", "/"},
		{"/executions?status=RUNNING", "/executions?status=RUNNING"},
		{"/executions/abc?stage=1#stage", "/executions/abc?stage=1#stage"},
		{"/pipelines/hello%2Fx/y", "/pipelines/hello%2Fx/y"},
		// Other sites, and what browsers read as other sites.
		{"https://evil.example/", "/"},
		{"//evil.example/", "/"},
		{"///evil.example/", "/"},
		{`/\evil.example/`, "/"},
		{"/\t/evil.example/", "/"},
		{"/\n/evil.example/", "/"},
		{" /x", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"/\u00fc", "/"}, // browsers send it escaped, as /%C3%BC
		{"/" + strings.Repeat("a", 1024), "/"},
		// The login and logout pages would loop.
		{"/login?next=/x", "/"},
		{"/logout", "/"},
	}
	for _, tt := range tests {
		got := localPath(tt.next)
		if got != tt.want {
			t.Errorf("localPath(%q) = %q, want %q", tt.next, got, tt.want)
		}
		// What the console returns to, single sign-on returns to too.
		if !oidc.IsLocalPath(got) {
			t.Errorf("localPath(%q) = %q, which single sign-on refuses", tt.next, got)
		}
		if got == tt.next && tt.next != "/" && !oidc.IsLocalPath(tt.next) {
			t.Errorf("localPath accepts %q, which single sign-on refuses", tt.next)
		}
	}
}

func TestSingleSignOnURL(t *testing.T) {
	t.Parallel()
	if got, want := singleSignOnURL("/executions?status=RUNNING"), "/auth/oidc/login?returnTo=%2Fexecutions%3Fstatus%3DRUNNING"; got != want {
		t.Errorf("singleSignOnURL = %q, want %q", got, want)
	}
}

func TestOrList(t *testing.T) {
	t.Parallel()
	if got := orList([]string{"a", "b", "c"}); got != "a, b or c" {
		t.Errorf("orList = %q", got)
	}
}
