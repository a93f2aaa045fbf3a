package invoke

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Result is the outcome of a synchronous invocation made by Invoke.
type Result struct {
	// RequestID is the invocation's request ID; Version the version that
	// ran (for a weighted alias, the one drawn).
	RequestID, Version string
	// Payload is the function's response or, with FunctionError set, the
	// error document ({"errorMessage", "errorType"}).
	Payload []byte
	// FunctionError is "Unhandled" when the function failed (an error, a
	// crash, a timeout); "" for a success.
	FunctionError string
	// TimedOut says the invocation was stopped at its timeout.
	TimedOut bool

	// series is the (function, alias, version) the invocation counted in.
	series *seriesMetrics
}

// RecordMessages counts, in the per-version metrics of the invocation r
// (its function, alias as invoked and executed version), the SQS messages
// an event source mapping delivered in it and how many of them failed:
// all of them when the invocation failed, the batchItemFailures with
// ReportBatchItemFailures. failed is at most messages.
func (iv *Invoker) RecordMessages(r Result, messages, failed int) {
	if r.series == nil || messages <= 0 {
		return
	}
	r.series.recordMessages(iv.cfg.Now(), messages, min(max(failed, 0), messages))
}

// Invoke runs one synchronous (RequestResponse) invocation of function
// (a name or ARN) at qualifier (a version, an alias, "" for $LATEST), as
// Invoke over HTTP does: an alias's weights are drawn, concurrency is
// admitted, and the per-version metrics count it. It is for the local
// Lambda's own callers (event source mappings, the CloudFront edge
// proxy). maxTimeout, if positive, caps the function's configured
// timeout. An error is a request-level *awserr.Error (not found, not
// Active, throttled): the function did not run.
func (iv *Invoker) Invoke(ctx context.Context, function, qualifier string, payload []byte, maxTimeout time.Duration) (Result, error) {
	if iv.isClosed() {
		return Result{}, &awserr.Error{Status: http.StatusInternalServerError, Type: awserr.TypeService, Message: "The local Lambda is shutting down."}
	}
	target, err := iv.cfg.Resolver.ResolveInvoke(ctx, function, qualifier)
	if err != nil {
		return Result{}, err
	}
	if target == nil || target.Primary == nil {
		return Result{}, awserr.ResourceNotFound("Function not found: %s", function)
	}
	if target.State != "" && target.State != "Active" {
		return Result{}, awserr.ResourceConflict("The operation cannot be performed at this time. The function is currently in the following state: %s", target.State)
	}
	out := iv.invoke(target, invocationInput{payload: payload, maxTimeout: maxTimeout})
	defer out.free(iv)
	if out.err != nil {
		return Result{}, out.err
	}
	return Result{RequestID: out.requestID, Version: out.version, Payload: slices.Clone(out.body),
		FunctionError: out.functionError, TimedOut: out.timedOut, series: out.series}, nil
}
