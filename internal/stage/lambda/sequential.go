package lambda

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/stage"
)

// sequentialFields is Sluice's own opt-in, canaryConfig.sequential (and
// progressive.analysis.sequential): between Kayenta's fixed intervals the
// always-valid judges of package canary look at the two versions every
// lookSeconds, and end the analysis as soon as the evidence is decisive —
// a failing version is caught within seconds of showing it, however
// often they look, with the false-rollback rate held at alpha and the
// false-promotion rate at beta. They watch the config's first sluice-local
// error metric (error_rate or errors) and its first per-request duration
// metric; the other metrics, and a comparison the judges leave undecided,
// are judged by Kayenta's judge as without this field. The latency judge
// fails a version only when it is shown slower by more than
// latencyFailIncrease (default half the tolerable increase): two builds of
// the same code differ by a few percent, which a nearly constant latency
// soon makes significant.
type sequentialFields struct {
	stage.Field
	Alpha             stage.NumberField `json:"alpha" hint:"the false-rollback rate, default 0.05"`
	Beta              stage.NumberField `json:"beta" hint:"the false-promotion rate, default 0.05"`
	ErrorRateIncrease stage.NumberField `json:"tolerableErrorRateIncrease" hint:"the absolute error-rate increase that may still pass, default 0.01"`
	LatencyIncrease   stage.NumberField `json:"tolerableLatencyIncrease" hint:"the relative latency increase that may still pass, default 0.2"`
	LatencyFail       stage.NumberField `json:"latencyFailIncrease" hint:"the relative latency increase that must be shown to fail; default half the tolerable increase"`
	LookSeconds       stage.NumberField `json:"lookSeconds" hint:"seconds between looks, default 5"`
}

func (s *sequentialFields) check(c *stage.Checker) {
	if !s.Set() {
		return
	}
	open01 := func(f *stage.NumberField) {
		if f.Set() && !(f.Value > 0 && f.Value < 1) {
			c.Errorf(f, "must be above 0 and below 1, not %v", f.Value)
		}
	}
	open01(&s.Alpha)
	open01(&s.Beta)
	open01(&s.ErrorRateIncrease)
	for _, f := range []*stage.NumberField{&s.LatencyIncrease, &s.LookSeconds} {
		if f.Set() && !(f.Value > 0) || math.IsInf(f.Value, 0) {
			c.Errorf(f, "must be a positive number, not %v", f.Value)
		}
	}
	if f := &s.LatencyFail; f.Set() && !(f.Value >= 0 && f.Value < s.latencyJudge().TolerableIncrease) {
		c.Errorf(f, "must be 0 or more and below tolerableLatencyIncrease (%v), not %v", s.latencyJudge().TolerableIncrease, f.Value)
	}
}

func (s *sequentialFields) look() time.Duration {
	if s.LookSeconds.Set() && s.LookSeconds.Value > 0 {
		return time.Duration(s.LookSeconds.Value * float64(time.Second))
	}
	return 5 * time.Second
}

func (s *sequentialFields) errorJudge() canary.SequentialConfig {
	c := canary.SequentialConfig{Alpha: s.Alpha.Value, Beta: s.Beta.Value, TolerableIncrease: 0.01}
	if s.ErrorRateIncrease.Set() {
		c.TolerableIncrease = s.ErrorRateIncrease.Value
	}
	return c
}

func (s *sequentialFields) latencyJudge() canary.SequentialLatencyConfig {
	c := canary.SequentialLatencyConfig{Alpha: s.Alpha.Value, Beta: s.Beta.Value, TolerableIncrease: 0.2}
	if s.LatencyIncrease.Set() {
		c.TolerableIncrease = s.LatencyIncrease.Value
	}
	c.FailIncrease = c.TolerableIncrease / 2
	if s.LatencyFail.Set() {
		c.FailIncrease = s.LatencyFail.Value
	}
	return c
}

