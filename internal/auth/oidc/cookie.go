package oidc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// loginState is what Start hands to Callback through the browser.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"` // the PKCE code verifier
	ReturnTo string `json:"r"`
	Expires  int64  `json:"e"` // Unix seconds
}

// MinSecretLen is the least number of bytes Options.Secret must have.
const MinSecretLen = 32

// sealer encrypts and authenticates loginStates for the cookie.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) (sealer, error) {
	if len(secret) < MinSecretLen {
		return sealer{}, fmt.Errorf("oidc secret has %d bytes; give at least %d random bytes", len(secret), MinSecretLen)
	}
	// A key of its own, so the caller may key other things with the same
	// secret without one use weakening another.
	key, err := hkdf.Key(sha256.New, secret, nil, "sluice oidc login cookie", 32)
	if err != nil {
		return sealer{}, fmt.Errorf("derive cookie key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, fmt.Errorf("derive cookie key: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return sealer{}, fmt.Errorf("derive cookie key: %w", err)
	}
	return sealer{aead}, nil
}

// seal returns the cookie value for st. The cookie's name is authenticated
// with it, so a value cannot be moved to a cookie of another name.
func (s sealer) seal(name string, st loginState) string {
	b, err := json.Marshal(st)
	if err != nil {
		panic(err) // a struct of strings and an integer always encodes
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nil, nil, b, []byte(name)))
}

var errUnsealed = errors.New("the login cookie was not made by this server, or was changed")

func (s sealer) open(name, value string) (loginState, error) {
	var st loginState
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return st, errUnsealed
	}
	b, err = s.aead.Open(nil, nil, b, []byte(name))
	if err != nil {
		return st, errUnsealed
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, errUnsealed
	}
	return st, nil
}
