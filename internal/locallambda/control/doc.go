// Package control is the local Lambda's control plane: the model of
// functions, versions, aliases, concurrency, tags, event source mappings
// and event invoke configurations; its database (DataDir/control.db); the
// function packages on disk (DataDir/functions/…); the asynchronous
// activations that unpack and check them; and the Lambda REST API
// operations over all of it (Plane.Routes), answered as AWS answers them.
//
// It resolves what an Invoke runs for the data plane (Plane implements
// invoke.Resolver) and tells the data plane when a version's environments
// must go (DataPlane.Retire); it must not run functions itself, reach into
// the data plane's state, or write the data directory outside its own
// files. It reads code from the S3 store only through ObjectReader. It
// keeps no package-level mutable state.
//
// # Function states
//
// Every change that needs the package unpacked or the runtime checked
// answers at once and completes asynchronously, in a goroutine the Plane
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
//	                                    or Failed / Failed; it shares the directory its code is
//	                                    unpacked in, unpacking it only if no version has
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
// # Uploads in bounded memory
//
// A package never sits whole in memory. CreateFunction's Code.ZipFile and
// UpdateFunctionCode's ZipFile are base64-decoded from the request body as
// it arrives into a file of DataDir/tmp, hashed on the way (zipfile.go);
// the rest of the request, at most 1 MiB, is decoded as usual. A package
// named by S3Bucket/S3Key is copied there from the S3 store. The file is
// checked as a zip in place and renamed into functions/NAME/ID/zips/, and
// activations unzip it from the file. Every other operation's body is read
// into memory and may be at most 1 MiB. What request bodies take at once
// is bounded by Config.RequestMemory: an operation with a body waits (as
// long as its client does) until its share — its length, at most 1 MiB —
// is free. Invoke is not counted: the data plane bounds its payloads.
// Open empties DataDir/tmp of what an interrupted upload left.
//
// # Invariants
//
//   - Every change to the model is committed to DataDir/control.db (SQLite,
//     WAL, synchronous=FULL: the log is synced at each commit) before the
//     API answers, in one transaction that writes only the rows of the
//     records it changed (store.go); the model in memory serves reads and
//     is changed under the same lock, and put back from the database if a
//     commit fails. The activation a change needs is part of the model and
//     resumes after a restart. A DataDir/state.json of an earlier build is
//     migrated on the first start and renamed state.json.migrated.
//   - Open opens the database and reads the model in the background: the
//     port opens at once, and every operation waits until the model is
//     read.
//   - Version numbers are never reused, even after the newest is deleted.
//     PublishVersion publishes only when code or configuration changed since
//     the newest version, else it returns that version.
//   - Unpacked code is kept once per content (functions/NAME/ID/code/HEX,
//     HEX the code's SHA-256): $LATEST and every version with that code
//     share it. It appears whole — unpacked beside its place and renamed
//     in — and is never written after. Package files and unpacked
//     directories are removed when no record references them.
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
//     which the Lambda model does not declare. Only CreateFunction and
//     UpdateFunctionCode may be that large; every other operation's limit
//     is 1048576 bytes, as are a code request's members other than
//     ZipFile, so that a body held in memory stays small.
//   - Event source mappings are validated, stored and move through their
//     states. Those whose source is a queue of the local SQS are delivered
//     (package sqs's Poller, while the mapping is Enabled; see
//     mapping_delivery.go); delivery from Kinesis, DynamoDB Streams, Kafka,
//     MQ, DocumentDB and from queues the local SQS does not have is not
//     part of the local Lambda: those mappings are stored only, and their
//     LastProcessingResult stays "No records processed".
//   - Resource policies are kept per function, version and alias and
//     answered as AWS does (permissions.go), but not enforced: who may
//     invoke is package access's decision, the same for every function.
//     AddPermission does not change the target's RevisionId.
package control
