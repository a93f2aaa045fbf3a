package sns

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"
)

// verifySignature checks an envelope's signature as a subscriber checks
// AWS's: the certificate from SigningCertURL, SignatureVersion 1's string
// to sign built from the envelope's own fields.
func verifySignature(t *testing.T, ts *testService, env map[string]string) {
	t.Helper()
	resp, err := http.Get(env["SigningCertURL"])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("SigningCertURL %s: no PEM certificate in %q", env["SigningCertURL"], b)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	fields := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if env["Type"] == "SubscriptionConfirmation" {
		fields = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var sb strings.Builder
	for _, f := range fields {
		if v, ok := env[f]; ok {
			sb.WriteString(f + "\n" + v + "\n")
		}
	}
	sig, err := base64.StdEncoding.DecodeString(env["Signature"])
	if err != nil {
		t.Fatalf("Signature %q: %v", env["Signature"], err)
	}
	h := sha1.Sum([]byte(sb.String()))
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA1, h[:], sig); err != nil {
		t.Errorf("the %s's signature does not verify: %v", env["Type"], err)
	}
}
