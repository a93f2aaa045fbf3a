package apitype

import "time"

// Session is who a request acts for: the body of GET /api/v1/session, and
// of POST /api/v1/session, which opens a console session.
type Session struct {
	// Name is the identity every record of this principal carries.
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// Admin is true for a principal that may do everything.
	Admin bool `json:"admin"`
	// Via is "token" or "session".
	Via string `json:"via"`
	// CSRFToken is what a session's state-changing requests send in the
	// X-CSRF-Token header; empty for tokens.
	CSRFToken string `json:"csrfToken,omitempty"`
	// ExpiresAt is when the session ends; absent for tokens.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// SessionRequest is the body of POST /api/v1/session: exactly one of an
// API token and a login link's code.
type SessionRequest struct {
	Token string `json:"token,omitempty"`
	Code  string `json:"code,omitempty"`
}

// LoginLink is the body of POST /api/v1/login-links: a one-time link that
// opens a console session as the admin.
type LoginLink struct {
	// Path is the link relative to the server, /login?code=….
	Path      string    `json:"path"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Token is an API token, without its secret.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Subject   string     `json:"subject"`
	Roles     []string   `json:"roles"`
	CreatedBy string     `json:"createdBy"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

// TokenList is the body of GET /api/v1/tokens.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles,omitempty"`
	// ExpiresIn is a Go duration ("720h"); empty means the token does not
	// expire.
	ExpiresIn string `json:"expiresIn,omitempty"`
}

// NewToken is the body of a 201 from POST /api/v1/tokens: the token with
// its secret, shown this once.
type NewToken struct {
	Token
	Secret string `json:"secret"`
}

// AuditEntry is one entry of the audit log.
type AuditEntry struct {
	ID   int64  `json:"id"`
	User string `json:"user"`
	// Source is where the action came from: the client's address and how
	// it authenticated.
	Source      string         `json:"source"`
	Action      string         `json:"action"`
	Application string         `json:"application,omitempty"`
	Pipeline    string         `json:"pipeline,omitempty"`
	ExecutionID string         `json:"executionId,omitempty"`
	StageID     string         `json:"stageId,omitempty"`
	Details     map[string]any `json:"details,omitempty"`
	CreatedAt   time.Time      `json:"createdAt"`
}

// AuditList is the body of GET /api/v1/audit, newest first.
type AuditList struct {
	Entries []AuditEntry `json:"entries"`
	// NextBefore, when not zero, is the ?before= of the next page.
	NextBefore int64 `json:"nextBefore,omitempty"`
}
