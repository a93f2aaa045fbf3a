package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// listenScope is who can reach an address `sluice serve` listens on.
type listenScope int

const (
	scopeLoopback listenScope = iota // this machine only
	scopeAddress                     // one address (or name) of this machine, reachable from the network
	scopeWildcard                    // every interface: 0.0.0.0, ::, or no host
)

// addrScope says who can reach addr (HOST:PORT). A name counts as
// loopback when it resolves to loopback addresses only.
func addrScope(ctx context.Context, addr string) (listenScope, string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, "", usageError(fmt.Sprintf("--addr %q is not HOST:PORT", addr), "for example --addr 127.0.0.1:8084")
	}
	if ip := net.ParseIP(host); ip != nil || host == "" {
		switch {
		case host == "" || ip.IsUnspecified():
			return scopeWildcard, host, nil
		case ip.IsLoopback():
			return scopeLoopback, host, nil
		}
		return scopeAddress, host, nil
	}
	if strings.EqualFold(host, "localhost") {
		return scopeLoopback, host, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return 0, "", usageError(fmt.Sprintf("--addr %s: %v", addr, err), "give an IP address or a name this machine resolves")
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return scopeAddress, host, nil
		}
	}
	return scopeLoopback, host, nil
}

// checkExposure refuses to serve in clear text to the network, and
// returns who can reach opts.Addr and the Host names that address implies.
func checkExposure(ctx context.Context, opts serveOptions) (scope listenScope, hosts []string, err error) {
	scope, host, err := addrScope(ctx, opts.Addr)
	if err != nil {
		return 0, nil, err
	}
	if scope != scopeLoopback && opts.TLS == nil && !opts.BehindProxy {
		return 0, nil, usageError(
			fmt.Sprintf("--addr %s is reachable from the network, and plain HTTP there would carry API tokens, console session cookies and login links in clear text", opts.Addr),
			"serve HTTPS with --tls-cert FILE --tls-key FILE, or give --behind-proxy when a reverse proxy in front terminates TLS; or listen on 127.0.0.1 (the default) and reach it through an SSH tunnel")
	}
	if scope == scopeAddress {
		// The name or address people were told to listen on is the one
		// they browse to; an IP literal cannot be rebound by DNS.
		hosts = []string{strings.Trim(host, "[]")}
	}
	return scope, hosts, nil
}

// loadTLS reads the certificate (chain) and key that --tls-cert and
// --tls-key name, as a listener's TLS configuration.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, usageError("--tls-cert and --tls-key go together", "give both: the PEM certificate (with its chain) and its private key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, &exitError{code: ExitFailed, err: fmt.Errorf("load --tls-cert %s and --tls-key %s: %w", certFile, keyFile, err),
			hint: "give a PEM certificate (with its chain) and the PEM private key that belongs to it"}
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

// localURL is serverURL as a client on this machine reaches it: a
// wildcard address becomes the loopback address, whose name every server
// answers to.
func localURL(serverURL string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		return serverURL
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	}
	return u.String()
}
