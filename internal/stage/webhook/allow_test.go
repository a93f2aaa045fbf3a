package webhook_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// outsideServer is a receiver on this machine's first address that is not
// loopback, which the allow-list treats as another host; the test skips
// when the machine has none.
func outsideServer(t *testing.T) (netip.Addr, *receiver) {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a.String())
		if err != nil || !pfx.Addr().Is4() || pfx.Addr().IsLoopback() {
			continue
		}
		ip := pfx.Addr()
		l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		if err != nil {
			continue
		}
		rc := &receiver{}
		rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc.mu.Lock()
			rc.requests = append(rc.requests, request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()})
			rc.mu.Unlock()
			writeJSON(w, http.StatusOK, map[string]any{"ok": true})
		}))
		rc.Listener.Close()
		rc.Listener = l
		rc.Start()
		t.Cleanup(rc.Close)
		return ip, rc
	}
	t.Skip("this machine has no IPv4 address besides loopback")
	return netip.Addr{}, nil
}

// TestAllowedHosts: a host that is not loopback is refused by default and
// called once listed, by address or by a name that resolves to it; a
// listed name that resolves to a private or link-local address (DNS
// rebinding, cloud metadata) is refused when it is dialed.
func TestAllowedHosts(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		ip, rc := outsideServer(t)
		_, port, _ := net.SplitHostPort(rc.Listener.Addr().String())
		dns := startDNS(t, map[string]netip.Addr{
			"hooks.test":  ip,
			"rebind.test": netip.MustParseAddr("10.9.8.7"),
			"meta.test":   netip.MustParseAddr("169.254.169.254"),
		})
		names := []string{"hooks.test", "rebind.test", "meta.test"}
		if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLinkLocalUnicast() {
			names = append(names, ip.String()) // a private address is reached only when listed
		}
		byIP := "http://" + net.JoinHostPort(ip.String(), port) + "/by-ip"

		closed := startEngine(t, st, fast())
		ex := closed.waitDone(t, closed.trigger(t, nil, hookStage(map[string]any{"url": byIP})))
		if msg := stageError(t, ex); ex.Status != status.Terminal || !strings.Contains(msg, ip.String()) || !strings.Contains(msg, "webhooks.allowedHosts") {
			t.Errorf("no allowedHosts: %s, %q; want TERMINAL naming %s and webhooks.allowedHosts", ex.Status, msg, ip)
		}
		if n := len(rc.got("/by-ip")); n != 0 {
			t.Errorf("requests with no allowedHosts = %d, want 0", n)
		}

		// Engines on one database share its jobs: stop the first before
		// another with a different allow-list runs.
		if err := closed.e.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		opts := fast(append(names, ip.String())...)
		opts.Resolver = dns
		open := startEngine(t, st, opts)
		for _, u := range []string{byIP, "http://hooks.test:" + port + "/by-name"} {
			ex := open.waitDone(t, open.trigger(t, nil, hookStage(map[string]any{"url": u})))
			if ex.Status != status.Succeeded {
				t.Errorf("%s, listed: %s (%s)", u, ex.Status, stageError(t, ex))
			}
		}
		if len(rc.got("/by-ip")) != 1 || len(rc.got("/by-name")) != 1 {
			t.Errorf("requests by address %d, by name %d; want one each", len(rc.got("/by-ip")), len(rc.got("/by-name")))
		}

		for name, addr := range map[string]string{"rebind.test": "10.9.8.7", "meta.test": "169.254.169.254"} {
			ex := open.waitDone(t, open.trigger(t, nil, hookStage(map[string]any{"url": "http://" + name + ":" + port + "/x"})))
			msg := stageError(t, ex)
			if ex.Status != status.Terminal || !strings.Contains(msg, "resolves to "+addr) || !strings.Contains(msg, "webhooks.allowedHosts") {
				t.Errorf("%s: %s, %q; want TERMINAL: resolves to %s, not listed", name, ex.Status, msg, addr)
			}
		}
	})
}
