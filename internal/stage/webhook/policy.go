package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
)

// ConfigKey is the sluice.yaml key of the allow-list, named in refusals.
const ConfigKey = "webhooks.allowedHosts"

// Policy decides which hosts a webhook stage may call, from
// webhooks.allowedHosts in sluice.yaml. It is checked twice: on the URL's
// host before a request, and on every address the client dials (after DNS
// resolution, for each redirect too), so a name that resolves to a private
// address — or is made to, between the check and the dial — is refused.
//
//   - Loopback (localhost, 127.0.0.0/8, ::1) is always allowed: with no
//     list, it is all that is.
//   - A host name entry ("ci.example.com"), a wildcard ("*.example.com",
//     its subdomains) or "*" (any name) allows the name; the addresses it
//     resolves to must be public.
//   - An address or network entry ("10.1.2.3", "10.0.0.0/8", "fd00::/8")
//     allows URLs naming such an address, and dialing it whatever name
//     resolved to it: list a private network to reach a host inside it.
//
// Link-local (169.254.0.0/16, where cloud metadata services answer,
// fe80::/10), private (RFC 1918, fc00::/7), shared (100.64.0.0/10),
// unspecified and multicast addresses are refused unless an entry lists
// them.
type Policy struct {
	names    []string // lower case: exact names, "*.suffix", or "*"
	networks []netip.Prefix
}

// NewPolicy builds the policy of the allowedHosts entries; an error names
// the bad entry.
func NewPolicy(allowedHosts []string) (*Policy, error) {
	p := &Policy{}
	for i, h := range allowedHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "":
			return nil, fmt.Errorf("%s[%d] is empty: give a host name, *.domain, an IP address or a CIDR network", ConfigKey, i)
		case strings.Contains(h, "/"):
			pr, err := netip.ParsePrefix(h)
			if err != nil {
				return nil, fmt.Errorf("%s[%d] %q is not a CIDR network such as 10.0.0.0/8", ConfigKey, i, h)
			}
			p.networks = append(p.networks, pr.Masked())
		case strings.ContainsAny(h, ":") && !strings.Contains(h, "."):
			a, err := netip.ParseAddr(strings.Trim(h, "[]"))
			if err != nil {
				return nil, fmt.Errorf("%s[%d] %q is not an IP address; give the host without a port or scheme", ConfigKey, i, h)
			}
			p.networks = append(p.networks, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		default:
			if a, err := netip.ParseAddr(h); err == nil {
				p.networks = append(p.networks, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			if strings.ContainsAny(h, ":/@ ") || h != "*" && strings.Contains(strings.TrimPrefix(h, "*."), "*") {
				return nil, fmt.Errorf("%s[%d] %q is not a host name: give it without scheme, port or path (ci.example.com, *.example.com)", ConfigKey, i, h)
			}
			p.names = append(p.names, strings.TrimSuffix(h, "."))
		}
	}
	return p, nil
}

// RefusedError is a request the policy does not allow.
type RefusedError struct {
	Host   string // the URL's host, or the dialed address
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("webhook to %s refused: %s; an administrator allows it by listing it under %s in sluice.yaml (docs/webhooks.md)", e.Host, e.Reason, ConfigKey)
}

// CheckURL checks a URL the stage is about to call: its scheme and host.
func (p *Policy) CheckURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("webhook URL %q must be http:// or https://", u.Redacted())
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" {
		return fmt.Errorf("webhook URL %q has no host", u.Redacted())
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if a.IsLoopback() || p.listed(a) {
			return nil
		}
		if len(p.names) > 0 && slices.Contains(p.names, "*") && public(a) {
			return nil
		}
		return &RefusedError{Host: host, Reason: "the address is not listed"}
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || p.nameAllowed(host) {
		return nil
	}
	if len(p.names) == 0 && len(p.networks) == 0 {
		return &RefusedError{Host: host, Reason: "with no allowed hosts configured, webhooks may call only loopback (localhost, 127.0.0.1, ::1)"}
	}
	return &RefusedError{Host: host, Reason: "the host is not listed"}
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
	case a.IsLoopback(), p.listed(a):
		return nil
	case len(p.names) == 0 && len(p.networks) == 0:
		return &RefusedError{Host: a.String(), Reason: "with no allowed hosts configured, webhooks may call only loopback addresses"}
	case !public(a):
		return &RefusedError{Host: a.String(), Reason: "the host resolves to " + a.String() + ", a private, link-local or special address, which is not listed"}
	case len(p.names) == 0:
		return &RefusedError{Host: a.String(), Reason: "the address is not listed"}
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

// refused returns the RefusedError inside err, if any.
func refused(err error) *RefusedError {
	var r *RefusedError
	if errors.As(err, &r) {
		return r
	}
	return nil
}
