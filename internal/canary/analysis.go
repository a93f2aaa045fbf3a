package canary

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sources are the metric sources an analysis reads, by the query type of
// the metrics they serve (QueryLocal, QueryPrometheus, …).
type Sources map[string]Source

// MetricSpecs returns the judge's view of c's metrics, with Kayenta's
// defaults for what the document leaves out applied by the judge.
func (c *Config) MetricSpecs() []MetricSpec {
	specs := make([]MetricSpec, len(c.Metrics))
	for i, m := range c.Metrics {
		a := m.Analysis
		spec := MetricSpec{
			Name: m.Name, Groups: m.Groups, Direction: a.Direction, NaNStrategy: a.NaNStrategy,
			Critical: a.Critical, MustHaveData: a.MustHaveData, Muted: a.Muted,
			EffectSize: EffectSize{
				Measure:         EffectMeasure(a.EffectSize.Measure),
				AllowedIncrease: a.EffectSize.AllowedIncrease, AllowedDecrease: a.EffectSize.AllowedDecrease,
				CriticalIncrease: a.EffectSize.CriticalIncrease, CriticalDecrease: a.EffectSize.CriticalDecrease,
			},
			Outliers: Outliers{Strategy: a.Outliers.Strategy},
		}
		if f := a.Outliers.OutlierFactor; f != nil {
			spec.Outliers.Factor = *f
		}
		specs[i] = spec
	}
	return specs
}

// sampleMetric is what a metric's source reads for it: the query type that
// picks the source, and the metric (or, for Prometheus, the query
// template, for CloudWatch the encoded query) it asks that source for.
func (c *Config) sampleMetric(m Metric) (queryType, metric string, err error) {
	q := m.Query
	switch {
	case q.Local != nil:
		switch q.Local.Metric {
		case LocalDuration:
			switch p := q.Local.Percentile; {
			case p == nil:
				return QueryLocal, MetricDuration, nil
			case *p == 50:
				return QueryLocal, MetricDurationP50, nil
			case *p == 99:
				return QueryLocal, MetricDurationP99, nil
			}
			return "", "", fmt.Errorf("metric %q: the local Lambda gives the percentiles 50 and 99 of durations, not %v; use one of them, or leave percentile out for one sample per request",
				m.Name, *q.Local.Percentile)
		case LocalErrorRate:
			return QueryLocal, MetricErrorRate, nil
		case LocalErrors:
			return QueryLocal, MetricErrors, nil
		case LocalInvocations:
			return QueryLocal, MetricInvocations, nil
		case LocalThrottles:
			return QueryLocal, MetricThrottles, nil
		case LocalMessages:
			return QueryLocal, MetricMessages, nil
		case LocalMessagesFailed:
			return QueryLocal, MetricMessagesFailed, nil
		case LocalMessageFailureRate:
			return QueryLocal, MetricMessageFailureRate, nil
		}
		return "", "", fmt.Errorf("metric %q: the local Lambda has no metric %q", m.Name, q.Local.Metric)
	case q.CloudWatch != nil:
		return QueryCloudWatch, CloudWatchMetric(q.CloudWatch), nil
	case q.Prometheus != nil:
		p := q.Prometheus
		switch {
		case p.CustomInlineTemplate != "":
			return QueryPrometheus, p.CustomInlineTemplate, nil
		case p.CustomFilterTemplate != "" && c.Templates[p.CustomFilterTemplate] != "":
			return QueryPrometheus, c.Templates[p.CustomFilterTemplate], nil
		}
		return "", "", fmt.Errorf("metric %q: Sluice reads a Prometheus query from customInlineTemplate or a customFilterTemplate naming one of templates; this one has neither", m.Name)
	}
	return "", "", fmt.Errorf("metric %q: Sluice cannot read %q queries yet; use %q, %q or %q", m.Name, q.Type, QueryLocal, QueryCloudWatch, QueryPrometheus)
}

// Interval is one analysis interval: the two scopes compared over
// [Start, End), read in steps of Step (zero: the source's default).
type Interval struct {
	Control, Experiment Scope
	Start, End          time.Time
	Step                time.Duration
	// ControlOffset shifts the control's window back (Orca's
	// baselineAnalysisOffsetInMins): it is read over
	// [Start−ControlOffset, End−ControlOffset).
	ControlOffset time.Duration
}

// ErrUnusable is returned (wrapped) by AnalyzeInterval when the config
// cannot be judged with the sources given — a query no source serves —
// as opposed to a source that could not be read this time.
var ErrUnusable = errors.New("the canary config cannot be judged here")

// AnalyzeInterval reads every metric of c for both scopes of iv from its
// source and judges them with c's group weights and th. An error says
// which metric could not be read and why; the judge's own verdicts,
// including no data, are in the Result.
func (c *Config) AnalyzeInterval(ctx context.Context, sources Sources, iv Interval, th Thresholds) (Result, error) {
	specs := c.MetricSpecs()
	samples := make([]MetricSamples, len(c.Metrics))
	for i, m := range c.Metrics {
		typ, metric, err := c.sampleMetric(m)
		if err != nil {
			return Result{}, fmt.Errorf("%w: %w", ErrUnusable, err)
		}
		src, ok := sources[typ]
		if !ok {
			return Result{}, fmt.Errorf("%w: metric %q: no %s metric source is configured for this analysis", ErrUnusable, m.Name, typ)
		}
		read := func(scope Scope, offset time.Duration) ([]float64, error) {
			v, err := src.Samples(ctx, SampleRequest{Metric: metric, Scope: scope, Start: iv.Start.Add(-offset), End: iv.End.Add(-offset), Step: iv.Step})
			if errors.Is(err, ErrUnknownMetric) {
				return nil, fmt.Errorf("%w: metric %q: %w", ErrUnusable, m.Name, err)
			}
			if err != nil {
				return nil, fmt.Errorf("metric %q: %w", m.Name, err)
			}
			return v, nil
		}
		samples[i].Metric = specs[i]
		if samples[i].Control, err = read(iv.Control, iv.ControlOffset); err != nil {
			return Result{}, err
		}
		if samples[i].Experiment, err = read(iv.Experiment, 0); err != nil {
			return Result{}, err
		}
	}
	return Judge(samples, c.Classifier.GroupWeights, th)
}
