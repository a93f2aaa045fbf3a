package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// TokenPrefix starts every API token, so that secret scanners and people
// recognise one.
const TokenPrefix = "sluice_"

// newSecret returns 256 random bits, URL-safe, behind prefix.
func newSecret(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashSecret is what the store keeps of a secret.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// csrfToken derives a session's CSRF token from its secret: the server
// keeps neither, and only the holder of the cookie can compute it.
func csrfToken(sessionSecret string) string {
	sum := sha256.Sum256([]byte("sluice csrf\x00" + sessionSecret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// LooksLikeToken reports whether s has the shape of an API token, to tell
// a mistyped token from something else pasted by mistake.
func LooksLikeToken(s string) bool {
	return strings.HasPrefix(s, TokenPrefix) && len(s) == len(TokenPrefix)+43
}
