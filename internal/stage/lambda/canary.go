package lambda

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/stage"
)

// KayentaCanaryTypeName is Orca's automated canary analysis stage.
const KayentaCanaryTypeName = "kayentaCanary"

// canarySpec is the fields of a kayentaCanary stage: Orca's context
// (canaryConfig, analysisType) plus the function whose versions are
// compared — account, region, functionName, as every Lambda stage names
// it — and aliasName, the alias both versions serve behind. Both versions
// take live traffic at once (a $WEIGHTED Route before the analysis), so
// the comparison is a true A/B test: Kayenta needs a baseline cluster
// deployed beside the canary for this, and Orca's deployments field, which
// deploys them, is refused.
//
// The analysis follows Orca's interval plan (RunCanaryIntervalsStage): after
// beginCanaryAnalysisAfterMins, lifetime/canaryAnalysisIntervalMins
// intervals, each judged by NetflixACAJudge-v1.0 when it ends over the
// window since the warm-up (or the last lookbackMins). An interval whose
// score is not above the marginal threshold fails the stage at once
// (MonitorKayentaCanaryTask); after the last, its score must reach the pass
// threshold (AggregateCanaryResultsTask). Waiting for an interval to end is
// a scheduled job: a crash mid-analysis resumes it where it was.
//
// Outputs, as Orca's: canaryScores (each interval's score), canaryScore
// (the last), canaryScoreMessage, lastUpdated (ms) and lastUpdatedIso,
// warnings; and Sluice's canaryReport (canary.Report: every metric of
// every interval, the decision and why).
type canarySpec struct {
	target
	AliasName    stage.StringField `json:"aliasName" hint:"the alias both versions serve behind; empty counts every invocation of each version"`
	AnalysisType stage.StringField `json:"analysisType" hint:"realTime (default), realTimeAutomatic or retrospective"`
	CanaryConfig analysisFields    `json:"canaryConfig"`
	Deployments  stage.JSONField   `json:"deployments"`
}

func (s *canarySpec) Check(c *stage.Checker) {
	s.target.check(c)
	c.Valid(&s.AliasName, aliasNamePattern().MatchString)
	c.OneOf(&s.AnalysisType, "realTime", "realTimeAutomatic", "retrospective")
	c.Required(&s.CanaryConfig)
	s.CanaryConfig.check(c, true)
	sc := s.CanaryConfig.scope()
	if len(s.CanaryConfig.Scopes.Items) == 0 {
		c.Errorf(&s.CanaryConfig.Scopes, "is required: one scope with controlScope and experimentScope, the two versions compared")
	} else {
		c.Required(&sc.ControlScope)
		c.Required(&sc.ExperimentScope)
	}
	if s.Deployments.Set() {
		c.Errorf(&s.Deployments, "is not supported: Sluice compares two versions of a function behind one alias, which need no baseline and canary clusters; route traffic to both with an Aws.LambdaTrafficRoutingStage ($WEIGHTED) before this stage")
	}
}

func (s *canarySpec) alias() string { return strings.TrimSpace(s.AliasName.Value) }

// newCanaryType is kayentaCanary. Its tasks:
//
//	kayentaPrepare  load the saved config, resolve the two versions, plan the intervals
//	kayentaAnalyze  judge each interval when it ends; decide after the last
func newCanaryType(b base) stage.Type {
	return &stageType[canarySpec, *canarySpec]{base: b, name: KayentaCanaryTypeName, plan: planCanary, tasks: []task[canarySpec]{
		{name: "kayentaPrepare", run: b.prepareCanary},
		{name: "kayentaAnalyze", run: b.analyzeCanary},
	}}
}

// Keys the kayentaCanary tasks keep in the stage context.
const (
	canaryAnalysisKey   = "canaryAnalysis"
	canarySequentialKey = "canarySequential"
	canaryReadErrKey    = "canaryReadFailingSince"
)

// canaryAnalysis is what kayentaPrepare decides once, for every later run.
type canaryAnalysis struct {
	Config loadedConfig   `json:"config"`
	Scopes resolvedScopes `json:"scopes"`
	Plan   plan           `json:"plan"`
}

