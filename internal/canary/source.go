package canary

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A metric source answers one question: the samples of one metric of one
// scope over [Start, End). The judge compares the control's samples with
// the experiment's (Mann-Whitney, Hodges-Lehmann), so what one sample is
// decides what the comparison means. Each source documents its metrics;
// the shape is Kayenta's: its metric sets from CloudWatch and Prometheus
// are time series, one value per step of the scope (step=60 s by default,
// missing steps NaN for the judge's nanStrategy), and Orca warns when a
// control has fewer than 50 of them.
//
// Sluice keeps that shape for counts and rates, and adds per-request values
// where a source has them (the local Lambda's durations):
//
//   - An error rate is one value per step, errors/requests in that step,
//     NaN for a step without requests. Per-request 0/1 samples would make
//     Mann-Whitney meaningless for the judge: with error rates below 50 %
//     nearly every pairwise difference is 0, so the Hodges-Lehmann estimate
//     and both ends of its 98 % interval are 0 and a 1 % → 5 % regression
//     classifies as Pass. Per-step rates are continuous enough for ranks,
//     and are what Kayenta judges from CloudWatch's Errors/Invocations.
//   - A latency can be per request: durations are continuous, ties are
//     rare, and n requests are far more evidence than n/step percentiles.

// Scope is what a metric is measured on: a Lambda function version, as
// invoked through an alias, or a generic scope for sources that are not
// Lambda-shaped (a Prometheus label value substituted into a query).
type Scope struct {
	// Function is the function's name; Version the version that executed
	// ("$LATEST" or a number). Both are required by Lambda sources.
	Function string
	Version  string
	// Alias restricts the samples to invocations through this alias
	// (or qualifier, as the local Lambda labels them); "" takes every
	// invocation of Version, however it was invoked.
	Alias string
	// Name is a generic scope: Kayenta's controlScope/experimentScope
	// string. Lambda sources ignore it.
	Name string
}

// String names the scope in messages: "f:live→2", "f→2" or the Name.
func (s Scope) String() string {
	switch {
	case s.Function == "":
		return s.Name
	case s.Alias == "":
		return s.Function + "→" + s.Version
	}
	return s.Function + ":" + s.Alias + "→" + s.Version
}

// SampleRequest asks a Source for one metric of one scope.
type SampleRequest struct {
	// Metric names the metric in the source's terms (a local Lambda
	// Metric, a Prometheus query template).
	Metric string
	Scope  Scope
	// Start and End bound the samples: [Start, End).
	Start, End time.Time
	// Step is the width of one value of a per-step metric; per-request
	// metrics ignore it. Zero means DefaultStep.
	Step time.Duration
}

// DefaultStep is Kayenta's default scope step (Orca's step=60 s).
const DefaultStep = time.Minute

// Source gives the judge its samples. Implementations are safe for
// concurrent use; each call does its own I/O under ctx.
type Source interface {
	// Samples returns the metric's values for the scope, in time order,
	// NaN where a per-step metric has no data in a step.
	Samples(ctx context.Context, q SampleRequest) ([]float64, error)
}

// ErrUnknownMetric is returned (wrapped) for a metric name a source does
// not serve.
var ErrUnknownMetric = errors.New("unknown metric")

// steps returns the number of steps of width step in [start, end), the
// last one possibly partial, after checking the range.
func (q SampleRequest) steps() (step time.Duration, n int, err error) {
	if q.Start.IsZero() || q.End.IsZero() || !q.End.After(q.Start) {
		return 0, 0, fmt.Errorf("metric %s of %s: the range [%s, %s) is empty: End must be after Start", q.Metric, q.Scope, q.Start.Format(time.RFC3339), q.End.Format(time.RFC3339))
	}
	step = q.Step
	if step == 0 {
		step = DefaultStep
	}
	if step < 0 {
		return 0, 0, fmt.Errorf("metric %s of %s: step %s is negative: give a positive step or 0 for %s", q.Metric, q.Scope, q.Step, DefaultStep)
	}
	return step, int((q.End.Sub(q.Start) + step - 1) / step), nil
}