// sequentialWatch is what the judges carry from one look to the next,
// kept in the stage context.
type sequentialWatch struct {
	// ErrorMetric and LatencyMetric are the config's metrics watched, ""
	// for none.
	ErrorMetric   string                        `json:"errorMetric"`
	LatencyMetric string                        `json:"latencyMetric"`
	LastLook      time.Time                     `json:"lastLook"`
	Looks         int                           `json:"looks"`
	Errors        canary.SequentialState        `json:"errors"`
	Latency       canary.SequentialLatencyState `json:"latency"`
}

// newWatch picks the metrics of cfg the sequential judges watch; a config
// with neither cannot be judged sequentially.
func newWatch(cfg *canary.Config, start time.Time) (sequentialWatch, error) {
	w := sequentialWatch{LastLook: start}
	for _, m := range cfg.Metrics {
		l := m.Query.Local
		switch {
		case l == nil:
		case w.ErrorMetric == "" && (l.Metric == canary.LocalErrorRate || l.Metric == canary.LocalErrors):
			w.ErrorMetric = m.Name
		case w.LatencyMetric == "" && l.Metric == canary.LocalDuration && l.Percentile == nil:
			w.LatencyMetric = m.Name
		}
	}
	if w.ErrorMetric == "" && w.LatencyMetric == "" {
		return w, fail("canary config %s has no metric the sequential judges can watch: they need a sluice-local error_rate or errors metric, or a duration metric without percentile; remove sequential or add one", cfg.Name)
	}
	return w, nil
}

// look adds what both versions did since the last look to the judges,
// and returns the decision so far: SequentialFail as soon as one judge
// fails the experiment, SequentialPass once every watching judge passes
// it, else SequentialContinue.
func (w *sequentialWatch) look(ctx context.Context, src canary.Sources, rs resolvedScopes, now time.Time, f *sequentialFields) (canary.SequentialDecision, error) {
	local, ok := src[canary.QueryLocal]
	if !ok {
		return "", fail("the sequential judges read the local Lambda's samples, and this analysis has none: its function is not in the local account")
	}
	if !now.After(w.LastLook) {
		return w.decision(), nil
	}
	read := func(metric string, s canary.ReportScope, step time.Duration) ([]float64, error) {
		v, err := local.Samples(ctx, canary.SampleRequest{Metric: metric, Scope: s.Scope(), Start: w.LastLook, End: now, Step: step})
		if err != nil {
			return nil, retry("sequential look at %s of %s: %v", metric, s.Version, err)
		}
		return v, nil
	}
	whole := now.Sub(w.LastLook) // one step: one count per side
	if w.ErrorMetric != "" {
		var counts [4]int64
		for i, q := range []struct {
			metric string
			scope  canary.ReportScope
		}{{canary.MetricInvocations, rs.Control}, {canary.MetricErrors, rs.Control}, {canary.MetricInvocations, rs.Experiment}, {canary.MetricErrors, rs.Experiment}} {
			v, err := read(q.metric, q.scope, whole)
			if err != nil {
				return "", err
			}
			counts[i] = sum(v)
		}
		st, err := f.errorJudge().Update(w.Errors, counts[0], counts[1], counts[2], counts[3])
		if err != nil {
			return "", fail("%v", err)
		}
		w.Errors = st
	}
	if w.LatencyMetric != "" {
		ctl, err := read(canary.MetricDuration, rs.Control, 0)
		if err != nil {
			return "", err
		}
		exp, err := read(canary.MetricDuration, rs.Experiment, 0)
		if err != nil {
			return "", err
		}
		st, err := f.latencyJudge().Update(w.Latency, positive(ctl), positive(exp))
		if err != nil {
			return "", fail("%v", err)
		}
		w.Latency = st
	}
	w.LastLook = now
	w.Looks++
	return w.decision(), nil
}