func (b *base) prepareCanary(ctx context.Context, t *stage.Task, f *function, s *canarySpec) (stage.Result, error) {
	cfg, err := b.analysis.loadConfig(ctx, &s.CanaryConfig)
	if err != nil {
		return stage.Result{}, err
	}
	scopes, err := resolveScopes(ctx, f, s.alias(), &s.CanaryConfig)
	if err != nil {
		return stage.Result{}, err
	}
	p, err := s.CanaryConfig.newPlan(t.StartTime)
	if err != nil {
		return stage.Result{}, err
	}
	a := canaryAnalysis{Config: cfg, Scopes: scopes, Plan: p}
	rep := newReport(a, s.CanaryConfig.thresholds(), s.CanaryConfig.mode())
	out := map[string]any{canary.ReportKey: jsonValue(rep), "canaryScores": []any{}}
	if w := s.CanaryConfig.warnings(); len(w) > 0 {
		out["warnings"] = w
	}
	keep := map[string]any{canaryAnalysisKey: jsonValue(a)}
	if s.CanaryConfig.Sequential.Set() {
		parsed, err := cfg.parsed()
		if err != nil {
			return stage.Result{}, err
		}
		w, err := newWatch(parsed, p.Start.Add(p.Warmup))
		if err != nil {
			return stage.Result{}, err
		}
		keep[canarySequentialKey] = jsonValue(w)
	}
	return stage.Succeed().WithContext(keep).WithOutputs(out), nil
}

// newReport is an analysis's report before its first interval.
func newReport(a canaryAnalysis, th canary.Thresholds, mode string) canary.Report {
	rep := canary.Report{Mode: mode, ConfigName: a.Config.Name, ConfigRevision: a.Config.Revision,
		Control: a.Scopes.Control, Experiment: a.Scopes.Experiment, PlannedIntervals: a.Plan.Count,
		Intervals: []canary.IntervalReport{}}
	rep.Thresholds.Pass, rep.Thresholds.Marginal = th.Pass, th.Marginal
	return rep
}

// analyzeCanary judges every interval that has ended and is not judged
// yet, then decides or waits for the next one to end.
func (b *base) analyzeCanary(ctx context.Context, t *stage.Task, f *function, s *canarySpec) (stage.Result, error) {
	var a canaryAnalysis
	if err := fromContext(t.Context, canaryAnalysisKey, &a); err != nil {
		return stage.Result{}, fail("the stage context has no analysis plan (%s); the kayentaPrepare task must run first", canaryAnalysisKey)
	}
	var rep canary.Report
	if err := fromContext(t.Context, canary.ReportKey, &rep); err != nil {
		rep = newReport(a, s.CanaryConfig.thresholds(), s.CanaryConfig.mode())
	}
	th := s.CanaryConfig.thresholds()
	cfg, err := a.Config.parsed()
	if err != nil {
		return stage.Result{}, err
	}
	src, err := b.analysis.sources(b, f, s.CanaryConfig.MetricsAccountName.Value)
	if err != nil {
		return stage.Result{}, err
	}
	var progress string // the newest interval's score, told to followers
	keep := func(rep canary.Report) map[string]any {
		m := reportContext(rep)
		if progress != "" {
			m[stage.ProgressKey] = progress
		}
		return m
	}
	var nextLook time.Time
	if seq := &s.CanaryConfig.Sequential; seq.Set() {
		var w sequentialWatch
		if err := fromContext(t.Context, canarySequentialKey, &w); err != nil {
			return stage.Result{}, fail("the stage context has no sequential judges (%s); the kayentaPrepare task must run first", canarySequentialKey)
		}
		withScore := keep
		keep = func(rep canary.Report) map[string]any {
			m := withScore(rep)
			m[canarySequentialKey] = jsonValue(w)
			return m
		}
		if !t.Now.Before(w.LastLook) {
			d, err := w.look(ctx, src, a.Scopes, t.Now, seq)
			var n *notYet
			if errors.As(err, &n) {
				return readFailed(t, s.target.waitTimeout(), rep, n)
			}
			if err != nil {
				return stage.Result{}, err
			}
			rep.Sequential = w.report()
			switch d {
			case canary.SequentialFail:
				msg := "canary failed: " + w.explain(a.Scopes, seq)
				rep.Decision = &canary.Decision{Result: canary.DecisionFail, Reason: msg, At: t.Now.UTC()}
				return stage.Fail(msg + "; " + rep.Versus()).WithOutputs(canaryOutputs(t, rep)).WithContext(keep(rep)), nil
			case canary.SequentialPass:
				msg := "canary passed: " + w.explain(a.Scopes, seq)
				rep.Decision = &canary.Decision{Result: canary.DecisionPass, Reason: msg, At: t.Now.UTC()}
				return stage.Succeed().WithOutputs(canaryOutputs(t, rep)).WithContext(keep(rep)), nil
			}
		}
		nextLook = w.LastLook.Add(seq.look())
	}
	for i := len(rep.Intervals) + 1; i <= a.Plan.Count; i++ {
		start, end := a.Plan.window(i)
		if t.Now.Before(end) {
			break
		}
		res, err := judgeWindow(ctx, cfg, src, a.Scopes, start, end, a.Plan.BaselineOffset, a.Plan.Step, th)
		var n *notYet
		if errors.As(err, &n) {
			return readFailed(t, s.target.waitTimeout(), rep, n)
		}
		if err != nil {
			return stage.Result{}, err
		}
		iv := canary.NewIntervalReport(i, start, end, res)
		rep.Intervals = append(rep.Intervals, iv)
		progress = fmt.Sprintf("interval %d of %d scored %v (%s)", i, a.Plan.Count, iv.Score, iv.Classification)
		if !canary.IntervalSucceeded(res.Score, th) {
			msg := fmt.Sprintf("canary interval %d of %d scored %v, not above the marginal threshold %v: %s", i, a.Plan.Count, res.Score, th.Marginal, iv.Explain())
			rep.Decision = &canary.Decision{Result: canary.DecisionFail, Score: ptr(res.Score), Reason: msg, At: t.Now.UTC()}
			return stage.Fail(msg + "; " + rep.Versus()).WithOutputs(canaryOutputs(t, rep)).WithContext(keep(rep)), nil
		}
	}
	if len(rep.Intervals) < a.Plan.Count {
		_, next := a.Plan.window(len(rep.Intervals) + 1)
		if !nextLook.IsZero() && nextLook.Before(next) {
			next = nextLook
		}
		return stage.RetryAfter(next.Sub(t.Now)).WithOutputs(canaryOutputs(t, rep)).WithContext(keep(rep)), nil
	}
	last := rep.Intervals[len(rep.Intervals)-1]
	if err := canary.FinalVerdict(rep.Scores(), th); err != nil {
		msg := fmt.Sprintf("%v: %s", err, last.Explain())
		rep.Decision = &canary.Decision{Result: canary.DecisionFail, Score: ptr(last.Score), Reason: msg, At: t.Now.UTC()}
		return stage.Fail(msg + "; " + rep.Versus()).WithOutputs(canaryOutputs(t, rep)).WithContext(keep(rep)), nil
	}
	rep.Decision = &canary.Decision{Result: canary.DecisionPass, Score: ptr(last.Score), At: t.Now.UTC(),
		Reason: fmt.Sprintf("final canary score %v reached the pass threshold %v", last.Score, th.Pass)}
	return stage.Succeed().WithOutputs(canaryOutputs(t, rep)).WithContext(keep(rep)), nil
}

