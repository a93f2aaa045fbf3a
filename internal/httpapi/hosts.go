package httpapi

import (
	"net"
	"slices"
	"strings"
)

// loopbackHosts are served by every server: no DNS name an attacker
// controls resolves to them in a browser's eyes as these names.
var loopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// hostList is the set of Host names a server answers to; a request for
// any other is refused, which defeats DNS rebinding (a page of
// evil.example whose name now resolves to 127.0.0.1 still says Host:
// evil.example).
type hostList []string

func newHostList(configured []string) hostList {
	h := hostList(slices.Clone(loopbackHosts))
	for _, c := range configured {
		c = strings.ToLower(strings.TrimSpace(c))
		if c != "" && !slices.Contains(h, c) {
			h = append(h, c)
		}
	}
	return h
}

// allowed reports whether host (a Host header: name, name:port, [v6]:port)
// is served. An entry without a port matches every port; one with a port
// only that one.
func (h hostList) allowed(host string) bool {
	host = strings.ToLower(host)
	name := host
	if n, _, err := net.SplitHostPort(host); err == nil {
		name = n // without the brackets of [v6]:port
	} else if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		name = host[1 : len(host)-1]
	}
	name = strings.TrimSuffix(name, ".")
	for _, e := range h {
		if e == name || e == host {
			return true
		}
	}
	return false
}

func (h hostList) String() string { return strings.Join(h, ", ") }
