// Package notify delivers notifications of executions: it turns one
// Message (an event of an execution, or of one of its stages, for one
// entry of a pipeline's or stage's notifications) into what a channel
// expects — a Slack message (incoming webhook or chat.postMessage), a
// Microsoft Teams MessageCard, a Google Chat message, Sluice's generic
// webhook JSON, an email over SMTP — and sends it once.
//
// It must not decide when to notify or retry: the engine matches events
// to notifications and delivers each Message by a durable job that
// retries with backoff (engine/notifications.go). Send reports whether a
// failure is worth retrying (IsPermanent).
//
// Every HTTP request goes through an egress.Policy (the config's
// allowedHosts, by default Slack's, Teams' and Google Chat's public hosts
// and loopback) and gives up after a timeout. Webhook URLs hold their
// secret in the path, so errors and records show them redacted
// (egress.Redact).
//
// The texts follow Echo's (SlackNotificationAgent,
// MicrosoftTeamsNotificationAgent, the manualJudgment templates): "Myapp's
// deploy pipeline has failed", "Stage Approve for Myapp's deploy pipeline
// is awaiting manual judgment", with the custom message of the event
// (message.<event>.text) after it.
package notify
