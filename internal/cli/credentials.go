package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/atomicfile"
	"github.com/sluice-cd/sluice/internal/auth"
)

// credential is the API token the CLI sends to a server, and where it
// came from, which a 401 names so that the user knows which one to fix.
type credential struct {
	token string
	// source is "--token", "$SLUICE_TOKEN", "the token sluice login saved
	// in PATH" or "the admin token in PATH"; empty when there is none.
	source string
}

// findCredential returns the API token for the server at serverURL:
// --token, else $SLUICE_TOKEN, else the one `sluice login` saved for that
// server, else — for a server on this machine — its admin token, read from
// the file the server names in /health (which only the server's user may
// read). Without any, the token is empty and the server says what to do.
func (a *app) findCredential(ctx context.Context, serverURL string) credential {
	if a.token != "" {
		return credential{token: strings.TrimSpace(a.token), source: "--token"}
	}
	if t := a.getenv(EnvToken); t != "" {
		return credential{token: strings.TrimSpace(t), source: "$" + EnvToken}
	}
	if path, err := a.credentialsPath(); err == nil {
		saved, err := a.loadCredentials()
		if err != nil {
			// A broken file must not stop commands that need no saved token.
			fmt.Fprintf(a.stderr, "sluice: warning: ignoring saved credentials: %v\n", err)
		}
		if t := saved[serverKey(serverURL)]; t != "" {
			return credential{token: t, source: "the token sluice login saved in " + path}
		}
	}
	if t, path := localAdminToken(ctx, serverURL); t != "" {
		return credential{token: t, source: "the admin token in " + path}
	}
	return credential{}
}

// localAdminToken reads the admin token of a server on a loopback address
// and says from which file.
func localAdminToken(ctx context.Context, serverURL string) (token, path string) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", ""
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", ""
	}
	port, err := strconv.Atoi(u.Port())
	if u.Port() == "" {
		port, err = 80, nil
		if u.Scheme == "https" {
			port = 443
		}
	}
	if err != nil || !listenerIsMine(port) {
		return "", ""
	}
	c, err := apiclient.New(serverURL)
	if err != nil {
		return "", ""
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	h, err := c.Health(ctx)
	if err != nil || h.AdminTokenFile == "" {
		return "", ""
	}
	token = readAdminToken(h.AdminTokenFile)
	if token == "" {
		return "", ""
	}
	return token, h.AdminTokenFile
}

// readAdminToken reads the admin token file a server named, or returns ""
// when it is not one. Whatever listens on a loopback port may name any
// file, and the CLI sends what it reads there as a bearer token: so it
// reads only a file called admin.token, private to its owner, holding
// nothing but an API token — never, say, ~/.ssh/id_ed25519.
func readAdminToken(path string) string {
	if filepath.Base(path) != auth.AdminTokenFile {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return ""
	}
	token := strings.TrimSpace(string(b))
	if !auth.LooksLikeToken(token) {
		return ""
	}
	return token
}

// credentialsPath is where `sluice login` keeps tokens: the user's config
// directory, sluice/credentials.json, readable by the user alone.
func (a *app) credentialsPath() (string, error) {
	dir := a.getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := a.getenv("HOME")
		if home == "" {
			return "", errors.New("neither $XDG_CONFIG_HOME nor $HOME is set")
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "sluice", "credentials.json"), nil
}

// loadCredentials returns the saved tokens by server.
func (a *app) loadCredentials() (map[string]string, error) {
	path, err := a.credentialsPath()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	saved := map[string]string{}
	if err := json.Unmarshal(b, &saved); err != nil {
		return nil, fmt.Errorf("%s: %w (fix or delete the file)", path, err)
	}
	return saved, nil
}

// saveCredential stores token for serverURL; an empty token forgets it.
func (a *app) saveCredential(serverURL, token string) (string, error) {
	path, err := a.credentialsPath()
	if err != nil {
		return "", err
	}
	saved, err := a.loadCredentials()
	if err != nil {
		return "", err
	}
	if token == "" {
		delete(saved, serverKey(serverURL))
	} else {
		saved[serverKey(serverURL)] = token
	}
	b, err := json.MarshalIndent(saved, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return path, atomicfile.Write(path, b)
}

// serverKey is a server URL as credentials are keyed: no trailing slash.
func serverKey(serverURL string) string {
	return strings.TrimSuffix(strings.TrimSpace(serverURL), "/")
}

// credentialHint says how to get a credential the server accepts, after
// it refused the one the CLI sent (or its absence).
func (a *app) credentialHint() string {
	get := "sign in with 'sluice login' (with a token an admin made with 'sluice token create'), pass --token or set $" + EnvToken +
		", or run the CLI on the server's machine as the user that runs it, which reads the server's admin token"
	if a.cred.source == "" {
		return "the CLI found no credential for " + a.serverURL() + ": " + get
	}
	return "the CLI sent " + a.cred.source + "; " + get
}
