package notify

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/egress"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

// Setting is where the allow-list comes from, named in refusals.
var Setting = egress.Setting{Key: "notifications.allowedHosts", Doc: "docs/notifications.md"}

// DefaultAllowedHosts are the hosts notifications may post to when the
// config names none: Slack's, Microsoft Teams' (incoming webhooks and
// Workflows), Google Chat's, and loopback.
var DefaultAllowedHosts = []string{
	"hooks.slack.com", "slack.com",
	"*.webhook.office.com", "outlook.office.com", "*.logic.azure.com",
	"chat.googleapis.com",
	egress.Loopback,
}

// DefaultSlackAPIURL is Slack's Web API, where chat.postMessage is.
const DefaultSlackAPIURL = "https://slack.com/api"

// Config configures a Sender. The zero value sends to Slack, Teams and
// Google Chat webhooks and loopback, and has no SMTP server and no Slack
// token.
type Config struct {
	// ExternalURL is the server's URL as people reach it, for the links
	// in messages. Empty: messages carry no link.
	ExternalURL string
	// AllowedHosts is where HTTP notifications may go; nil means
	// DefaultAllowedHosts.
	AllowedHosts *egress.Policy
	// Timeout bounds one delivery (egress.DefaultTimeout).
	Timeout time.Duration
	Slack   SlackConfig
	// SMTP is the mail server for email notifications; nil: email
	// notifications fail, saying so.
	SMTP *SMTPConfig
}

// SlackConfig is how Sluice posts to a Slack channel by name.
type SlackConfig struct {
	// Token is a bot token (xoxb-…) for chat.postMessage, used when a
	// notification's address is a channel rather than a webhook URL.
	Token string
	// APIURL is Slack's Web API (DefaultSlackAPIURL); tests point it at a
	// local server.
	APIURL string
}

// SMTPConfig is the mail server email notifications go through.
type SMTPConfig struct {
	Host     string
	Port     int // 587 when zero
	Username string
	Password string
	From     string
	// StartTLS upgrades the connection with STARTTLS before
	// authenticating, and fails if the server does not offer it.
	StartTLS bool
	// TLS, when set, is the TLS configuration for STARTTLS (tests trust
	// their own certificate with it); ServerName defaults to Host.
	TLS *tls.Config
}

// Sender delivers messages. It is safe for concurrent use.
type Sender struct {
	cfg   Config
	allow *egress.Policy
	http  *http.Client
}

// New returns a Sender.
func New(cfg Config) (*Sender, error) {
	allow := cfg.AllowedHosts
	if allow == nil {
		var err error
		if allow, err = egress.NewPolicy(Setting, DefaultAllowedHosts); err != nil {
			return nil, err
		}
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, egress.DefaultTimeout)
	cfg.Slack.APIURL = strings.TrimRight(cmp.Or(cfg.Slack.APIURL, DefaultSlackAPIURL), "/")
	if s := cfg.SMTP; s != nil {
		if s.Host == "" || s.From == "" {
			return nil, errors.New("notifications.smtp: host and from are required")
		}
		s.Port = cmp.Or(s.Port, 587)
	}
	return &Sender{cfg: cfg, allow: allow, http: allow.Client(egress.ClientOptions{Timeout: cfg.Timeout})}, nil
}

// permanent is a failure that trying again will not fix.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Permanent marks err as one that trying again will not fix.
func Permanent(err error) error { return &permanent{err} }

// IsPermanent reports whether err, from Send, will fail again however
// often the message is sent: a bad address, a host not allowed, a
// receiver that refused the message as malformed or unauthorized.
func IsPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p)
}

// Send delivers m once.
func (s *Sender) Send(ctx context.Context, m *Message) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	link := m.Link(s.cfg.ExternalURL)
	switch m.Type {
	case pipeline.NotifySlack:
		return s.slack(ctx, m, link)
	case pipeline.NotifyTeams:
		return s.postJSON(ctx, m, m.Address, teamsCard(m, link))
	case pipeline.NotifyGoogleChat:
		return s.postJSON(ctx, m, m.Address, googleChatMessage(m, link))
	case pipeline.NotifyWebhook:
		return s.postJSON(ctx, m, m.Address, webhookBody(m, link))
	case pipeline.NotifyEmail:
		return s.email(ctx, m, link)
	}
	return Permanent(fmt.Errorf("notification type %q is not delivered by Sluice", m.Type))
}

// postJSON posts body as JSON to url, which must be allowed; any 2xx
// answer is success.
func (s *Sender) postJSON(ctx context.Context, m *Message, url string, body any) error {
	return s.post(ctx, m, url, body, nil, nil)
}

// post posts body as JSON to url, which must be allowed, with header, and
// reads a 2xx answer with check (nil: success).
func (s *Sender) post(ctx context.Context, m *Message, url string, body any, header http.Header, check func(status int, body []byte) error) error {
	if err := s.allow.CheckRawURL(url); err != nil {
		return Permanent(fmt.Errorf("%s notification address: %w", m.Type, err))
	}
	b, err := json.Marshal(body)
	if err != nil {
		return Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return Permanent(fmt.Errorf("%s notification address %s: %w", m.Type, egress.Redact(url), err))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "sluice-notifications")
	req.Header.Set("X-Sluice-Delivery", m.Delivery)
	req.Header.Set("X-Sluice-Event", m.Event)
	resp, err := s.http.Do(req)
	if err != nil {
		if egress.Refused(err) != nil {
			return Permanent(fmt.Errorf("post to %s: %w", egress.Redact(url), err))
		}
		return fmt.Errorf("post to %s: %s", egress.Redact(url), redactErr(err, url))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		err := fmt.Errorf("post to %s: %s: %s", egress.Redact(url), resp.Status, oneLine(answer))
		if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
			return Permanent(err)
		}
		return err
	}
	if check != nil {
		return check(resp.StatusCode, answer)
	}
	return nil
}

// redactErr is err's text without url, whose path may hold a secret.
func redactErr(err error, url string) string {
	return strings.ReplaceAll(err.Error(), url, egress.Redact(url))
}

func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "no body"
	}
	return s
}
