// Package lambda implements the AWS Lambda stages — Spinnaker's
// Aws.LambdaDeploymentStage, Aws.LambdaUpdateCodeStage,
// Aws.LambdaInvokeStage, Aws.LambdaTrafficRoutingStage and
// Aws.LambdaDeleteStage with the plugin's field names, defaults and
// outputs — the rollback stage that restores alias routings, and Sluice's
// Lambda@Edge stages, which attach versions to CloudFront distributions
// (directly or as a continuous-deployment canary) through the account's
// CloudFront client.
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
// version, an event source mapping) reads once and returns
// stage.RetryAfter a short, growing delay, and the engine runs it again.
// It fails TERMINAL when the function reports Failed (with AWS's reason)
// or when waitTimeoutSeconds (default 300) pass since the task started.
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
// clears. Each stage type's fields are a spec struct (deploySpec,
// routeSpec, …) decoded once with stage.Validate when a pipeline is saved
// and with stage.Decode when a task runs; its Check holds the ranges and
// the rules between fields, for both. Values containing ${ are checked
// only once evaluated, at run time.
//
// # Files
//
//   - stagetype.go: stageType, the one stage.Type every Lambda stage is —
//     a spec and a list of tasks, each a function of the spec.
//   - deploy.go, updatecode.go, invoke.go, route.go (with alias.go and
//     bluegreen.go), delete.go, restore.go: one stage type each.
//   - target.go, code.go, config.go, esm.go, payload.go, expect.go: the
//     groups of fields specs share, with their checks.
//   - lambda.go: the type names, Types, and base.function, which resolves
//     a stage's account, region and function name (application prefix
//     rule included).
//   - outcome.go: fail and retry, a task helper's way of stopping it, and
//     outcome, which turns them into stage outcomes; apierror.go
//     classifies SDK errors (conflicts and throttling retry, the rest fail
//     with AWS's message).
//   - waiters.go: waitActive / waitUpdated / waitVersionActive, one-poll
//     checks with the acceptors of the SDK waiters FunctionActiveV2,
//     FunctionUpdatedV2 and PublishedVersionActive.
//   - publish.go, versions.go: publishing once, version selectors,
//     publishedVersions, aliasUsage; esm.go reconciles event source
//     mappings on an exact target (function or alias).
//   - state.go: what tasks record in the stage context.
//   - edge.go (Aws.LambdaEdgeAssociationStage), edge_staging.go (its
//     $STAGING canary and Aws.LambdaEdgePromoteStage), edge_restore.go
//     (sluice.LambdaEdgeRestoreAssociations, their rollback),
//     edge_check.go (the Lambda@Edge constraints, checked before any
//     change), edge_distribution.go (behaviors and associations,
//     UpdateDistribution with If-Match and a bounded re-read on
//     PreconditionFailed, the Deployed poll), plan_edge.go.
package lambda
