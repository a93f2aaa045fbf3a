// Package webhook implements Orca's "webhook" stage: call a URL with a
// method, headers and a payload, and, when the stage waits for
// completion, poll a status URL until the status it reads says the work
// is done. It owns the stage's fields, its tasks, and the HTTP client that
// may reach only what the server's configuration allows; it must not call
// any address that its allow-list refuses, and it never waits in a goroutine.
//
// # Tasks
//
// Orca's, by name:
//
//	createWebhook             call url; keep the response as "webhook"
//	                          (statusCode, statusCodeValue, headers, body,
//	                          error) and the status URL as "statusEndpoint"
//	waitBeforeMonitorWebhook  waitBeforeMonitor seconds, as a snoozed job
//	monitorWebhook            GET statusEndpoint; "webhook.monitor" holds
//	                          the poll's response, progressMessage,
//	                          percentComplete, pastStatusCodes
//
// createWebhook fails fast on failFastStatusCodes (504 unless set), tries
// again every 10 seconds for 5 minutes on a 5xx, a 429,
// webhookRetryStatusCodes, a name that does not resolve and a GET that
// times out, and fails on any other 4xx. monitorWebhook polls every second,
// every 15 after a minute, and tries again on a 5xx, a 429,
// retryStatusCodes, and codes in retries up to their maxAttempts. Its
// status is the value at statusJsonPath: a number is a percentage, done at
// 100; a text or boolean, in upper case, is looked up in terminalStatuses,
// canceledStatuses and successStatuses, and anything else means running.
// Without statusJsonPath the first successful poll ends the stage.
//
// # At least once
//
// Every task may run twice (ARCHITECTURE.md rule 5): a server that dies
// after the webhook answered and before the answer was recorded calls it
// again when the job is rescued, as Orca does after a crash. A stage that
// sets Sluice's idempotencyKey sends an Idempotency-Key header, the same
// on every run of one stage run (its execution, stage and start time), so
// that a receiver can tell the second call from a new one; a restarted
// stage sends a new key. Polls are GETs; cancel calls should be safe to
// repeat.
//
// # Cancel
//
// An execution canceled while the stage runs calls cancelEndpoint
// (cancelMethod, cancelPayload, customHeaders) through the stage's
// Cancel hook; a stage that fails calls it too, on a best effort, as
// Orca's onFailureStages does. A stage canceled after its webhook accepted
// the call and without a cancelEndpoint ends TERMINAL, saying that what
// the webhook started goes on (stage.AppliedError).
//
// # Where it may call
//
// An egress.Policy holds webhooks.allowedHosts from sluice.yaml. Every URL
// is checked before its request and every redirect; every address is
// checked again as it is dialed, after DNS resolution, so a name that
// resolves (or is rebound) to a private or link-local address is refused
// unless that address is listed. With no list only loopback may be
// called; with one, loopback only if it lists "loopback". Requests
// have a connect timeout (15s), a response-header timeout (20s) and an
// overall one, and a response body is read up to 1 MiB. No proxy from the
// environment is used.
package webhook
