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
//	    │                              │         (asyncQueue runs it later, retrying twice)
//	    └─ RequestResponse: invoke ────┘
//	           admit (reserved / account concurrency, else 429)
//	           pool of the (function, version): an idle environment, or a new one
//	           environment.run: hand the event to the process's pending
//	               GET /runtime/invocation/next, wait for /response or /error,
//	               the deadline or the process's exit
//
// An environment is one child process (its own process group) with its own
// loopback Runtime API listener, a pipe that carries its stdout and stderr,
// and one invocation at a time. It is warm while it sits in its pool's idle
// stack; it is killed and dropped after a timeout, a crash or an init
// failure, when the idle reaper finds it unused for IdleTimeout, or when its
// version is retired. The hot path allocates no goroutine and no channel per
// invoke: the channels an invocation waits on belong to the environment.
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
