// Package egress owns the rules for calls Sluice makes to addresses a
// pipeline names — webhook stages, notifications, http/file artifacts: an
// allow-list of destination hosts, checked on the URL and again on every
// address dialed, and an HTTP client that keeps to it (on every redirect
// too, and without a proxy). It decides where Sluice may connect; it must
// not know what is sent.
package egress

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Loopback in an allow-list allows the loopback addresses: localhost,
// 127.0.0.0/8 and ::1.
const Loopback = "loopback"

// Setting names the sluice.yaml key an allow-list comes from, so that a
// refusal says what an administrator changes.
type Setting struct {
	Key string // "webhooks.allowedHosts"
	Doc string // the page that documents it: "docs/webhooks.md"
}

// Policy is an allow-list of destination hosts, from a Setting's entries:
//
//   - No entries: loopback only (localhost, 127.0.0.0/8, ::1), so that a
//     pipeline cannot make the server reach into its network until an
//     administrator says where it may.
//   - "loopback" (or "localhost") allows loopback beside the other
//     entries; a list without it refuses loopback.
//   - A host name ("ci.example.com"), a wildcard ("*.example.com", its
//     subdomains, not example.com itself) or "*" (any name) allows the
//     name; the addresses it resolves to must be public.
//   - An address or network ("10.1.2.3", "10.0.0.0/8", "fd00::/8") allows
//     URLs naming such an address, and dialing it whatever name resolved
//     to it: list a private network to reach a host inside it.
//
// Link-local (169.254.0.0/16, where cloud metadata services answer,
// fe80::/10), private (RFC 1918, fc00::/7), shared (100.64.0.0/10),
// unspecified and multicast addresses are refused unless an entry lists
// them. Names compare without case; ports are not part of an entry.
type Policy struct {
	setting  Setting
	entries  []string
	loopback bool
	names    []string // lower case: exact names, "*.suffix", or "*"
	networks []netip.Prefix
}

// NewPolicy builds the policy of a setting's entries; an error names the
// bad entry.
func NewPolicy(s Setting, hosts []string) (*Policy, error) {
	p := &Policy{setting: s, entries: slices.Clone(hosts), loopback: len(hosts) == 0}
	for i, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "":
			return nil, fmt.Errorf("%s[%d] is empty: give a host name, *.domain, an IP address, a CIDR network or %q", s.Key, i, Loopback)
		case h == Loopback, h == "localhost":
			p.loopback = true
		case strings.Contains(h, "://"):
			return nil, fmt.Errorf("%s[%d] %q is not a host name: give it without scheme, port or path (ci.example.com, *.example.com)", s.Key, i, hosts[i])
		case strings.Contains(h, "/"):
			pr, err := netip.ParsePrefix(h)
			if err != nil {
				return nil, fmt.Errorf("%s[%d] %q is not a CIDR network such as 10.0.0.0/8; give a host without scheme or path", s.Key, i, hosts[i])
			}
			p.networks = append(p.networks, pr.Masked())
		case strings.Contains(h, ":") && !strings.Contains(h, "."):
			a, err := netip.ParseAddr(strings.Trim(h, "[]"))
			if err != nil {
				return nil, fmt.Errorf("%s[%d] %q is not an IP address; give the host without a port or scheme", s.Key, i, hosts[i])
			}
			p.networks = append(p.networks, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		default:
			if a, err := netip.ParseAddr(h); err == nil {
				p.networks = append(p.networks, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			if strings.ContainsAny(h, ":/@ ") || h != "*" && strings.Contains(strings.TrimPrefix(h, "*."), "*") {
				return nil, fmt.Errorf("%s[%d] %q is not a host name: give it without scheme, port or path (ci.example.com, *.example.com)", s.Key, i, hosts[i])
			}
			p.names = append(p.names, strings.TrimSuffix(h, "."))
		}
	}
	return p, nil
}

// Entries returns the list the policy was built from.
func (p *Policy) Entries() []string { return slices.Clone(p.entries) }

// RefusedError is a destination the policy does not allow.
type RefusedError struct {
	Host    string // the URL's host, or the dialed address
	Reason  string
	Setting Setting
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s refused: %s; an administrator allows it by listing it under %s in sluice.yaml (%s)", e.Host, e.Reason, e.Setting.Key, e.Setting.Doc)
}

// Refused returns the RefusedError inside err, if any.
func Refused(err error) *RefusedError {
	var r *RefusedError
	if errors.As(err, &r) {
		return r
	}
	return nil
}

func (p *Policy) refuse(host, reason string) error {
	return &RefusedError{Host: host, Reason: reason, Setting: p.setting}
}

// CheckURL checks a URL about to be requested: its scheme and host.
func (p *Policy) CheckURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q is not an http:// or https:// URL", Redact(u.String()))
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" {
		return fmt.Errorf("%q has no host", Redact(u.String()))
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		switch {
		case a.IsLoopback() && p.loopback, p.listed(a):
			return nil
		case slices.Contains(p.names, "*") && public(a):
			return nil
		case a.IsLoopback():
			return p.refuse(host, p.notListed("loopback"))
		}
		return p.refuse(host, p.notListed("the address"))
	}
	if isLoopbackName(host) {
		if p.loopback {
			return nil
		}
		return p.refuse(host, p.notListed("loopback"))
	}
	if p.nameAllowed(host) {
		return nil
	}
	return p.refuse(host, p.notListed("the host"))
}

