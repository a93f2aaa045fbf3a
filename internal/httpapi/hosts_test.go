package httpapi

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestHostListAllowed(t *testing.T) {
	t.Parallel()
	h := newHostList([]string{" Sluice.Example.com ", "ci.example.com:8443", "", "localhost"})
	if got := h.String(); got != "localhost, 127.0.0.1, ::1, sluice.example.com, ci.example.com:8443" {
		t.Errorf("hosts = %q", got)
	}
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"localhost:8084", true},
		{"LOCALHOST:8084", true},
		{"localhost.:8084", true},
		{"127.0.0.1:8084", true},
		{"[::1]:8084", true},
		{"[::1]", true},
		{"sluice.example.com", true},
		{"sluice.example.com:443", true},
		{"ci.example.com:8443", true},
		// A configured port is the only one.
		{"ci.example.com", false},
		{"ci.example.com:443", false},
		// What a rebinding page sends.
		{"evil.example", false},
		{"evil.example:8084", false},
		{"localhost.evil.example", false},
		{"127.0.0.1.nip.io:8084", false},
		{"sluice.example.com.evil.example", false},
		{"example.com", false},
		{"127.0.0.2:8084", false},
		{"0.0.0.0:8084", false},
		{"", false},
		// Brackets only around an address, as a URL has them.
		{"localhost]", false},
		{"[localhost", false},
		{"[[::1]]", false},
		{"[127.0.0.1]:80", true},
	}
	for _, tt := range tests {
		if got := h.allowed(tt.host); got != tt.want {
			t.Errorf("allowed(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

// FuzzHostList: allowed never panics, ignores case, and lets through only
// a Host whose name, as a browser's URL would have it, is one the list
// names: no name an attacker's DNS controls passes.
func FuzzHostList(f *testing.F) {
	for _, seed := range []string{"localhost:8084", "[::1]:1", "127.0.0.1", "evil.example", "localhost.", "ci.example.com:8443",
		"[localhost]:80", "localhost]", "LocalHost.:0", "sluice.example.com.:443", "127.0.0.1:8084:1", "[::ffff:127.0.0.1]:80"} {
		f.Add(seed)
	}
	configured := []string{"sluice.example.com", "ci.example.com:8443"}
	h := newHostList(configured)
	f.Fuzz(func(t *testing.T, host string) {
		if len(host) > 1024 {
			return
		}
		got := h.allowed(host)
		if upper := h.allowed(strings.ToUpper(host)); upper != got {
			t.Fatalf("allowed(%q) = %v, but allowed of its upper case = %v", host, got, upper)
		}
		if !got {
			return
		}
		if strings.ToLower(host) == "ci.example.com:8443" {
			return
		}
		u, err := url.Parse("http://" + host + "/")
		if err != nil || u.Host != host {
			return // no browser sends it: its URL would not parse to this Host
		}
		name := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if !slices.Contains(loopbackHosts, name) && name != "sluice.example.com" {
			t.Fatalf("allowed(%q) = true, yet a browser's URL names the host %q", host, name)
		}
	})
}
