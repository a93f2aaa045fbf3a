package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// syncBuffer is a bytes.Buffer the server's goroutines may write to while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The server answers the hosts of --allowed-host and of sluice.yaml's
// server.hosts besides the loopback names, and refuses others; at start
// it prints the console's login link and the admin token's file.
func TestServeHosts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(config, []byte("server:\n  hosts: [yaml.example]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(dir, "addr")
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- Main(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--addr-file", addrFile, "--data-dir", filepath.Join(dir, "data"),
			"--lambda-addr", "off", "--log-level", "warn", "--config", config, "--allowed-host", "flag.example"},
			strings.NewReader(""), io.Discard, &stderr, func(string) string { return "" })
	}()
	defer func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("serve exited with %d; stderr:\n%s", code, stderr.String())
		}
	}()
	var url string
	sluicetest.WaitFor(t, "the server's address file", 30*time.Second, func() bool {
		b, err := os.ReadFile(addrFile)
		url = strings.TrimSpace(string(b))
		return err == nil && url != ""
	})
	_, port, _ := strings.Cut(strings.TrimPrefix(url, "http://"), ":")
	for host, want := range map[string]int{
		"127.0.0.1:" + port:    http.StatusOK,
		"localhost:" + port:    http.StatusOK,
		"flag.example:" + port: http.StatusOK,
		"yaml.example":         http.StatusOK,
		"evil.example:" + port: http.StatusMisdirectedRequest,
	} {
		req, err := http.NewRequest(http.MethodGet, url+"/api/v1/health", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: status %d, want %d; body %s", host, resp.StatusCode, want, body)
		}
		if want != http.StatusOK && !strings.Contains(string(body), "server.hosts") {
			t.Errorf("Host %s: body %s does not say how to serve it (server.hosts)", host, body)
		}
	}
	sluicetest.WaitFor(t, "the welcome lines", 30*time.Second, func() bool {
		return strings.Contains(stderr.String(), "Admin token: ")
	})
	out := stderr.String()
	for _, want := range []string{"\nConsole: " + url + "/login?code=", "\nAdmin token: " + filepath.Join(dir, "data", "admin.token") + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckExposure(t *testing.T) {
	t.Parallel()
	tls := loadTLSForTest(t)
	tests := []struct {
		addr        string
		tls         bool
		behindProxy bool
		wantScope   listenScope
		wantHosts   []string
		wantErr     string
	}{
		{addr: "127.0.0.1:8084", wantScope: scopeLoopback},
		{addr: "[::1]:0", wantScope: scopeLoopback},
		{addr: "localhost:0", wantScope: scopeLoopback},
		{addr: "0.0.0.0:0", wantErr: "--addr 0.0.0.0:0 is reachable from the network, and plain HTTP there would carry API tokens"},
		{addr: ":8084", wantErr: "in clear text"},
		{addr: "[::]:8084", wantErr: "in clear text"},
		{addr: "192.0.2.7:8084", wantErr: "in clear text"},
		{addr: "0.0.0.0:0", tls: true, wantScope: scopeWildcard},
		{addr: "[::]:0", behindProxy: true, wantScope: scopeWildcard},
		{addr: "192.0.2.7:8084", tls: true, wantScope: scopeAddress, wantHosts: []string{"192.0.2.7"}},
		{addr: "[2001:db8::7]:8084", behindProxy: true, wantScope: scopeAddress, wantHosts: []string{"2001:db8::7"}},
		{addr: "8084", wantErr: `--addr "8084" is not HOST:PORT`},
	}
	for _, tt := range tests {
		opts := serveOptions{Addr: tt.addr, BehindProxy: tt.behindProxy}
		if tt.tls {
			opts.TLS = tls
		}
		scope, hosts, err := checkExposure(context.Background(), opts)
		if tt.wantErr != "" {
			var ee *exitError
			wantHint := "--tls-cert FILE --tls-key FILE, or give --behind-proxy"
			if strings.Contains(tt.wantErr, "HOST:PORT") {
				wantHint = "for example --addr 127.0.0.1:8084"
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !asExit(err, &ee) || ee.code != ExitUsage || !strings.Contains(ee.hint, wantHint) {
				t.Errorf("checkExposure(%s) = %v, want a usage error containing %q with a hint", tt.addr, err, tt.wantErr)
			}
			continue
		}
		if err != nil || scope != tt.wantScope || strings.Join(hosts, ",") != strings.Join(tt.wantHosts, ",") {
			t.Errorf("checkExposure(%s, tls %v, proxy %v) = %v %v %v, want %v %v", tt.addr, tt.tls, tt.behindProxy, scope, hosts, err, tt.wantScope, tt.wantHosts)
		}
	}
}

func TestLocalURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://[::]:8084":       "http://127.0.0.1:8084",
		"https://0.0.0.0:1":      "https://127.0.0.1:1",
		"http://127.0.0.1:8084":  "http://127.0.0.1:8084",
		"https://192.0.2.7:8443": "https://192.0.2.7:8443",
	} {
		if got := localURL(in); got != want {
			t.Errorf("localURL(%s) = %s, want %s", in, got, want)
		}
	}
}

// loadTLSForTest loads a fresh self-signed certificate as --tls-cert and
// --tls-key would.
func loadTLSForTest(t *testing.T) *tls.Config {
	t.Helper()
	cert, key, err := sluicetest.WriteSelfSignedCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadTLS(cert, key)
	if err != nil || cfg == nil {
		t.Fatalf("loadTLS = %v, %v", cfg, err)
	}
	return cfg
}

func TestLoadTLS(t *testing.T) {
	t.Parallel()
	cert, key, err := sluicetest.WriteSelfSignedCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := loadTLS("", ""); cfg != nil || err != nil {
		t.Errorf("loadTLS without files = %v, %v, want nothing", cfg, err)
	}
	tests := []struct {
		cert, key string
		wantCode  int
		wantErr   string
	}{
		{cert, "", ExitUsage, "--tls-cert and --tls-key go together"},
		{"", key, ExitUsage, "--tls-cert and --tls-key go together"},
		{key, cert, ExitFailed, "load --tls-cert " + key},
		{filepath.Join(t.TempDir(), "none.pem"), key, ExitFailed, "no such file"},
	}
	for _, tt := range tests {
		_, err := loadTLS(tt.cert, tt.key)
		var ee *exitError
		if !asExit(err, &ee) || ee.code != tt.wantCode || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("loadTLS(%q, %q) = %v, want exit %d and %q", tt.cert, tt.key, err, tt.wantCode, tt.wantErr)
		}
	}
}

func asExit(err error, target **exitError) bool { return errors.As(err, target) }
