package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/egress"
)

// FileConfig is the notifications section of sluice.yaml. Secrets come
// from a file or an environment variable rather than the file itself
// where possible.
//
//	notifications:
//	  allowedHosts: [hooks.slack.com, "*.webhook.office.com", chat.googleapis.com, loopback]
//	  timeout: 10s
//	  slack:
//	    tokenEnv: SLACK_BOT_TOKEN        # or token, or tokenFile
//	  smtp:
//	    host: smtp.example.com
//	    port: 587
//	    username: sluice
//	    passwordFile: /run/secrets/smtp  # or passwordEnv
//	    from: sluice@example.com
//	    startTLS: true                   # the default
type FileConfig struct {
	// AllowedHosts replaces DefaultAllowedHosts.
	AllowedHosts []string `json:"allowedHosts"`
	Timeout      string   `json:"timeout"`
	Slack        *struct {
		Token     string `json:"token"`
		TokenFile string `json:"tokenFile"`
		TokenEnv  string `json:"tokenEnv"`
		APIURL    string `json:"apiURL"`
	} `json:"slack"`
	SMTP *struct {
		Host         string `json:"host"`
		Port         int    `json:"port"`
		Username     string `json:"username"`
		Password     string `json:"password"`
		PasswordFile string `json:"passwordFile"`
		PasswordEnv  string `json:"passwordEnv"`
		From         string `json:"from"`
		StartTLS     *bool  `json:"startTLS"`
	} `json:"smtp"`
}

// ParseFileConfig reads the notifications section (as JSON) into a
// Config for a server reachable at externalURL. Unknown keys are errors.
func ParseFileConfig(raw []byte, externalURL string) (Config, error) {
	cfg := Config{ExternalURL: externalURL}
	var f FileConfig
	if len(raw) > 0 && string(raw) != "null" {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return cfg, fmt.Errorf("notifications: %w", err)
		}
	}
	if f.AllowedHosts != nil {
		l, err := egress.NewPolicy(Setting, f.AllowedHosts)
		if err != nil {
			return cfg, err
		}
		cfg.AllowedHosts = l
	}
	if f.Timeout != "" {
		d, err := time.ParseDuration(f.Timeout)
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("notifications.timeout %q is not a positive duration like 10s", f.Timeout)
		}
		cfg.Timeout = d
	}
	if s := f.Slack; s != nil {
		tok, err := secret("notifications.slack.token", s.Token, s.TokenFile, s.TokenEnv)
		if err != nil {
			return cfg, err
		}
		cfg.Slack = SlackConfig{Token: tok, APIURL: s.APIURL}
		if s.APIURL != "" {
			if u, err := url.Parse(s.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return cfg, fmt.Errorf("notifications.slack.apiURL %q is not an http:// or https:// URL", s.APIURL)
			}
		}
	}
	if s := f.SMTP; s != nil {
		pw, err := secret("notifications.smtp.password", s.Password, s.PasswordFile, s.PasswordEnv)
		if err != nil {
			return cfg, err
		}
		switch {
		case s.Host == "":
			return cfg, errors.New("notifications.smtp.host is required: the mail server's host name")
		case s.From == "" || !strings.Contains(s.From, "@"):
			return cfg, fmt.Errorf("notifications.smtp.from %q must be the sender's email address", s.From)
		case s.Port < 0 || s.Port > 65535:
			return cfg, fmt.Errorf("notifications.smtp.port %d is not a port", s.Port)
		}
		cfg.SMTP = &SMTPConfig{Host: s.Host, Port: s.Port, Username: s.Username, Password: pw, From: s.From, StartTLS: s.StartTLS == nil || *s.StartTLS}
	}
	return cfg, nil
}

// secret is the one of value, the content of file, or the environment
// variable env that is given.
func secret(key, value, file, env string) (string, error) {
	n := 0
	for _, s := range []string{value, file, env} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return "", fmt.Errorf("%s: give one of the value, a file (…File) or an environment variable (…Env)", key)
	}
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%sFile: %w", key, err)
		}
		return strings.TrimSpace(string(b)), nil
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%sEnv: the environment variable %s is not set", key, env)
		}
		return v, nil
	}
	return value, nil
}
