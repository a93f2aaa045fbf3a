// Package locallambda is Sluice's embedded local Lambda: an HTTP endpoint
// that answers the AWS Lambda REST API (2015-03-31) as AWS does, stores
// functions, versions and aliases, routes weighted aliases, and runs real
// function packages as local processes over the Lambda Runtime API. The
// same endpoint serves an S3-compatible store for code artifacts.
//
// # What it is
//
// A faithful AWS peer for development and tests (ARCHITECTURE.md rules 1
// and 2). Sluice's Lambda stages, aws-sdk-go-v2 (waiters included), the AWS
// CLI and functions built with github.com/aws/aws-lambda-go work against it
// unchanged: same paths, status codes, error envelopes (X-Amzn-ErrorType
// plus a JSON body, so errors.As finds *types.ResourceNotFoundException and
// the rest), State and LastUpdateStatus transitions, RevisionId
// preconditions and Invoke headers. Where it cannot do what AWS does —
// container images, VPC networking, layers, EFS, code signing, SnapStart,
// function URLs, resource policies, Lambda@Edge replicas, S3 object
// versions — it refuses with an InvalidParameterValueException that says
// so, never a silent success.
//
// # What it is not
//
// A sandbox. Functions run as ordinary child processes with the rights of
// the user running Sluice, on this machine's network and file system. The
// endpoint has no authentication (it ignores SigV4 signatures), so it only
// listens on loopback. Do not run code you would not run yourself.
//
// # Shape
//
//	Server ─ one loopback port
//	  /20YY-MM-DD/…  Lambda REST API ─ control plane (this package's server.go, control_*.go)
//	  │                                 model: state*.go, snapshot state.json, packages under functions/
//	  │              Invoke ─────────── data plane: Invoker (invoke*.go, pool.go, runtime*.go)
//	  │                                 asks the control plane through Resolver.ResolveInvoke
//	  GET /metrics    Prometheus (data plane)
//	  everything else S3, path-style (gofakes3 on the file-backed s3Store, s3.go)
//
// Path-style S3 only: a client must set UsePathStyle (aws-sdk-go-v2) or
// use an IP address endpoint (the AWS CLI then uses path style). A bucket
// whose name looks like a Lambda API version date (2015-03-31) cannot be
// reached, and GET /metrics without a query string is Prometheus, not the
// listing of a bucket named "metrics".
//
// # Function states
//
// Every change that needs the package unpacked or the runtime checked
// answers at once and completes asynchronously, in a goroutine the Server
// owns (an "activation"; milliseconds). The API always reports State and
// LastUpdateStatus, which the SDK's waiters poll.
//
//	CreateFunction                      UpdateFunctionCode / UpdateFunctionConfiguration
//	  State Pending                       State Active (unchanged)
//	  LastUpdateStatus InProgress         LastUpdateStatus InProgress
//	        │ activation                        │ activation
//	        ├─ ok ─→ Active / Successful        ├─ ok ─→ Active / Successful; $LATEST's old
//	        └─ fail → Failed / Failed           │        environments are retired
//	           (StateReason, StateReasonCode    └─ fail → Active / Failed (LastUpdateStatusReason…);
//	            InvalidZipFileException or               the previous code and configuration stay,
//	            InvalidRuntime)                          as on AWS
//
//	PublishVersion (or Publish: true)   a new version: Pending / InProgress → Active / Successful,
//	                                    or Failed / Failed; it unpacks into its own directory
//
// While $LATEST is Pending or InProgress, UpdateFunctionCode,
// UpdateFunctionConfiguration and PublishVersion answer 409
// ResourceConflictException with AWS's messages ("… The function is
// currently in the following state: Pending", "… An update is in progress
// for resource: ARN"), and Invoke of a Pending or Failed version answers
// 409. During an update, invocations of $LATEST run the previous
// configuration. A failed function can be fixed with UpdateFunctionCode:
// it goes back to Pending and activates again.
//
// # Invariants
//
//   - Every change to the model is written to DataDir/state.json (temp file,
//     fsync, rename, fsync of the directory) before the API answers; the
//     activation a change needs is part of the model and resumes after a
//     restart.
//   - Version numbers are never reused, even after the newest is deleted.
//     PublishVersion publishes only when code or configuration changed since
//     the newest version, else it returns that version.
//   - A published version's unpacked directory is its own and is never
//     written after it is unpacked. Package files are kept once per content
//     and removed when no version references them.
//   - RevisionId changes with every change of a function (its state
//     transitions and PublishVersion included) or an alias.
//
// # Deliberate differences from AWS
//
//   - A weight of exactly 1.0 in AdditionalVersionWeights is accepted (the
//     model's range is [0.0, 1.0]); it sends every invocation to the
//     additional version.
//   - The same-role and same-dead-letter-queue rules of weighted aliases are
//     InvalidParameterValueException naming both versions and the values
//     that differ (AWS's exact type and text are unverified).
//   - An oversized control-plane request is RequestTooLargeException (413)
//     with AWS's "Request must be smaller than 69905067 bytes for the X
//     operation" text; AWS sends that text as RequestEntityTooLargeException,
//     which the Lambda model does not declare.
//   - Event source mappings are validated, stored and move through their
//     states, but events are not yet delivered from their sources.
package locallambda
