// Package web is Sluice's browser console: server-rendered HTML pages for
// applications, pipelines, canary configs, executions, functions and the
// audit log, with a little JavaScript for live updates and actions.
// Templates and static assets are embedded with go:embed; building or
// running it needs no Node, and pages load nothing from outside the server
// (no CDN, no web fonts).
//
// The console is a client of the public JSON API and nothing else — it
// can do nothing the CLI could not do (ARCHITECTURE.md rule 10). On the
// server it reads through an apiclient.Client whose transport runs the API
// handler in-process (inprocess.go). In the browser, actions (run, judge,
// cancel, pause, resume, restart, skip wait, rollback, validate, save) are
// fetch() calls to /api/v1, and live updates follow the API's server-sent
// event streams: on an event the script fetches the same page again and
// swaps the regions marked data-live that changed, so there is one
// rendering, the server's. It must not import the store, the engine or
// httpapi.
//
// # Who is signed in
//
// Every page acts for the viewer. The browser holds the API's session
// cookie (HttpOnly, SameSite=Lax), and in-process calls carry it, with the
// browser's address and connection, so the API authenticates, authorizes
// and audits the viewer as it would any client. A page whose API call
// answers 401 redirects to /login?next=<the page>; the login page opens a
// session with a pasted API token (POST /login) or a one-time login link
// (GET /login?code=…, printed by sluice serve and sluice demo), and returns
// to next — a path on this server, never another site. The layout shows who
// is signed in, with a Sign out form (POST /logout).
//
// A session's state-changing API requests must carry its CSRF token: the
// layout puts it in <meta name="csrf-token">, the script sends it as
// X-CSRF-Token with every fetch that changes something, and the Sign out
// form in a hidden field. The console's own form POSTs need no token of
// their own against other sites: the API's handler, which serves the
// console, refuses every state-changing request whose Origin is another
// site, on every path.
//
// Every page's header says what waits for the viewer: the manual
// judgments they may judge, from one API call (executions?awaiting=judgment).
//
// Every page is readable without JavaScript. Times are rendered in UTC
// inside <time datetime>, and the script shows them in the viewer's zone.
//
// Pages (none of them is an API route):
//
//	/, /applications/{app}         applications and their pipelines, with Run forms
//	/pipelines/{app}/{name}        stage graph, document (JSON or YAML, in
//	                               the author's key order) with validation
//	                               and save (leaving with unsaved edits
//	                               asks first), revisions and their diff
//	/executions                    executions, filtered by application,
//	                               pipeline, status and a search of the
//	                               trigger (version=v2), paginated; each
//	                               row shows its trigger's parameters
//	/executions/{id}               the live execution: graph, stage panel
//	                               (with a canary analysis's report, drawn
//	                               as server-side SVG in svg.go), judgment
//	                               (with who may judge it and the evidence:
//	                               split, per-version figures since it began,
//	                               the analysis's recommendation),
//	                               operations, a link to its audit log
//	/functions, /functions/{acct}  accounts; an account's functions, versions,
//	                               aliases with their traffic, local metrics
//	                               (a version promoted away keeps its figures)
//	/audit                         the audit log: who did what, when, from
//	                               where; filtered by application, user,
//	                               action and execution, paginated
//	/login                         sign in: a token, a login link's ?code=,
//	                               or single sign-on when the server has it
//	/logout                        (POST) sign out
//	/static/…                      the stylesheet and the script
package web
