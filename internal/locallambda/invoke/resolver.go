package invoke

import (
	"context"
	"time"
)

// The seam between the planes: the control plane resolves what an Invoke
// runs (Resolver) and describes it in these types; nothing else of it
// crosses into the data plane.

// FunctionSpec is what the data plane needs to run one version of a
// function. The control plane builds it from its stored configuration.
type FunctionSpec struct {
	// Name is the function name; Version is "$LATEST" or a version number.
	Name, Version string
	// ARN is the unqualified function ARN.
	ARN string
	// Runtime (e.g. "provided.al2023", "python3.12") and Handler as configured.
	Runtime, Handler string
	// CodeDir is the directory holding the unpacked deployment package.
	CodeDir string
	// CodeSha256 identifies the package; a changed value means new code.
	CodeSha256 string
	// Env is the function's own Environment.Variables.
	Env map[string]string
	// Timeout bounds one invocation, from when the runtime takes the event
	// (a cold start's init has its own limit, Config.InitTimeout). AWS:
	// 1 s .. 900 s; any positive value works here. Zero means AWS's
	// default, 3 s.
	Timeout time.Duration
	// MemoryMB is reported to the function and in REPORT lines; it is not
	// enforced. Zero means AWS's default, 128.
	MemoryMB int
	// ReservedConcurrency is the function's reserved concurrency; nil means
	// unreserved (the function shares the account's unreserved pool).
	ReservedConcurrency *int
	// Role is informational here.
	Role string
	// DeadLetterArn is the version's DeadLetterConfig.TargetArn (an SQS
	// queue or SNS topic): an Event invocation that this version failed
	// for the last time is sent there (see package comment).
	DeadLetterArn string
}

// AsyncConfig is the event invoke configuration of the qualifier as
// invoked (PutFunctionEventInvokeConfig): it governs the Event queue.
type AsyncConfig struct {
	// MaximumRetryAttempts (0..2) replaces Config.AsyncRetryDelays' count
	// of retries; nil keeps it.
	MaximumRetryAttempts *int
	// MaximumEventAge (60 s .. 6 h) replaces Config.MaxEventAge; zero
	// keeps it.
	MaximumEventAge time.Duration
	// OnSuccess and OnFailure are destination ARNs (SQS, SNS, Lambda), ""
	// for none.
	OnSuccess, OnFailure string
}

// Target is what an Invoke resolves to.
type Target struct {
	// Primary is the version to run (for an alias, its FunctionVersion).
	Primary *FunctionSpec
	// Additional, when non-nil, is the alias's additional routing version,
	// run for a share AdditionalWeight (0..1) of the invocations.
	Additional       *FunctionSpec
	AdditionalWeight float64
	// InvokedARN is the ARN as invoked, including the qualifier if any; it
	// is what the function sees as its invoked function ARN.
	InvokedARN string
	// State is the function's State: "Pending", "Active", "Failed", ….
	// Only an Active (or empty) state can be invoked.
	State string
	// Async is the event invoke configuration of the qualifier as invoked;
	// nil when it has none.
	Async *AsyncConfig
}

// Resolver resolves a function name (a name, a full or partial ARN,
// optionally with ":qualifier") and a qualifier (a version, an alias or
// "$LATEST"; "" means $LATEST) to what to run. The control plane implements
// it; its errors are *awserr.Error values so they render as AWS errors.
type Resolver interface {
	ResolveInvoke(ctx context.Context, name, qualifier string) (*Target, error)
}
