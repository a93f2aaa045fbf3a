// Package oidc logs a console user in through an OpenID Connect identity
// provider (Okta, Entra ID, Google, Keycloak, Dex, …) and says who they are.
//
// It owns one exchange with the provider, the authorization code flow with
// PKCE, and turns the verified ID token into an [Identity]: subject, user
// name, email and groups. It must not know about Sluice's sessions, roles or
// console: the caller mounts [Provider.Start] and [Provider.Callback] on two
// GET routes, and makes its own session from the Identity that Callback
// returns.
//
// # The flow
//
//	browser            Sluice (Start)              identity provider    Sluice (Callback)
//	GET /auth/oidc/login ──►  state, nonce, PKCE verifier
//	                          sealed in a cookie; 302 ──► authorize
//	                                                     user logs in; 302 ──► ?code&state
//	                                                                      open cookie, compare state,
//	                                                                      exchange code + verifier ──► token
//	                                                                      verify ID token: signature,
//	                                                                      issuer, audience, expiry, nonce
//	                                                                      ──► Identity, returnTo
//
// # Why a sealed cookie, not server-side state
//
// What Start must remember until Callback (state, nonce, verifier and the page
// to return to) lives in one cookie, encrypted and authenticated with
// AES-256-GCM under a key derived from the caller's secret. Nothing is stored
// on the server, so any of several Sluice processes behind a load balancer
// can finish a login another one started, a restart loses no login in
// progress, and a flood of Start requests costs no memory. Encryption (not
// just a signature) keeps the PKCE verifier unreadable to anything that sees
// the cookie.
//
// # What holds
//
//   - The cookie binds the callback to the browser that started the login
//     (state compared in constant time), so a code cannot be injected into
//     someone else's browser (login CSRF). It is HttpOnly, SameSite=Lax (the
//     provider's redirect back is a cross-site top-level GET, which Strict
//     would drop), Secure and __Host- prefixed when the callback is https.
//   - A login lives LoginTimeout. The time is inside the sealed cookie, so an
//     old cookie a browser kept is still refused.
//   - Callback clears the cookie whatever the outcome, so a callback URL
//     cannot be replayed in the same browser; a replay with a copied cookie
//     reuses a code, which the provider refuses (RFC 6749 §4.1.2).
//   - The state is checked before the provider's error is read, so a crafted
//     link cannot put its own words on the error page.
//   - returnTo is a path on this server ([IsLocalPath]): no open redirect.
//   - Names come from the usernameClaim; an email the provider marks
//     unverified (email_verified: false) is never used as a name or email.
package oidc