// readFailed keeps an analysis waiting while its metrics cannot be read,
// and fails it once they could not be for the wait timeout.
func readFailed(t *stage.Task, timeout time.Duration, rep canary.Report, n *notYet) (stage.Result, error) {
	since := t.Now
	if v, ok := t.Context[canaryReadErrKey].(string); ok {
		if p, err := time.Parse(time.RFC3339Nano, v); err == nil {
			since = p
		}
	}
	if t.Now.Sub(since) >= timeout {
		return stage.Failf("the metrics could not be read for %s (waitTimeoutSeconds %d): %s", t.Now.Sub(since).Round(time.Second), int(timeout/time.Second), n.msg).
			WithOutputs(canaryOutputs(t, rep)), nil
	}
	return stage.RetryAfter(min(max(t.Now.Sub(since)/4, time.Second), 30*time.Second)).
		WithContext(map[string]any{canaryReadErrKey: since.UTC().Format(time.RFC3339Nano), ctxWaitingFor: n.msg}), nil
}

// reportContext keeps the report for the next run, and clears a read
// failure that has passed.
func reportContext(rep canary.Report) map[string]any {
	return map[string]any{canary.ReportKey: jsonValue(rep), canaryReadErrKey: nil, ctxWaitingFor: nil}
}

// canaryOutputs are the stage's outputs for rep, with Orca's keys.
func canaryOutputs(t *stage.Task, rep canary.Report) map[string]any {
	scores := make([]any, len(rep.Intervals))
	for i, s := range rep.Scores() {
		scores[i] = s
	}
	out := map[string]any{
		canary.ReportKey: jsonValue(rep),
		"canaryScores":   scores,
		"lastUpdated":    t.Now.UnixMilli(),
		"lastUpdatedIso": t.Now.UTC().Format(time.RFC3339Nano),
	}
	if n := len(rep.Intervals); n > 0 {
		out["canaryScore"] = rep.Intervals[n-1].Score
		out["canaryScoreMessage"] = rep.Intervals[n-1].Explain()
	}
	if rep.Decision != nil {
		out["canaryResult"] = rep.Decision.Result
	}
	return out
}
