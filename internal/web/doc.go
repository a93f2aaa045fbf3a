// Package web is Sluice's browser console: server-rendered HTML pages for
// applications, pipelines, executions and functions, with a little
// JavaScript for live updates and actions. Templates and static assets are
// embedded with go:embed; building or running it needs no Node, and pages
// load nothing from outside the server (no CDN, no web fonts).
//
// The console is a client of the public JSON API and nothing else — it
// can do nothing the CLI could not do (ARCHITECTURE.md rule 10). On the
// server it reads through an apiclient.Client whose transport runs the API
// handler in-process (inprocess.go). In the browser, actions (run, judge,
// cancel, pause, resume, restart, rollback, validate, save) are fetch()
// calls to /api/v1, and live updates follow the API's server-sent event
// streams: on an event the script fetches the same page again and swaps the
// regions marked data-live that changed, so there is one rendering, the
// server's. It must not import the store, the engine or httpapi.
//
// Every page is readable without JavaScript. Times are rendered in UTC
// inside <time datetime>, and the script shows them in the viewer's zone.
//
// Pages (none of them is an API route):
//
//	/, /applications/{app}         applications and their pipelines, with Run forms
//	/pipelines/{app}/{name}        stage graph, document (JSON or YAML) with
//	                               validation and save, revisions and their diff
//	/executions                    executions, filtered by application,
//	                               pipeline and status, paginated
//	/executions/{id}               the live execution: graph, stage panel,
//	                               judgment, operations
//	/functions, /functions/{acct}  accounts; an account's functions, versions,
//	                               aliases with their traffic, local metrics
//	/static/…                      the stylesheet and the script
package web
