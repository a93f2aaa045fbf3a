// Package egress owns the rules for calls Sluice makes to addresses a
// pipeline names: an allow-list of destination hosts and an HTTP client
// that keeps to it (on every redirect too) and gives up after a timeout.
// It decides where Sluice may connect; it must not know what is sent.
package egress

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Loopback in an allow-list allows the loopback addresses: localhost,
// 127.0.0.0/8 and ::1.
const Loopback = "loopback"

// ErrNotAllowed is the error (wrapped, with the host and the list) of a
// destination the allow-list does not name.
var ErrNotAllowed = errors.New("destination host not allowed")

// AllowList is a list of destination hosts. An entry is a host name
// ("hooks.slack.com"), a wildcard for every subdomain ("*.webhook.office.com",
// which does not match webhook.office.com itself), an IP address, or
// Loopback. Names compare without case; ports are not part of an entry.
// The empty list allows nothing.
type AllowList struct {
	hosts []string
}

// NewAllowList checks the entries and returns the list. key names the
// configuration setting, for the error.
func NewAllowList(key string, hosts []string) (*AllowList, error) {
	l := &AllowList{}
	for i, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		name := strings.TrimPrefix(h, "*.")
		switch {
		case h == "":
			return nil, fmt.Errorf("%s[%d]: empty host", key, i)
		case strings.ContainsAny(h, "/:@ ") && !isIP(h):
			return nil, fmt.Errorf("%s[%d]: %q is not a host name: give the host alone, e.g. hooks.slack.com (no scheme, port or path)", key, i, hosts[i])
		case strings.Contains(name, "*"):
			return nil, fmt.Errorf("%s[%d]: %q: a wildcard is allowed only as a leading \"*.\"", key, i, hosts[i])
		}
		l.hosts = append(l.hosts, h)
	}
	return l, nil
}

func isIP(h string) bool {
	_, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil
}

// Hosts returns the entries.
func (l *AllowList) Hosts() []string { return slices.Clone(l.hosts) }

// Allows reports whether host (a name or an IP address, without port) is
// on the list.
func (l *AllowList) Allows(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	for _, h := range l.hosts {
		switch {
		case h == Loopback:
			if isLoopback(host) {
				return true
			}
		case strings.HasPrefix(h, "*."):
			if strings.HasSuffix(host, h[1:]) && len(host) > len(h)-1 {
				return true
			}
		case h == host:
			return true
		default:
			if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
				if b, err := netip.ParseAddr(host); err == nil && a.Unmap() == b.Unmap() {
					return true
				}
			}
		}
	}
	return false
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// CheckURL checks that raw is an http or https URL whose host is on the
// list.
func (l *AllowList) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", Redact(raw))
	}
	if !l.Allows(u.Hostname()) {
		return fmt.Errorf("%w: %s is not in the allow-list (%s)", ErrNotAllowed, u.Hostname(), strings.Join(l.hosts, ", "))
	}
	return nil
}

// Redact returns raw with the path, query and user information of a URL
// left out: webhook URLs carry their secret there. What is not a URL is
// returned as it is.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	out := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		out += "/…"
	}
	return out
}

// DefaultTimeout bounds one request of a Client, connection to last byte.
const DefaultTimeout = 10 * time.Second

// Client returns an HTTP client that refuses, before connecting, a request
// or redirect to a host not on the list, and gives up after timeout
// (DefaultTimeout when zero).
func (l *AllowList) Client(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a proxy would connect where the list cannot see
	return &http.Client{
		Timeout:   timeout,
		Transport: &checked{l: l, next: tr},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			return nil
		},
	}
}

// checked is a RoundTripper that checks each request's host, redirects
// included, against the list.
type checked struct {
	l    *AllowList
	next http.RoundTripper
}

func (c *checked) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := c.l.CheckURL(req.URL.String()); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return c.next.RoundTrip(req)
}
