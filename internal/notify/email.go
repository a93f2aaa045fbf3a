package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
)

// email sends m over SMTP: STARTTLS when configured, then AUTH PLAIN (or
// LOGIN, when the server offers only that) when a username is set.
func (s *Sender) email(ctx context.Context, m *Message, link string) error {
	cfg := s.cfg.SMTP
	if cfg == nil {
		return Permanent(errors.New("email notification: no mail server is configured (notifications.smtp in sluice.yaml)"))
	}
	to := splitAddresses(m.Address)
	cc := splitAddresses(m.CC)
	if len(to) == 0 {
		return Permanent(errors.New("email notification: no address"))
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to mail server %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail server %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.Hello("sluice"); err != nil {
		return fmt.Errorf("mail server %s: EHLO: %w", addr, err)
	}
	if cfg.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return Permanent(fmt.Errorf("mail server %s does not offer STARTTLS, which notifications.smtp.startTLS asks for", addr))
		}
		tc := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
		if cfg.TLS != nil {
			tc = cfg.TLS.Clone()
			if tc.ServerName == "" {
				tc.ServerName = cfg.Host
			}
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("mail server %s: STARTTLS: %w", addr, err)
		}
	}
	if cfg.Username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return Permanent(fmt.Errorf("mail server %s does not offer AUTH, and notifications.smtp.username is set", addr))
		}
		var a smtp.Auth
		switch fields := strings.Fields(strings.ToUpper(mechs)); {
		case slices.Contains(fields, "PLAIN"):
			a = smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)
		case slices.Contains(fields, "LOGIN"):
			a = &loginAuth{user: cfg.Username, pass: cfg.Password, host: cfg.Host}
		default:
			return Permanent(fmt.Errorf("mail server %s offers AUTH %s; Sluice speaks PLAIN and LOGIN", addr, mechs))
		}
		if err := c.Auth(a); err != nil {
			return smtpErr(fmt.Errorf("mail server %s: AUTH: %w", addr, err))
		}
	}
	if err := c.Mail(cfg.From); err != nil {
		return smtpErr(fmt.Errorf("mail server %s: MAIL FROM %s: %w", addr, cfg.From, err))
	}
	for _, rcpt := range append(to, cc...) {
		if err := c.Rcpt(rcpt); err != nil {
			return smtpErr(fmt.Errorf("mail server %s: RCPT TO %s: %w", addr, rcpt, err))
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpErr(fmt.Errorf("mail server %s: DATA: %w", addr, err))
	}
	if _, err := w.Write(mailMessage(m, cfg.From, to, cc, link)); err != nil {
		return fmt.Errorf("mail server %s: write message: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return smtpErr(fmt.Errorf("mail server %s: end of message: %w", addr, err))
	}
	return c.Quit()
}

// smtpErr marks a 5xx answer permanent; a 4xx one is worth trying again.
func smtpErr(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return Permanent(err)
	}
	return err
}

func splitAddresses(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// mailMessage is the email: headers (the subject is the title), and the
// plain text, quoted-printable.
func mailMessage(m *Message, from string, to, cc []string, link string) []byte {
	var b bytes.Buffer
	h := func(k, v string) {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	h("From", from)
	h("To", strings.Join(to, ", "))
	if len(cc) > 0 {
		h("Cc", strings.Join(cc, ", "))
	}
	h("Subject", mime.QEncoding.Encode("utf-8", "[Sluice] "+m.Title()+": "+m.Pipeline))
	h("Date", m.Time.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	h("Message-ID", "<"+strings.ReplaceAll(m.Delivery, "/", ".")+"@sluice>")
	h("X-Sluice-Event", m.Event)
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(m.PlainText(link), "\n", "\r\n") + "\r\n"))
	qp.Close()
	return b.Bytes()
}

// loginAuth is the LOGIN mechanism, which net/smtp lacks. Like
// smtp.PlainAuth it refuses to send the password unencrypted to anything
// but localhost.
type loginAuth struct {
	user, pass, host string
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLocalhost(server.Name) {
		return "", nil, errors.New("unencrypted connection: refusing to send the password (set notifications.smtp.startTLS)")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(fromServer))) {
	case "username:":
		return []byte(a.user), nil
	case "password:":
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge %q", fromServer)
}

func isLocalhost(name string) bool {
	return name == "localhost" || name == "127.0.0.1" || name == "::1"
}
