package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/atomicfile"
)

// findToken returns the API token for the server at serverURL: --token,
// else $SLUICE_TOKEN, else the one `sluice login` saved for that server,
// else — for a server on this machine — its admin token, read from the
// file the server names in /health (which only the server's user may
// read). Empty when there is none; the server then says what to do.
func (a *app) findToken(serverURL string) string {
	if t := cmp.Or(a.token, a.getenv(EnvToken)); t != "" {
		return strings.TrimSpace(t)
	}
	if saved, _ := a.loadCredentials(); saved[serverKey(serverURL)] != "" {
		return saved[serverKey(serverURL)]
	}
	return localAdminToken(serverURL)
}

// localAdminToken reads the admin token of a server on a loopback address.
func localAdminToken(serverURL string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return ""
	}
	c, err := apiclient.New(serverURL)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	h, err := c.Health(ctx)
	if err != nil || h.AdminTokenFile == "" {
		return ""
	}
	b, err := os.ReadFile(h.AdminTokenFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
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
		return nil, err
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
