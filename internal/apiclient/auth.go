package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// Session tells who the client's credential stands for.
func (c *Client) Session(ctx context.Context) (*apitype.Session, error) {
	var s apitype.Session
	if err := c.do(ctx, "get session", request{method: http.MethodGet, url: c.endpoint(nil, "session")}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// OpenSession opens a console session with a token or a login link's code.
// The session's secret comes back as the sluice_session cookie, in the
// response's Set-Cookie header, which setCookie receives (nil ignores it).
func (c *Client) OpenSession(ctx context.Context, req apitype.SessionRequest, setCookie func(*http.Cookie)) (*apitype.Session, error) {
	r, err := jsonRequest(http.MethodPost, c.endpoint(nil, "session"), req)
	if err != nil {
		return nil, err
	}
	return c.sessionCall(ctx, "open session", r, setCookie)
}

// CloseSession ends the console session whose cookie and CSRF token the
// request carries (header), and gives the clearing cookie to setCookie.
func (c *Client) CloseSession(ctx context.Context, header http.Header, setCookie func(*http.Cookie)) error {
	_, err := c.sessionCall(ctx, "close session", request{method: http.MethodDelete, url: c.endpoint(nil, "session"), header: header}, setCookie)
	return err
}

func (c *Client) sessionCall(ctx context.Context, op string, req request, setCookie func(*http.Cookie)) (*apitype.Session, error) {
	resp, err := c.send(ctx, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, readError(resp)
	}
	if setCookie != nil {
		for _, ck := range resp.Cookies() {
			setCookie(ck)
		}
	}
	if resp.StatusCode == http.StatusNoContent {
		return nil, nil
	}
	var s apitype.Session
	if err := decodeBody(resp, op, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// CreateLoginLink makes a one-time link that opens a console session as
// the admin (admins only).
func (c *Client) CreateLoginLink(ctx context.Context) (*apitype.LoginLink, error) {
	r, err := jsonRequest(http.MethodPost, c.endpoint(nil, "login-links"), struct{}{})
	if err != nil {
		return nil, err
	}
	var l apitype.LoginLink
	if err := c.do(ctx, "create login link", r, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// ListTokens lists the API tokens in force (admins only).
func (c *Client) ListTokens(ctx context.Context) (*apitype.TokenList, error) {
	var l apitype.TokenList
	if err := c.do(ctx, "list tokens", request{method: http.MethodGet, url: c.endpoint(nil, "tokens")}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// CreateToken creates an API token; the answer holds its secret, once.
func (c *Client) CreateToken(ctx context.Context, req apitype.TokenRequest) (*apitype.NewToken, error) {
	r, err := jsonRequest(http.MethodPost, c.endpoint(nil, "tokens"), req)
	if err != nil {
		return nil, err
	}
	var t apitype.NewToken
	if err := c.do(ctx, "create token", r, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// RevokeToken revokes the token with this ID.
func (c *Client) RevokeToken(ctx context.Context, id string) (*apitype.Token, error) {
	r, err := jsonRequest(http.MethodDelete, c.endpoint(nil, "tokens", id), struct{}{})
	if err != nil {
		return nil, err
	}
	var t apitype.Token
	if err := c.do(ctx, "revoke token", r, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// AuditOptions filter ListAudit. Zero values mean no filter; Limit 0 is the
// server's default (100).
type AuditOptions struct {
	Application string
	Execution   string
	User        string
	Action      string
	Since       time.Time
	// Before is the NextBefore of the previous page.
	Before int64
	Limit  int
}

// ListAudit returns one page of the audit log, newest first.
func (c *Client) ListAudit(ctx context.Context, opts AuditOptions) (*apitype.AuditList, error) {
	q := url.Values{}
	for k, v := range map[string]string{"application": opts.Application, "execution": opts.Execution, "user": opts.User, "action": opts.Action} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !opts.Since.IsZero() {
		q.Set("since", opts.Since.UTC().Format(time.RFC3339))
	}
	if opts.Before > 0 {
		q.Set("before", strconv.FormatInt(opts.Before, 10))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var l apitype.AuditList
	if err := c.do(ctx, "list audit log", request{method: http.MethodGet, url: c.endpoint(q, "audit")}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}
