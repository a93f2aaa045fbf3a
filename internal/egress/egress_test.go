package egress

import (
	"strings"
	"testing"
)

func TestAllows(t *testing.T) {
	t.Parallel()
	l, err := NewAllowList("x", []string{"hooks.slack.com", "*.webhook.office.com", Loopback, "10.0.0.7"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"hooks.slack.com": true, "HOOKS.SLACK.COM": true, "hooks.slack.com.": true,
		"evil-hooks.slack.com": false, "slack.com": false,
		"acme.webhook.office.com": true, "webhook.office.com": false, "acme.webhook.office.com.evil.com": false,
		"localhost": true, "127.0.0.1": true, "127.9.9.9": true, "::1": true, "[::1]": true,
		"10.0.0.7": true, "10.0.0.8": false, "169.254.169.254": false, "": false,
	} {
		if got := l.Allows(host); got != want {
			t.Errorf("Allows(%q) = %v, want %v", host, got, want)
		}
	}
	empty, _ := NewAllowList("x", nil)
	if empty.Allows("localhost") {
		t.Error("the empty list allows localhost")
	}
}

func TestNewAllowListErrors(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "https://hooks.slack.com", "hooks.slack.com:443", "a.*.com", "host/path"} {
		if _, err := NewAllowList("notifications.allowedHosts", []string{bad}); err == nil || !strings.Contains(err.Error(), "notifications.allowedHosts[0]") {
			t.Errorf("NewAllowList(%q): %v, want an error naming the entry", bad, err)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T/B/secret": "https://hooks.slack.com/…",
		"https://user:pw@example.com/?token=x":        "https://example.com/…",
		"https://example.com":                         "https://example.com",
		"#deploys":                                    "#deploys",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
