package cli

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// serveAuth runs the API on a fresh SQLite store with an admin token,
// which /health names to clients on this machine when adminTokenFile is
// set.
func serveAuth(t *testing.T, tellTokenFile bool) (url, token, tokenFile string) {
	t.Helper()
	st := sluicetest.OpenSQLite(t)
	authn, token := sluicetest.Auth(t, st, "admin-test", "admin")
	tokenFile = filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := httpapi.Config{Store: st, Auth: authn}
	if tellTokenFile {
		cfg.AdminTokenFile = tokenFile
	}
	srv := httptest.NewServer(httpapi.New(cfg))
	t.Cleanup(srv.Close)
	return srv.URL, token, tokenFile
}

func TestFindCredential(t *testing.T) {
	t.Parallel()
	url, adminToken, tokenFile := serveAuth(t, true)
	ctx := context.Background()
	env := map[string]string{"HOME": t.TempDir()}
	a := &app{stderr: io.Discard, getenv: func(k string) string { return env[k] }}

	check := func(what, wantToken, wantSource string) {
		t.Helper()
		got := a.findCredential(ctx, url)
		if got.token != wantToken || !strings.Contains(got.source, wantSource) {
			t.Errorf("%s: credential = %q from %q, want %q from %q", what, got.token, got.source, wantToken, wantSource)
		}
	}
	check("a server on this machine", adminToken, "the admin token in "+tokenFile)
	if got := a.findCredential(ctx, "http://127.0.0.1:1"); got != (credential{}) {
		t.Errorf("credential for a server that does not answer = %+v, want none", got)
	}

	path, err := a.saveCredential(url+"/", "sluice_saved")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.saveCredential("http://elsewhere:1", "sluice_other"); err != nil {
		t.Fatal(err)
	}
	check("a saved token", "sluice_saved", "the token sluice login saved in "+path)
	for name, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", name, fi.Mode().Perm(), err, want)
		}
	}

	env[EnvToken] = " sluice_env\n"
	check("$SLUICE_TOKEN", "sluice_env", "$SLUICE_TOKEN")
	a.token = "sluice_flag"
	check("--token", "sluice_flag", "--token")

	// XDG_CONFIG_HOME wins over HOME, and forgetting removes only this
	// server's token.
	a.token, env[EnvToken] = "", ""
	env["XDG_CONFIG_HOME"] = t.TempDir()
	check("a new config directory", adminToken, "the admin token")
	delete(env, "XDG_CONFIG_HOME")
	if _, err := a.saveCredential(url, ""); err != nil {
		t.Fatal(err)
	}
	saved, err := a.loadCredentials()
	if err != nil || len(saved) != 1 || saved["http://elsewhere:1"] != "sluice_other" {
		t.Errorf("after forgetting %s: saved = %v (%v), want only elsewhere's", url, saved, err)
	}
}

// A server that is not on this machine is never asked for its admin
// token's file, and a broken credentials file is named, not fatal.
func TestFindCredentialRemoteAndBroken(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	path := filepath.Join(home, ".config", "sluice", "credentials.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	a := &app{stderr: &stderr, getenv: func(k string) string { return map[string]string{"HOME": home}[k] }}
	if got := a.findCredential(context.Background(), "http://192.0.2.1:8084"); got != (credential{}) {
		t.Errorf("credential = %+v, want none", got)
	}
	if !strings.Contains(stderr.String(), "warning: ignoring saved credentials: "+path) {
		t.Errorf("stderr = %q, want a warning naming %s", stderr.String(), path)
	}
}

// A refused credential gets a hint that says which one the CLI sent and
// how to get one that works.
func TestUnauthenticatedHint(t *testing.T) {
	t.Parallel()
	url, _, _ := serveAuth(t, false)
	home := t.TempDir()
	tests := []struct {
		name     string
		env      map[string]string
		wantHint string
	}{
		{"none", map[string]string{EnvServer: url, "HOME": home},
			"hint: the CLI found no credential for " + url + ": sign in with 'sluice login'"},
		{"env", map[string]string{EnvServer: url, "HOME": home, EnvToken: "sluice_bogus"},
			"hint: the CLI sent $SLUICE_TOKEN; sign in with 'sluice login'"},
	}
	for _, tt := range tests {
		code, _, stderr := run(t, tt.env, "pipeline", "list")
		if code != ExitFailed || !strings.Contains(stderr, tt.wantHint) || !strings.Contains(stderr, "run the CLI on the server's machine") {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit %d and %q", tt.name, code, stderr, ExitFailed, tt.wantHint)
		}
	}
}

// Whatever listens on a loopback port may name any file in /health; the
// CLI sends only an admin token from a private file called admin.token.
func TestReadAdminToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	token := "sluice_" + strings.Repeat("A", 43)
	write := func(name, content string, mode os.FileMode) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		path string
		want string
	}{
		{write("good/admin.token", token+"\n", 0o600), token},
		{write("key/id_ed25519", token, 0o600), ""},
		{write("shared/admin.token", token, 0o644), ""},
		{write("other/admin.token", "-----BEGIN OPENSSH PRIVATE KEY-----\n", 0o600), ""},
		{filepath.Join(dir, "none", "admin.token"), ""},
		{dir + "/good", ""},
	}
	for _, tt := range tests {
		if got := readAdminToken(tt.path); got != tt.want {
			t.Errorf("readAdminToken(%s) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