func (w *sequentialWatch) decision() canary.SequentialDecision {
	errs, lat := w.Errors.Decision, w.Latency.Decision
	switch {
	case errs == canary.SequentialFail || lat == canary.SequentialFail:
		return canary.SequentialFail
	case (w.ErrorMetric == "" || errs == canary.SequentialPass) && (w.LatencyMetric == "" || lat == canary.SequentialPass):
		return canary.SequentialPass
	}
	return canary.SequentialContinue
}

// explain says what the judges found, for the stage's message.
func (w *sequentialWatch) explain(rs resolvedScopes, f *sequentialFields) string {
	var parts []string
	e := w.Errors
	if w.ErrorMetric != "" && e.Decision != canary.SequentialContinue && e.Decision != "" {
		parts = append(parts, fmt.Sprintf("%s %s: version %s failed %d of %d requests (%.2f%%), version %s %d of %d (%.2f%%); always-valid p-value %.3g (fail) / %.3g (pass), α %v, β %v",
			w.ErrorMetric, e.Decision, rs.Experiment.Version, e.ExperimentErrors, e.ExperimentRequests, pctOf(e.ExperimentErrors, e.ExperimentRequests),
			rs.Control.Version, e.ControlErrors, e.ControlRequests, pctOf(e.ControlErrors, e.ControlRequests), e.PFail(), e.PPass(),
			cmp.Or(f.Alpha.Value, 0.05), cmp.Or(f.Beta.Value, 0.05)))
	}
	l := w.Latency
	if w.LatencyMetric != "" && l.Decision != canary.SequentialContinue && l.Decision != "" {
		parts = append(parts, fmt.Sprintf("%s %s: geometric mean %.4g ms for version %s over %d requests against %.4g ms for version %s over %d; always-valid p-value %.3g (fail) / %.3g (pass)",
			w.LatencyMetric, l.Decision, math.Exp(l.Experiment.Mean), rs.Experiment.Version, l.Experiment.N, math.Exp(l.Control.Mean), rs.Control.Version, l.Control.N, l.PFail(), l.PPass()))
	}
	if len(parts) == 0 {
		return "undecided"
	}
	return fmt.Sprintf("sequential judges after %d looks: %s", w.Looks, strings.Join(parts, "; "))
}

// report is the judges' state as the report shows it.
func (w *sequentialWatch) report() *canary.SequentialReport {
	r := &canary.SequentialReport{Looks: w.Looks}
	if w.ErrorMetric != "" {
		e := w.Errors
		r.ErrorRate = &canary.SequentialErrorReport{Metric: w.ErrorMetric, ControlRequests: e.ControlRequests, ControlErrors: e.ControlErrors,
			ExperimentRequests: e.ExperimentRequests, ExperimentErrors: e.ExperimentErrors, PFail: e.PFail(), PPass: e.PPass(), Decision: string(orContinue(e.Decision))}
	}
	if w.LatencyMetric != "" {
		l := w.Latency
		geo := func(m canary.LogMoments) *float64 {
			if m.N == 0 {
				return nil
			}
			x := math.Exp(m.Mean)
			return &x
		}
		r.Latency = &canary.SequentialLatencyReport{Metric: w.LatencyMetric, ControlGeoMean: geo(l.Control), ExperimentGeoMean: geo(l.Experiment),
			ControlCount: l.Control.N, ExperimentCount: l.Experiment.N, PFail: l.PFail(), PPass: l.PPass(), Decision: string(orContinue(l.Decision))}
	}
	return r
}

func orContinue(d canary.SequentialDecision) canary.SequentialDecision {
	if d == "" {
		return canary.SequentialContinue
	}
	return d
}

func pctOf(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func sum(v []float64) int64 {
	var n float64
	for _, x := range v {
		if !math.IsNaN(x) {
			n += x
		}
	}
	return int64(math.Round(n))
}

// positive drops the durations the latency judge cannot take (a 0 ms
// measurement).
func positive(v []float64) []float64 {
	out := v[:0:0]
	for _, x := range v {
		if x > 0 && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}
