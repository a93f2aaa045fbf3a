// Package auth decides who a request is and what it may do.
//
// # Who: credentials
//
// Every request to the API carries one credential, and a credential stands
// for one Principal — the name that every record the request makes carries,
// and the roles (groups) that policy grants rights to:
//
//	API token      "Authorization: Bearer sluice_…", named, with roles and an
//	               optional expiry; created and revoked through the API.
//	               The server's admin token (DATA_DIR/admin.token, mode
//	               0600, made at first start) is one, with the role admin.
//	session        the console's cookie, opened by a token, a one-time
//	               login link or single sign-on (package oidc); it carries
//	               a CSRF token that every state-changing request must echo.
//	login link     a one-time code, printed at start as a URL, that opens a
//	               session as the admin (as Jupyter does); taking it
//	               revokes it.
//
// The store keeps only the SHA-256 of each secret. Secrets are 256 random
// bits, so a fast hash is enough: nobody can guess a preimage, and lookups
// by hash leak nothing about the secret.
//
// # What: policy
//
// Rights are per application: read (see pipelines and executions), execute
// (run, judge, cancel, pause, resume, restart, roll back) and write (save and
// delete pipelines); each includes the ones before it. sluice.yaml's auth
// section grants them to subjects — a role, "user:NAME" or "token:NAME" —
// per application, "*" for every application. Principals with the role
// admin (or named in auth.admins) may do everything, including managing
// tokens and reading the whole audit log. Accounts may list the
// applications whose pipelines may deploy to them (Fiat's account
// permissions); a pipeline that names another account fails validation.
//
// This package must not serve HTTP routes or render pages: package httpapi
// does, with what this package decides.
package auth
