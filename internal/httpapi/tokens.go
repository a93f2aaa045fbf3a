package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/store"
)

func toToken(c *store.Credential) apitype.Token {
	return apitype.Token{
		ID: c.ID, Name: c.Name, Subject: c.Subject, Roles: nonNil(c.Roles), CreatedBy: c.CreatedBy,
		CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, RevokedAt: c.RevokedAt,
	}
}

func (s *server) listTokens(w http.ResponseWriter, r *http.Request) error {
	tokens, err := s.auth.Tokens(r.Context())
	if err != nil {
		return err
	}
	out := apitype.TokenList{Tokens: make([]apitype.Token, 0, len(tokens))}
	for _, t := range tokens {
		out.Tokens = append(out.Tokens, toToken(t))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createToken creates an API token and answers with its secret, the only
// time anyone sees it.
func (s *server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req apitype.TokenRequest
	if err := decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	params := auth.TokenParams{Name: req.Name, Roles: req.Roles, CreatedBy: s.who(r).Name}
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return badRequest("expiresIn %q is not a positive duration such as \"720h\"", req.ExpiresIn)
		}
		at := s.now().Add(d)
		params.ExpiresAt = &at
	}
	var (
		secret string
		c      *store.Credential
	)
	err := s.store.InTx(r.Context(), func(tx store.Tx) error {
		var err error
		if secret, c, err = s.auth.In(tx).CreateToken(r.Context(), params); err != nil {
			return err
		}
		return tx.AuditInsert(r.Context(), s.auditEntry(r, "token.create", "", "",
			map[string]any{"token": c.Name, "id": c.ID, "roles": c.Roles}))
	})
	if errors.Is(err, auth.ErrInvalid) {
		return badRequest("%s", err.Error())
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apitype.NewToken{Token: toToken(c), Secret: secret})
	return nil
}

func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := decodeJSONBody(w, r, &struct{}{}); err != nil {
		return err
	}
	id := r.PathValue("id")
	var c *store.Credential
	err := s.store.InTx(r.Context(), func(tx store.Tx) error {
		var err error
		if c, err = s.auth.In(tx).RevokeToken(r.Context(), id); err != nil {
			return err
		}
		return tx.AuditInsert(r.Context(), s.auditEntry(r, "token.revoke", "", "",
			map[string]any{"token": c.Name, "id": c.ID}))
	})
	if err != nil {
		return orNotFound(err, "no token %s is in force; GET /api/v1/tokens lists them", id)
	}
	writeJSON(w, http.StatusOK, toToken(c))
	return nil
}
