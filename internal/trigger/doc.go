// Package trigger owns what starts a pipeline without a person: the trigger
// types Sluice runs, the checks of their fields when a pipeline is saved,
// and the matching of an event to a trigger — a webhook delivery's
// payloadConstraints, a git push's source, project, slug, branch and
// action, a cron expression's next tick.
//
// It is pure: it reads no store, starts no execution and does no I/O. The
// API (package httpapi) receives deliveries and asks this package which
// triggers they fire; the engine runs cron ticks as durable jobs and asks
// this package when the next tick is. A new trigger type is one Register
// call on the Registry (the pipeline trigger is added that way).
//
// Semantics follow Spinnaker's Echo (echo-pipelinetriggers'
// WebhookEventHandler, GitEventHandler and ArtifactMatcher; echo-webhooks'
// GitHub and GitLab handlers; echo-scheduler's TriggerConverter,
// CronExpressionFuzzer and MissedPipelineTriggerCompensationJob):
//
//   - webhook: fires when every payloadConstraints key is in the payload
//     (a key starting with "$" is a JSONPath) and its value, as text,
//     contains a match of the constraint's regular expression; the
//     payload's "parameters" object becomes trigger.parameters and the
//     whole payload trigger.payload.
//   - git: fires when source, project and slug equal the event's (ignoring
//     case), branch (a regular expression matched against the whole branch
//     name) is empty or matches, and events is empty or lists the event's
//     action ("push:push" for a GitHub push, "push" or "tag_push" for
//     GitLab).
//   - cron: Quartz's cron syntax with seconds, "?", L, W and #, an optional
//     year, and Echo's H (a per-trigger hash) in the seconds, minutes and
//     hours fields.
//
// Where Sluice differs, it is safer and says so: the secret that
// authenticates a delivery is never written in the pipeline document (a
// trigger names one, secretName, held in the server's configuration), and
// a bad regular expression or cron expression is refused when the
// pipeline is saved instead of never matching.
package trigger
