package egress

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

var testSetting = Setting{Key: "test.allowedHosts", Doc: "docs/test.md"}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPolicy: which URLs and dialed addresses each allow-list lets
// through.
func TestPolicy(t *testing.T) {
	t.Parallel()
	empty, err := NewPolicy(testSetting, nil)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := NewPolicy(testSetting, []string{"CI.example.com", "*.corp.test", "10.0.0.0/8", "192.0.2.9", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	star, err := NewPolicy(testSetting, []string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	urls := []struct {
		policy *Policy
		url    string
		ok     bool
	}{
		{empty, "http://localhost:8080/x", true},
		{empty, "http://127.0.0.7/x", true},
		{empty, "http://[::1]:9/x", true},
		{empty, "http://example.com/x", false},
		{empty, "http://10.0.0.1/x", false},
		{empty, "ftp://localhost/x", false},
		{empty, "file:///etc/passwd", false},
		{listed, "https://ci.example.com/x", true},
		{listed, "https://ci.example.com./x", true},
		{listed, "https://evil-ci.example.com/x", false},
		{listed, "https://a.b.corp.test/x", true},
		{listed, "https://corp.test/x", false},
		{listed, "http://10.200.0.1/x", true},
		{listed, "http://192.0.2.9/x", true},
		{listed, "http://192.0.2.10/x", false},
		{listed, "http://[fd00::5]/x", true},
		{listed, "http://[::ffff:10.0.0.1]/x", true},
		{listed, "http://169.254.169.254/x", false},
		{star, "http://anything.example/x", true},
		{star, "http://8.8.8.8/x", true},
		{star, "http://10.0.0.1/x", false},
	}
	for _, c := range urls {
		u := mustURL(t, c.url)
		if err := c.policy.CheckURL(u); (err == nil) != c.ok {
			t.Errorf("CheckURL(%s) = %v, want allowed %v", c.url, err, c.ok)
		}
	}
	addrs := []struct {
		policy *Policy
		addr   string
		ok     bool
	}{
		{empty, "127.0.0.1", true},
		{empty, "::1", true},
		{empty, "93.184.216.34", false},
		{listed, "93.184.216.34", true},
		{listed, "10.1.2.3", true},
		{listed, "172.16.0.1", false},
		{listed, "192.168.1.1", false},
		{listed, "169.254.169.254", false},
		{listed, "100.64.0.1", false},
		{listed, "0.0.0.0", false},
		{listed, "224.0.0.1", false},
		{listed, "fe80::1", false},
		{listed, "fd00::1", true},
		{listed, "fc00::1", false},
		{listed, "::ffff:192.168.0.1", false},
		{listed, "2606:4700::1111", true},
	}
	for _, c := range addrs {
		err := c.policy.CheckAddr(netip.MustParseAddr(c.addr))
		if (err == nil) != c.ok {
			t.Errorf("CheckAddr(%s) = %v, want allowed %v", c.addr, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), testSetting.Key) {
			t.Errorf("CheckAddr(%s): %q does not name %s", c.addr, err, testSetting.Key)
		}
	}
}

// TestPolicyEntries: a bad allowedHosts entry is an error naming it.
func TestPolicyEntries(t *testing.T) {
	t.Parallel()
	for _, entry := range []string{"", "http://ci.example.com", "ci.example.com:8080", "10.0.0.0/33", "a.*.example.com", "host/path"} {
		_, err := NewPolicy(testSetting, []string{"ok.example.com", entry})
		if err == nil || !strings.Contains(err.Error(), "test.allowedHosts[1]") {
			t.Errorf("entry %q: %v, want an error naming test.allowedHosts[1]", entry, err)
		}
	}
}

// TestLoopbackEntry: a list that names hosts refuses loopback unless it
// also lists "loopback" (or "localhost"); the refusal names the setting.
func TestLoopbackEntry(t *testing.T) {
	t.Parallel()
	only, _ := NewPolicy(testSetting, []string{"hooks.slack.com"})
	with, _ := NewPolicy(testSetting, []string{"hooks.slack.com", "loopback"})
	local, _ := NewPolicy(testSetting, []string{"LocalHost"})
	for _, c := range []struct {
		p   *Policy
		url string
		ok  bool
	}{
		{only, "http://localhost:9/x", false},
		{only, "http://127.0.0.1:9/x", false},
		{with, "http://localhost:9/x", true},
		{with, "http://[::1]:9/x", true},
		{local, "http://127.0.0.2/x", true},
		{local, "http://hooks.slack.com/x", false},
	} {
		err := c.p.CheckURL(mustURL(t, c.url))
		if (err == nil) != c.ok {
			t.Errorf("%v CheckURL(%s) = %v, want allowed %v", c.p.Entries(), c.url, err, c.ok)
		}
		if err != nil && (Refused(err) == nil || !strings.Contains(err.Error(), "test.allowedHosts") || !strings.Contains(err.Error(), "docs/test.md")) {
			t.Errorf("CheckURL(%s) = %q: want a RefusedError naming test.allowedHosts and docs/test.md", c.url, err)
		}
	}
	if err := only.CheckAddr(netip.MustParseAddr("127.0.0.1")); err == nil {
		t.Error("dialing loopback with a list that does not name it is allowed")
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

// FuzzPolicy: any entry either is refused with an error naming it or
// makes a policy whose checks answer without panicking.
func FuzzPolicy(f *testing.F) {
	for _, s := range []string{"ci.example.com", "*.corp.test", "10.0.0.0/8", "fd00::/8", "[::1]", "*", "loopback", "https://x", "a.*.b", ""} {
		f.Add(s, "http://ci.example.com:8080/x")
	}
	f.Fuzz(func(t *testing.T, entry, raw string) {
		if len(entry) > 256 || len(raw) > 1024 {
			return
		}
		p, err := NewPolicy(testSetting, []string{entry})
		if err != nil {
			if !strings.Contains(err.Error(), "test.allowedHosts[0]") {
				t.Fatalf("NewPolicy(%q) = %q, want an error naming test.allowedHosts[0]", entry, err)
			}
			return
		}
		if err := p.CheckRawURL(raw); err != nil && Refused(err) != nil && !strings.Contains(err.Error(), "test.allowedHosts") {
			t.Fatalf("CheckRawURL(%q) = %q, want a refusal naming the setting", raw, err)
		}
		if a, err := netip.ParseAddr(strings.TrimSpace(entry)); err == nil && a.Zone() == "" {
			if err := p.CheckAddr(a); err != nil {
				t.Fatalf("entry %q: dialing %s refused: %v", entry, a, err)
			}
		}
	})
}
