package oidc

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
)

// Config is the auth.oidc section of sluice.yaml. Its zero value is not
// usable: Issuer, ClientID, one way to the client secret and RedirectURL are
// required.
type Config struct {
	// Issuer is the provider's issuer URL, exactly as its ID tokens name it
	// (e.g. https://dex.example.com, https://login.microsoftonline.com/TENANT/v2.0);
	// discovery reads ISSUER/.well-known/openid-configuration. https, or
	// http on a loopback address.
	Issuer string `json:"issuer"`
	// ClientID is the client ID the provider gave Sluice; ID tokens must be
	// issued to it (their audience).
	ClientID string `json:"clientId"`
	// The client secret, given exactly one way: ClientSecret in the file
	// itself, ClientSecretFile naming a file that holds it (surrounding
	// whitespace ignored), or ClientSecretEnv naming an environment variable
	// that holds it. The last two keep the secret out of sluice.yaml.
	ClientSecret     string `json:"clientSecret,omitempty"`
	ClientSecretFile string `json:"clientSecretFile,omitempty"`
	ClientSecretEnv  string `json:"clientSecretEnv,omitempty"`
	// RedirectURL is the console's callback as the browser reaches it,
	// e.g. https://sluice.example.com/auth/oidc/callback, registered with
	// the provider as an allowed redirect URI. https, or http on a loopback
	// address.
	RedirectURL string `json:"redirectUrl"`
	// Scopes asked for. Empty means openid, profile and email; "openid" is
	// added when missing. Add "groups" (or what your provider calls it) when groups
	// are only sent on request, as Dex and Keycloak do.
	Scopes []string `json:"scopes,omitempty"`
	// UsernameClaim names the ID token claim that is the user's name in
	// Sluice: what the audit log records and roles are granted to. Empty
	// means "email", falling back to "sub" when the token has no email; a
	// claim named here explicitly must be present.
	UsernameClaim string `json:"usernameClaim,omitempty"`
	// GroupsClaim names the top-level ID token claim that holds the user's
	// groups, a list of strings or one string; empty means "groups". The
	// name is taken literally, so a namespaced claim such as
	// "https://example.com/groups" works; nested claims are not read.
	GroupsClaim string `json:"groupsClaim,omitempty"`
	// AllowedGroups, when not empty, lets in only members of at least one
	// of these groups; everyone else is refused at login. Empty lets in
	// every user the provider authenticates.
	AllowedGroups []string `json:"allowedGroups,omitempty"`
}

// Defaults for the claims when the Config leaves them empty.
const (
	DefaultUsernameClaim = "email"
	DefaultGroupsClaim   = "groups"
)

// fieldPrefix is where Config sits in sluice.yaml; validation errors name
// fields with it so the user knows which line to fix.
const fieldPrefix = "auth.oidc."

// Validate checks the configuration without any I/O and returns every
// problem found, each naming its field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", fieldPrefix, field, fmt.Sprintf(format, args...)))
	}
	if err := checkEndpoint(c.Issuer); err != nil {
		bad("issuer", "%v (the provider's issuer URL, e.g. https://dex.example.com)", err)
	}
	if c.ClientID == "" {
		bad("clientId", "required: the client ID the identity provider gave Sluice")
	}
	given := 0
	for _, s := range []string{c.ClientSecret, c.ClientSecretFile, c.ClientSecretEnv} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		bad("clientSecret", "give the client secret exactly one way: clientSecret, clientSecretFile or clientSecretEnv (%d given)", given)
	}
	if err := checkEndpoint(c.RedirectURL); err != nil {
		bad("redirectUrl", "%v (the console's callback, e.g. https://sluice.example.com/auth/oidc/callback)", err)
	}
	for i, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			bad(fmt.Sprintf("scopes[%d]", i), "%q is not a scope: one word per entry", s)
		}
	}
	for i, g := range c.AllowedGroups {
		if g == "" {
			bad(fmt.Sprintf("allowedGroups[%d]", i), "empty group name")
		}
	}
	return errors.Join(errs...)
}

// checkEndpoint accepts an absolute https URL, or an http one on a loopback
// address: anything else would send codes and tokens in clear text.
func checkEndpoint(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%q must use https (http is accepted on loopback addresses only)", s)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// scopes returns the scopes to ask for, "openid" always among them.
func (c Config) scopes() []string {
	s := c.Scopes
	if len(s) == 0 {
		s = []string{"openid", "profile", "email"}
	}
	if !slices.Contains(s, "openid") {
		s = append([]string{"openid"}, s...)
	}
	return s
}

// secret reads the client secret from wherever the configuration says it is.
func (c Config) secret() (string, error) {
	switch {
	case c.ClientSecretFile != "":
		b, err := os.ReadFile(c.ClientSecretFile)
		if err != nil {
			return "", fmt.Errorf("%sclientSecretFile: %w", fieldPrefix, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("%sclientSecretFile: %s is empty; put the client secret in it", fieldPrefix, c.ClientSecretFile)
		}
		return s, nil
	case c.ClientSecretEnv != "":
		s := os.Getenv(c.ClientSecretEnv)
		if s == "" {
			return "", fmt.Errorf("%sclientSecretEnv: the environment variable %s is not set or empty; set it to the client secret", fieldPrefix, c.ClientSecretEnv)
		}
		return s, nil
	}
	return c.ClientSecret, nil
}
