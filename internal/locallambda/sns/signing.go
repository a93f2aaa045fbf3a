package sns

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Message signatures, SignatureVersion 1 as AWS computes them: RSA with
// SHA1 over "Name\nvalue\n" lines of the message's fields in a fixed
// order. The key and its self-signed certificate are made on first Open
// and kept in the database; CertificateHandler serves the certificate at
// SigningCertURL, so a receiver can verify a message as it verifies
// AWS's (with this certificate, not Amazon's).

func (s *Service) loadSigningKey(ctx context.Context) error {
	var keyDER, certPEM []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'signing_key'`).Scan(&keyDER)
	if err == nil {
		err = s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'signing_cert'`).Scan(&certPEM)
	}
	if err == nil {
		key, err := x509.ParsePKCS1PrivateKey(keyDER)
		if err != nil {
			return fmt.Errorf("read the signing key: %w", err)
		}
		s.key, s.cert = key, certPEM
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the signing key: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("make a signing key: %w", err)
	}
	now := s.cfg.Clock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "sns.local (Sluice local SNS)"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(20, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("make a signing certificate: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('signing_key', ?)`, x509.MarshalPKCS1PrivateKey(key)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('signing_cert', ?)`, certPEM)
		return err
	})
	if err != nil {
		return fmt.Errorf("store the signing key: %w", err)
	}
	s.key, s.cert = key, certPEM
	return nil
}

// stringToSign is SignatureVersion 1's canonical form of m.
func (s *Service) stringToSign(m *message) string {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	ts := m.Timestamp.UTC().Format(timestampFormat)
	add("Message", m.Message)
	add("MessageId", m.MessageID)
	if m.Type == typeConfirmation {
		add("SubscribeURL", s.subscribeURL(m.TopicARN, m.Token))
		add("Timestamp", ts)
		add("Token", m.Token)
	} else {
		if m.Subject != "" {
			add("Subject", m.Subject)
		}
		add("Timestamp", ts)
	}
	add("TopicArn", m.TopicARN)
	add("Type", m.Type)
	return b.String()
}

func (s *Service) sign(m *message) string {
	h := sha1.Sum([]byte(s.stringToSign(m)))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA1, h[:])
	if err != nil {
		s.log.Error("local sns: sign a message", "err", err)
		return ""
	}
	return base64.StdEncoding.EncodeToString(sig)
}
