package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailbox is a real SMTP server (go-smtp) that keeps what it receives.
type mailbox struct {
	addr  string
	host  string
	port  int
	certs *x509.CertPool

	mu   sync.Mutex
	mail []received
	// rcptErr, when set, is the answer to RCPT TO.
	rcptErr error
}

type received struct {
	from     string
	to       []string
	data     []byte
	tls      bool
	authUser string
}

// startMailbox starts a server on loopback that offers STARTTLS (with a
// certificate for 127.0.0.1) and the given AUTH mechanisms, accepting
// user "sluice" with password "s3cret".
func startMailbox(t *testing.T, mechs []string) *mailbox {
	t.Helper()
	cert, pool := selfSigned(t)
	mb := &mailbox{certs: pool}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{mb: mb, conn: c, mechs: mechs}, nil
	}))
	srv.Domain = "mail.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	mb.addr = l.Addr().String()
	host, port, _ := net.SplitHostPort(mb.addr)
	mb.host = host
	mb.port, _ = strconv.Atoi(port)
	return mb
}

func (mb *mailbox) received() []received {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]received(nil), mb.mail...)
}

type session struct {
	mb    *mailbox
	conn  *smtp.Conn
	mechs []string
	cur   received
}

func (s *session) AuthMechanisms() []string { return s.mechs }

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != "sluice" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		s.cur.authUser = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	_, s.cur.tls = s.conn.TLSConnectionState()
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.mb.mu.Lock()
	err := s.mb.rcptErr
	s.mb.mu.Unlock()
	if err != nil {
		return err
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.mb.mu.Lock()
	s.mb.mail = append(s.mb.mail, s.cur)
	s.mb.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{authUser: s.cur.authUser} }
func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl leaves out.
type loginServer struct {
	check      func(user, pass string) error
	step       int
	user, pass string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if resp != nil { // an initial response is the user name
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(resp)
		l.step++
		return []byte("Password:"), false, nil
	default:
		l.pass = string(resp)
		return nil, true, l.check(l.user, l.pass)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func (mb *mailbox) config() *SMTPConfig {
	return &SMTPConfig{Host: mb.host, Port: mb.port, Username: "sluice", Password: "s3cret",
		From: "sluice@example.com", StartTLS: true, TLS: &tls.Config{RootCAs: mb.certs}}
}

// TestEmail sends a notification to a real SMTP server over STARTTLS with
// AUTH PLAIN, and with AUTH LOGIN where that is all the server offers,
// and checks the envelope, the headers, the subject and the body.
func TestEmail(t *testing.T) {
	t.Parallel()
	for _, mechs := range [][]string{{sasl.Plain, sasl.Login}, {sasl.Login}} {
		t.Run(strings.Join(mechs, "+"), func(t *testing.T) {
			t.Parallel()
			mb := startMailbox(t, mechs)
			s := newSender(t, Config{SMTP: mb.config()})
			m := failedMessage("email", "ops@example.com, dev@example.com")
			m.CC = "boss@example.com"
			m.Stage = &Stage{ID: "s1", RefID: "2", Name: "Deploy", Type: "Aws.LambdaDeploymentStage", Status: "TERMINAL", Error: "function shop-api: ResourceConflictException"}
			m.Event = "stage.failed"
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			got := mb.received()
			if len(got) != 1 {
				t.Fatalf("the server received %d messages, want 1", len(got))
			}
			r := got[0]
			if !r.tls || r.authUser != "sluice" || r.from != "sluice@example.com" {
				t.Errorf("tls %v, authenticated as %q, from %q; want STARTTLS, sluice, sluice@example.com", r.tls, r.authUser, r.from)
			}
			if want := []string{"ops@example.com", "dev@example.com", "boss@example.com"}; strings.Join(r.to, ",") != strings.Join(want, ",") {
				t.Errorf("recipients %v, want %v", r.to, want)
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(r.data)))
			if err != nil {
				t.Fatal(err)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]string{
				"From": "sluice@example.com", "To": "ops@example.com, dev@example.com", "Cc": "boss@example.com",
				"Message-ID": "<ex1.0@sluice>", "Content-Type": "text/plain; charset=utf-8", "X-Sluice-Event": "stage.failed",
				"Date": "Mon, 07 Dec 2026 03:04:05 +0000",
			} {
				if got := msg.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if want := "[Sluice] Stage failed for SHOP: deploy <prod>"; subject != want {
				t.Errorf("Subject %q, want %q", subject, want)
			}
			body, _ := io.ReadAll(msg.Body)
			want := "Stage Deploy for Shop's deploy <prod> pipeline has failed\r\n" +
				"Error: function shop-api: ResourceConflictException\r\n\r\n" +
				"Page the *on-call* & check the dashboard\r\n\r\n" +
				"https://sluice.example.com/executions/ex1\r\n"
			if string(body) != want {
				t.Errorf("body:\n%q\nwant\n%q", body, want)
			}
		})
	}
}

// TestEmailRefusals: the server's 5xx is permanent, its 4xx worth
// retrying; a server without STARTTLS is refused when startTLS is set;
// wrong credentials fail.
func TestEmailRefusals(t *testing.T) {
	t.Parallel()
	mb := startMailbox(t, []string{sasl.Plain})
	s := newSender(t, Config{SMTP: mb.config()})
	mb.rcptErr = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	err := s.Send(context.Background(), failedMessage("email", "nobody@example.com"))
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "no such user") {
		t.Errorf("550: %v, want a permanent error with the server's answer", err)
	}
	mb.mu.Lock()
	mb.rcptErr = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	mb.mu.Unlock()
	err = s.Send(context.Background(), failedMessage("email", "ops@example.com"))
	if err == nil || IsPermanent(err) {
		t.Errorf("451: %v, want an error worth retrying", err)
	}

	cfg := mb.config()
	cfg.Password = "wrong"
	if err := newSender(t, Config{SMTP: cfg}).Send(context.Background(), failedMessage("email", "ops@example.com")); err == nil || !strings.Contains(err.Error(), "AUTH") {
		t.Errorf("wrong password: %v, want an AUTH error", err)
	}
	if len(mb.received()) != 0 {
		t.Errorf("the server received %d messages, want none", len(mb.received()))
	}

	if err := newSender(t, Config{}).Send(context.Background(), failedMessage("email", "ops@example.com")); err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "notifications.smtp") {
		t.Errorf("no server configured: %v, want a permanent error naming notifications.smtp", err)
	}
}