// CheckRawURL is CheckURL of a URL in text.
func (p *Policy) CheckRawURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("%q is not a URL", Redact(raw))
	}
	return p.CheckURL(u)
}

func (p *Policy) notListed(what string) string {
	if len(p.entries) == 0 {
		return "with no allowed hosts configured, only loopback (localhost, 127.0.0.1, ::1) may be called"
	}
	return what + " is not listed (" + strings.Join(p.entries, ", ") + ")"
}

func isLoopbackName(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

func (p *Policy) nameAllowed(host string) bool {
	for _, n := range p.names {
		switch {
		case n == "*", n == host:
			return true
		case strings.HasPrefix(n, "*.") && strings.HasSuffix(host, n[1:]):
			return true
		}
	}
	return false
}

func (p *Policy) listed(a netip.Addr) bool {
	for _, n := range p.networks {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// CheckAddr checks an address about to be dialed, after resolution.
func (p *Policy) CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	switch {
	case a.IsLoopback() && p.loopback, p.listed(a):
		return nil
	case a.IsLoopback():
		return p.refuse(a.String(), p.notListed("loopback"))
	case len(p.names) == 0:
		return p.refuse(a.String(), p.notListed("the address"))
	case !public(a):
		return p.refuse(a.String(), "the host resolves to "+a.String()+", a private, link-local or special address, which is not listed")
	}
	return nil
}

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// public reports whether a is a global unicast address outside private,
// shared and link-local space.
func public(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLinkLocalUnicast() && !sharedSpace.Contains(a)
}

// control is a net.Dialer Control func that refuses what CheckAddr does:
// it sees the address actually dialed, so DNS rebinding cannot slip a
// private address past CheckURL.
func (p *Policy) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dial %s: not an IP address", address)
	}
	return p.CheckAddr(a)
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

// ClientOptions shape a Client.
type ClientOptions struct {
	// Timeout bounds a whole request, body included (DefaultTimeout when
	// zero); ConnectTimeout a connection and TLS handshake, and
	// ResponseHeaderTimeout the wait for the answer (none when zero).
	Timeout, ConnectTimeout, ResponseHeaderTimeout time.Duration
	// MaxRedirects is how many redirects are followed (5 when zero).
	MaxRedirects int
	// Resolver resolves names (net.DefaultResolver when nil).
	Resolver *net.Resolver
}

// Client returns an HTTP client that refuses, before connecting, a request
// or redirect to a host the policy does not allow, and refuses dialing an
// address it does not allow, whatever name resolved to it.
func (p *Policy) Client(o ClientOptions) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = 5
	}
	dialer := &net.Dialer{Timeout: o.ConnectTimeout, Control: p.control, Resolver: o.Resolver}
	tr := &http.Transport{
		// No proxy: a proxy would be dialed instead of the host, and the
		// address check would see the proxy's address.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Timeout:   o.Timeout,
		Transport: &checked{p: p, next: tr},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= o.MaxRedirects {
				return fmt.Errorf("stopped after %d redirects", o.MaxRedirects)
			}
			return nil
		},
	}
}

// checked is a RoundTripper that checks each request's URL, redirects
// included, before it is sent.
type checked struct {
	p    *Policy
	next http.RoundTripper
}

func (c *checked) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := c.p.CheckURL(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return c.next.RoundTrip(req)
}
