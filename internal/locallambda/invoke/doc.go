// Package invoke is the local Lambda's data plane: it serves Invoke, runs
// function packages as local processes that speak the Lambda Runtime API,
// keeps them warm in pools, queues Event invocations durably and keeps
// per-version metrics (Prometheus, an in-memory time series and a bounded
// ring of per-request samples), including the SQS messages event source
// mappings delivered to each version and those that failed
// (RecordMessages, told by package sqs's Poller through the local Lambda).
//
// It owns execution environments, concurrency accounting, the Event queue
// (DataDir/async) and the shipped runtime bootstraps (DataDir/runtime). It
// does not own functions: what to run comes from a Resolver, the control
// plane, through FunctionSpec and Target (resolver.go), and the control
// plane tells it when a version's environments must go (Invoker.Retire).
// It must not read or change the control plane's model, and it keeps no
// package-level mutable state.
//
// # How an Invoke becomes a process
//
//	ServeInvoke ─ resolve (Resolver, the control plane) ─ draw the alias's version
//	    │
//	    ├─ DryRun: 204                 ├─ Event: write the event to the durable queue, 202
//	    │                              │         (asyncQueue runs it later: see Event invocations)
//	    └─ RequestResponse: invoke ────┘
//	           admit (reserved / account concurrency, else 429)
//	           pool of the (function, version): an idle environment, or a new one
//	           environment.run: hand the event to the process's pending
//	               GET /runtime/invocation/next, wait for /response or /error,
//	               the deadline or the process's exit
//
// Invoker.Invoke is the same RequestResponse path for the local Lambda's
// own callers (the CloudFront edge proxy runs Lambda@Edge functions
// through it, with the event type's timeout as a cap on the function's):
// no HTTP, the same admission, pools and per-version metrics.
//
// An environment is one child process (its own process group) with its own
// loopback Runtime API listener, a pipe that carries its stdout and stderr,
// and one invocation at a time; on Linux it may run on as many CPUs as its
// memory size buys on AWS (one below 1,769 MB), taken in turn. The account's
// limit defaults to what the machine's memory holds (MachineConcurrency). It is warm while it sits in its pool's idle
// stack; it is killed and dropped after a timeout, a crash or an init
// failure, when the idle reaper finds it unused for IdleTimeout, or when its
// version is retired. The hot path allocates no goroutine and no channel per
// invoke: the channels an invocation waits on belong to the environment.
//
// # Event invocations
//
// An Event invocation (Invoke with InvocationType Event, or InvokeAsync
// from another local service: SNS) is a file under DataDir/async, written
// before the 202, removed when the event is finished with; a restart runs
// what is left (at least once). It runs as AWS runs it, by the event
// invoke configuration of the qualifier as invoked (Target.Async):
//
//	attempt ── success ──────────────── OnSuccess destination: the invocation record, condition Success
//	   │
//	   └── function error ── retries left (MaximumRetryAttempts, 0..2; default 2)?
//	          yes: again after AsyncRetryDelays (1 min, 2 min)
//	          no:  RetriesExhausted ─┬─ OnFailure destination: the invocation record
//	                                 └─ the executed version's DeadLetterConfig: the event payload,
//	                                    attributes RequestID, ErrorCode, ErrorMessage
//	before any attempt: older than MaximumEventAgeInSeconds (default 6 h)?
//	       EventAgeExceeded ── OnFailure and the dead-letter queue, as above
//
// A throttle or a function not yet Active is retried without counting as
// an attempt. The record is AWS's: version "1.0", timestamp,
// requestContext {requestId (the 202's request ID), functionArn (as
// invoked, :$LATEST when unqualified), condition, approximateInvokeCount},
// requestPayload, responseContext {statusCode 200, executedVersion,
// functionError}, responsePayload. A destination that is a function gets
// it as an Event invocation through this same queue; an SQS queue or SNS
// topic, and a dead-letter queue, through Config.Sender. AWS documents
// destinations "in addition to or instead of" a dead-letter queue: when a
// function has both, both receive the failure (the record to the
// destination, the payload to the dead-letter queue). EventBridge and S3
// destinations are accepted by the control plane, as AWS accepts them,
// but the local Lambda cannot deliver to them: such a delivery is logged
// and counted (sluice_local_lambda_async_delivery_failures_total), as failed
// deliveries to a missing queue or topic are.
//
// # Deadlines
//
// A cold start has two limits, as on AWS. The init phase, from the
// process's start to its first GET /next, has Config.InitTimeout (10 s);
// a runtime that does not get there fails with Runtime.InitTimeout. The
// invocation's Timeout counts from when the runtime takes the event — the
// Lambda-Runtime-Deadline-Ms it is given — so a slow init does not eat into
// it and a fast one does not extend it.
//
// # Invariants
//
//   - An environment holds at most one dispatched invocation (environment.inv);
//     it goes back to the idle stack only after that invocation completed.
//   - An invocation that the process never took (it died between a previous
//     response and its next GET /next) is retried on another environment; one
//     that was taken and not answered is a Runtime.ExitError.
//   - Every admitted invocation releases its concurrency slot exactly once.
package invoke
