package node_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/node"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

func TestMain(m *testing.M) { sluicetest.Main(m) }

func closeNode(t *testing.T, n *node.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.Close(ctx)
}

// TestStartAndRestart starts a node on SQLite with its embedded local
// Lambda, serves its API, closes it, and starts it again on the same data:
// Close released the database's and the local Lambda's locks.
func TestStartAndRestart(t *testing.T) {
	dir := t.TempDir()
	for round := range 2 {
		n, err := node.Start(t.Context(), node.Options{DataDir: dir, LambdaAddr: "127.0.0.1:0"})
		if err != nil {
			t.Fatalf("start %d: %v", round, err)
		}
		srv := httptest.NewServer(n.API)
		resp, err := http.Get(srv.URL + "/api/v1/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("start %d: /health = %s", round, resp.Status)
		}
		local, err := n.Accounts.Get(awsclient.LocalName)
		if err != nil || !local.Local || n.LocalLambdaURL != n.Lambda.URL() {
			t.Errorf("start %d: local account %+v, %v at %q; want the embedded local Lambda at %q", round, local, err, n.LocalLambdaURL, n.Lambda.URL())
		}
		srv.Close()
		closeNode(t, n)
	}
}

// TestSecondNodeOnDataDir starts two nodes on one data directory: the
// second fails with a hint and leaves the first working.
func TestSecondNodeOnDataDir(t *testing.T) {
	dir := t.TempDir()
	first, err := node.Start(t.Context(), node.Options{DataDir: dir, LambdaAddr: node.LambdaOff})
	if err != nil {
		t.Fatal(err)
	}
	defer closeNode(t, first)
	_, err = node.Start(t.Context(), node.Options{DataDir: dir, LambdaAddr: node.LambdaOff})
	var startErr *node.Error
	if !errors.As(err, &startErr) || !strings.Contains(err.Error(), "in use by another sluice process") || startErr.Hint == "" {
		t.Fatalf("second Start: %v; want a *node.Error saying the data directory is in use, with a hint", err)
	}
	if err := first.Store.Ping(t.Context()); err != nil {
		t.Errorf("the first node's store after the second failed: %v", err)
	}
}

// TestLocalAccountInACluster checks the rule that keeps the local account
// one endpoint for every server sharing a database.
func TestLocalAccountInACluster(t *testing.T) {
	sluicetest.PostgresDSN(t) // skips without a database
	tests := []struct {
		name       string
		opts       node.Options
		wantErr    string
		wantLocal  string // the local account's URL; "" for none
		wantLambda bool   // an embedded local Lambda runs
	}{
		{name: "no local account by default", opts: node.Options{}, wantLocal: ""},
		{name: "an explicit embedded one is refused", opts: node.Options{LambdaAddr: "127.0.0.1:0"},
			wantErr: "cannot each run their own local Lambda"},
		{name: "one shared endpoint", opts: node.Options{LocalLambdaURL: "http://127.0.0.1:8085"}, wantLocal: "http://127.0.0.1:8085"},
		{name: "both is ambiguous", opts: node.Options{LambdaAddr: "127.0.0.1:0", LocalLambdaURL: "http://127.0.0.1:8085"},
			wantErr: "both name the local account's endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.DataDir = t.TempDir()
			opts.DatabaseURL = sluicetest.PostgresSchemaURL(t)
			n, err := node.Start(t.Context(), opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Start: %v; want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer closeNode(t, n)
			if n.LocalLambdaURL != tt.wantLocal || (n.Lambda != nil) != tt.wantLambda {
				t.Errorf("local account at %q, embedded local Lambda %v; want %q, %v", n.LocalLambdaURL, n.Lambda != nil, tt.wantLocal, tt.wantLambda)
			}
			_, err = n.Accounts.Get(awsclient.LocalName)
			if (err == nil) != (tt.wantLocal != "") {
				t.Errorf("Accounts.Get(local): %v", err)
			}
		})
	}
}

