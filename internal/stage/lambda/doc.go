// Package lambda implements the AWS Lambda stages — Spinnaker's
// Aws.LambdaDeploymentStage, Aws.LambdaUpdateCodeStage,
// Aws.LambdaInvokeStage, Aws.LambdaTrafficRoutingStage and
// Aws.LambdaDeleteStage with the plugin's field names, defaults and
// outputs — and the rollback stage that restores alias routings.
//
// Every stage reaches Lambda only through the account's aws-sdk-go-v2
// client (awsclient), over HTTP, whether the account is the embedded local
// Lambda or AWS (ARCHITECTURE.md rule 1). It holds no cache: each decision
// is made on a fresh read (rule 6).
//
// # Tasks
//
// A stage is a few short tasks. No task blocks waiting for AWS: a task
// that waits (for State Active, LastUpdateStatus Successful, a published
// version, an event source mapping) reads once and returns Running with a
// short, growing RetryAfter, and the engine runs it again. It fails
// TERMINAL when the function reports Failed (with AWS's reason) or when
// waitTimeoutSeconds (default 300) pass since the task started.
//
// # Re-runs
//
// Any task may run twice (rule 5). Tasks re-read AWS first and act only on
// the difference; what they did is recorded in Result.Context so a later
// task (or a re-run) continues instead of repeating. Deploy publishes at
// most one version per change: before publishing it compares $LATEST's
// CodeSha256 and configuration with the newest published version and
// publishes with RevisionId and CodeSha256 preconditions. Delete records
// the versions it resolved before deleting any, so a re-run deletes the
// same versions, never the next ones.
//
// # Fields
//
// An absent field leaves AWS unchanged; an explicit empty value ({} or [])
// clears. Values are validated by Validate (types and ranges, by field
// name); values containing ${ are checked only once evaluated, at run time.
//
// # Shared helpers (for every file of this package)
//
//   - base: embeds the accounts; base.function resolves a task's account,
//     region and function name (application prefix rule included).
//   - fieldSpec / validateSpecs: Validate's type and range checks; and the
//     read helpers str, integer, boolean, stringList, stringMap.
//   - fail / retry / result: a task's error → stage.Result; apiError
//     classifies SDK errors (conflicts and throttling retry, the rest fail
//     with AWS's message).
//   - waitActive / waitUpdated / waitVersionActive: one-poll checks with
//     the acceptors of the SDK waiters FunctionActiveV2, FunctionUpdatedV2
//     and PublishedVersionActive.
//   - versions.go: Selector, ParseSelector, publishedVersions, aliasUsage.
//   - esm.go: reconcileEventSources on an exact target (function or alias).
package lambda