// TestLocalCredentials: local.credentials in the config file reach both
// the embedded local Lambda, which verifies signatures with them, and the
// local account, which signs with them.
func TestLocalCredentials(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(config, []byte("local:\n  credentials: {accessKeyId: dev, secretAccessKey: s3cr3t}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(t.Context(), node.Options{DataDir: dir, LambdaAddr: "127.0.0.1:0", Config: config})
	if err != nil {
		t.Fatal(err)
	}
	defer closeNode(t, n)
	local, err := n.Accounts.Get(awsclient.LocalName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Lambda.ListFunctions(t.Context(), &lambda.ListFunctionsInput{}); err != nil {
		t.Fatalf("the local account: %v", err)
	}
	other := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.LocalLambdaURL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("dev", "guess", "")})
	_, err = other.ListFunctions(t.Context(), &lambda.ListFunctionsInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("another secret: %v; want InvalidSignatureException", err)
	}
}

// TestAdminToken checks the credential a new server makes for the
// two-command start: an admin token in DATA_DIR/admin.token, readable by
// its owner only, kept across restarts, replaced (and the old one revoked)
// when the file is lost; and that the API accepts it and nothing else.
func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	start := func() (*node.Node, *httptest.Server) {
		t.Helper()
		n, err := node.Start(t.Context(), node.Options{DataDir: dir, LambdaAddr: node.LambdaOff})
		if err != nil {
			t.Fatal(err)
		}
		return n, httptest.NewServer(n.API)
	}
	get := func(srv *httptest.Server, token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/session", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	n, srv := start()
	first := n.AdminToken
	path := filepath.Join(dir, "admin.token")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("admin.token has mode %v, want 0600", info.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != first {
		t.Errorf("admin.token holds %q, want the node's admin token", b)
	}
	if got := get(srv, first); got != http.StatusOK {
		t.Errorf("GET /session with the admin token = %d, want 200", got)
	}
	if got := get(srv, ""); got != http.StatusUnauthorized {
		t.Errorf("GET /session without a token = %d, want 401", got)
	}
	srv.Close()
	closeNode(t, n)

	n, srv = start()
	if n.AdminToken != first {
		t.Error("a restart replaced the admin token; it should keep the one in admin.token")
	}
	srv.Close()
	closeNode(t, n)

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	n, srv = start()
	defer closeNode(t, n)
	defer srv.Close()
	if n.AdminToken == first {
		t.Fatal("a lost admin.token was not replaced")
	}
	if got := get(srv, first); got != http.StatusUnauthorized {
		t.Errorf("GET /session with the replaced admin token = %d, want 401 (revoked)", got)
	}
	if got := get(srv, n.AdminToken); got != http.StatusOK {
		t.Errorf("GET /session with the new admin token = %d, want 200", got)
	}
}

// TestCanaryPrometheusConfig: sluice.yaml's canary.prometheus is read, and
// a wrong entry stops the start naming it.
func TestCanaryPrometheusConfig(t *testing.T) {
	dir := t.TempDir()
	start := func(yaml string) error {
		config := filepath.Join(dir, "sluice.yaml")
		if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		n, err := node.Start(t.Context(), node.Options{DataDir: dir, LambdaAddr: node.LambdaOff, Config: config})
		if err == nil {
			closeNode(t, n)
		}
		return err
	}
	if err := start("canary:\n  prometheus:\n    - {name: prod, url: http://127.0.0.1:9090}\n"); err != nil {
		t.Fatalf("a Prometheus entry: %v", err)
	}
	for yaml, want := range map[string]string{
		"canary:\n  prometheus:\n    - {url: http://127.0.0.1:9090}\n":                                     "canary.prometheus[0].name is required",
		"canary:\n  prometheus:\n    - {name: p, url: 'ftp://x'}\n":                                        "canary.prometheus[0].url \"ftp://x\" must be an http:// or https:// URL",
		"canary:\n  prometheus:\n    - {name: p, url: 'http://a:1'}\n    - {name: p, url: 'http://b:1'}\n": "canary.prometheus[1].name \"p\" is given twice",
		"canary:\n  prometheuss: []\n":                                                                     "unknown field",
	} {
		if err := start(yaml); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want %q", yaml, err, want)
		}
	}
}

// configStarter returns a function that starts (and closes) a node with
// the given sluice.yaml, returning the start's error.
func configStarter(t *testing.T) func(yaml string) error {
	dir := t.TempDir()
	return func(yaml string) error {
		config := filepath.Join(dir, "sluice.yaml")
		if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		n, err := node.Start(t.Context(), node.Options{DataDir: dir, LambdaAddr: node.LambdaOff, Config: config})
		if err == nil {
			closeNode(t, n)
		}
		return err
	}
}

// TestNotificationsConfig: sluice.yaml's notifications section and
// server.externalURL are read, and a wrong entry stops the start naming
// it, with a hint to docs/notifications.md.
func TestNotificationsConfig(t *testing.T) {
	start := configStarter(t)
	ok := "server:\n  externalURL: https://sluice.example.com\nnotifications:\n  allowedHosts: [hooks.slack.com, loopback]\n  timeout: 5s\n" +
		"  slack: {token: xoxb-1}\n  smtp: {host: smtp.example.com, port: 587, username: u, password: p, from: sluice@example.com}\n"
	if err := start(ok); err != nil {
		t.Fatalf("a notifications section: %v", err)
	}
	for yaml, want := range map[string]string{
		"notifications:\n  allowedHosts: ['https://hooks.slack.com']\n": "notifications.allowedHosts[0]",
		"notifications:\n  smtp: {from: a@b}\n":                         "notifications.smtp.host is required",
		"notifications:\n  slak: {}\n":                                  "unknown field",
		"server:\n  externalURL: sluice.example.com\n":                  "server.externalURL",
	} {
		err := start(yaml)
		var ne *node.Error
		if err == nil || !strings.Contains(err.Error(), want) || !errors.As(err, &ne) || ne.Hint == "" {
			t.Errorf("%q: %v; want %q with a hint", yaml, err, want)
		}
	}
}

// TestWebhooksConfig: sluice.yaml's webhooks.allowedHosts is read, and a
// wrong entry stops the start naming it.
func TestWebhooksConfig(t *testing.T) {
	start := configStarter(t)
	if err := start("webhooks:\n  allowedHosts: [ci.example.com, '*.corp.example', 10.0.0.0/8]\n"); err != nil {
		t.Fatalf("allowedHosts: %v", err)
	}
	for yaml, want := range map[string]string{
		"webhooks:\n  allowedHosts: ['https://ci.example.com']\n": `webhooks.allowedHosts[0] "https://ci.example.com"`,
		"webhooks:\n  allowedHost: [ci.example.com]\n":            "unknown field",
		"webhooks:\n  allowedHosts: ci.example.com\n":             "webhooks",
	} {
		var e *node.Error
		if err := start(yaml); err == nil || !strings.Contains(err.Error(), want) || !errors.As(err, &e) || !strings.Contains(e.Hint, "docs/webhooks.md") {
			t.Errorf("%q: %v; want %q and a hint naming docs/webhooks.md", yaml, err, want)
		}
	}
}
