package lambda

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sosodev/duration"

	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/stage"
)

// This file holds what the analysis stages share: Orca's canaryConfig
// stage context (analysisFields), the saved configs they name and the
// metric sources they read. kayentaCanary (canary.go) judges two versions
// over Orca's interval plan; a $PROGRESSIVE Route (progressive.go) judges
// each step of a traffic shift with the same fields.

// Analysis is what the analysis stages read besides AWS: the saved
// configs and the metric sources. The zero value validates documents but
// cannot run an analysis.
type Analysis struct {
	Configs canary.Store
	// LocalLambdaURL is the local account's endpoint, whose per-request
	// samples are the sluice-local metrics.
	LocalLambdaURL string
	// Prometheus maps metrics account names (sluice.yaml's
	// canary.prometheus) to Prometheus URLs.
	Prometheus map[string]string
}

// Orca's defaults (KayentaCanaryContext.kt).
const (
	defaultPassThreshold     = 75
	defaultMarginalThreshold = 50
	defaultScopeStep         = 60 // seconds
)

// analysisFields is Orca's kayentaCanary context.canaryConfig: the saved
// config to judge with, the scope compared, the score thresholds and the
// interval plan. Fields Kayenta needs for its own services
// (storageAccountName, configurationAccountName) are accepted and named in
// the stage's warnings: Sluice keeps configs itself.
type analysisFields struct {
	stage.Field
	CanaryConfigID           stage.StringField            `json:"canaryConfigId" hint:"the ID or name of a saved canary config (sluice canary-config list)"`
	CanaryConfigName         stage.StringField            `json:"canaryConfigName" hint:"the name of a saved canary config (sluice canary-config list)"`
	MetricsAccountName       stage.StringField            `json:"metricsAccountName" hint:"an account (CloudWatch) or a Prometheus of sluice.yaml's canary.prometheus; empty means the function's account"`
	StorageAccountName       stage.StringField            `json:"storageAccountName"`
	ConfigurationAccountName stage.StringField            `json:"configurationAccountName"`
	Scopes                   stage.ListField[scopeFields] `json:"scopes"`
	ScoreThresholds          struct {
		stage.Field
		Pass     orcaNumber `json:"pass" hint:"default 75"`
		Marginal orcaNumber `json:"marginal" hint:"default 50"`
	} `json:"scoreThresholds"`
	LifetimeDuration   durationField   `json:"lifetimeDuration" hint:"ISO-8601 such as PT1H or PT30S, or a number of seconds"`
	LifetimeHours      orcaNumber      `json:"lifetimeHours" hint:"hours; lifetimeDuration is preferred"`
	BeginAfterMins     orcaNumber      `json:"beginCanaryAnalysisAfterMins" hint:"minutes of warm-up before the first interval; default 0"`
	IntervalMins       orcaNumber      `json:"canaryAnalysisIntervalMins" hint:"minutes per interval (fractions allowed); default the whole lifetime"`
	LookbackMins       orcaNumber      `json:"lookbackMins" hint:"minutes each interval looks back; 0 (default) judges everything since the warm-up"`
	BaselineOffsetMins orcaNumber      `json:"baselineAnalysisOffsetInMins" hint:"minutes the control's window is shifted back; default 0"`
	SiteLocal          stage.JSONField `json:"siteLocal"`
	// Sequential is Sluice's own (sequential.go).
	Sequential sequentialFields `json:"sequential"`
}

// scopeFields is one of canaryConfig.scopes. For Lambda the scopes are
// versions of the stage's function: a number or a selector ($LATEST,
// $PREVIOUS, $OLDEST).
type scopeFields struct {
	ScopeName           stage.StringField     `json:"scopeName"`
	ControlScope        stage.WeakStringField `json:"controlScope" hint:"the control version: a number, $PREVIOUS, $OLDEST or $LATEST"`
	ControlLocation     stage.StringField     `json:"controlLocation"`
	ExperimentScope     stage.WeakStringField `json:"experimentScope" hint:"the experiment version: a number or $LATEST"`
	ExperimentLocation  stage.StringField     `json:"experimentLocation"`
	StartTimeIso        stage.StringField     `json:"startTimeIso" hint:"RFC 3339, for a retrospective analysis"`
	EndTimeIso          stage.StringField     `json:"endTimeIso" hint:"RFC 3339, for a retrospective analysis"`
	Step                orcaNumber            `json:"step" hint:"seconds per sample; default 60"`
	ExtendedScopeParams stage.StringMapField  `json:"extendedScopeParams"`
}

// orcaNumber is a number of Orca's context that Deck may leave as "": a
// number, a numeric string, or "" — which Jackson reads as null for
// Orca's Int? and Double? fields, and so does this. Given says whether a
// number was there.
type orcaNumber struct {
	stage.NumberField
	blank bool
}

// DecodeField implements stage.FieldType.
func (n *orcaNumber) DecodeField(v any) error {
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		n.blank = true
		return nil
	}
	return n.NumberField.DecodeField(v)
}

// given reports whether the field holds a number.
func (n *orcaNumber) given() bool { return n.Set() && !n.blank }

// durationField is an ISO-8601 duration (Java's Duration.parse: days,
// hours, minutes and seconds, fractions allowed) or a number of seconds.
type durationField struct {
	stage.Field
	Value time.Duration
}

// DecodeField implements stage.FieldType.
func (d *durationField) DecodeField(v any) error {
	switch x := v.(type) {
	case int:
		return d.DecodeField(float64(x))
	case int64:
		return d.DecodeField(float64(x))
	case float64:
		if x < 0 || math.IsNaN(x) || x > math.MaxInt64/float64(time.Second) {
			return fmt.Errorf("must be a positive number of seconds or an ISO-8601 duration such as PT1H, not %v", x)
		}
		d.Value = time.Duration(x * float64(time.Second))
		return nil
	case string:
		if n, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return d.DecodeField(n)
		}
		p, err := duration.Parse(strings.TrimSpace(x))
		if err != nil {
			return fmt.Errorf("must be an ISO-8601 duration such as PT1H, PT30M or PT45S (or a number of seconds), not %q", x)
		}
		if p.Years != 0 || p.Months != 0 || p.Weeks != 0 || p.Negative {
			return fmt.Errorf("must be a positive duration in days, hours, minutes and seconds (PnDTnHnMnS), as Orca reads it, not %q", x)
		}
		d.Value = p.ToTimeDuration()
		return nil
	}
	return fmt.Errorf("must be an ISO-8601 duration string such as PT1H, or a number of seconds, not %s", stage.JSONKind(v))
}

func (a *analysisFields) check(c *stage.Checker, needLifetime bool) {
	if a.CanaryConfigID.Missing() && a.CanaryConfigName.Missing() {
		c.Errorf(&a.CanaryConfigName, "is required (or canaryConfigId): the saved canary config to judge with (sluice canary-config list)")
	}
	for _, f := range []*orcaNumber{&a.BeginAfterMins, &a.IntervalMins, &a.LookbackMins, &a.BaselineOffsetMins, &a.LifetimeHours} {
		if f.given() && (f.Value < 0 || math.IsNaN(f.Value) || math.IsInf(f.Value, 0)) {
			c.Errorf(f, "must be 0 or more, not %v", f.Value)
		}
	}
	th := &a.ScoreThresholds
	for _, f := range []*orcaNumber{&th.Pass, &th.Marginal} {
		if f.given() && !(f.Value >= 0 && f.Value <= 100) {
			c.Errorf(f, "must be a score from 0 to 100, not %v", f.Value)
		}
	}
	if th.Pass.given() && th.Marginal.given() && th.Marginal.Value > th.Pass.Value {
		c.Errorf(&th.Marginal, "is %v, above pass (%v): the marginal threshold must not be above the pass threshold", th.Marginal.Value, th.Pass.Value)
	}
	if len(a.Scopes.Items) > 1 {
		c.Errorf(&a.Scopes, "has %d scopes; Sluice compares one pair of versions per analysis: give one scope", len(a.Scopes.Items))
	}
	retrospective := false
	for i := range a.Scopes.Items {
		s := &a.Scopes.Items[i]
		if s.Step.given() && !(s.Step.Value > 0) {
			c.Errorf(&s.Step, "must be a positive number of seconds, not %v", s.Step.Value)
		}
		for _, f := range []*stage.StringField{&s.StartTimeIso, &s.EndTimeIso} {
			if f.Set() && f.Value != "" {
				if _, err := time.Parse(time.RFC3339, f.Value); err != nil {
					c.Errorf(f, "must be a time in RFC 3339 (2026-12-07T10:00:00Z), not %q", f.Value)
				}
			}
		}
		retrospective = retrospective || s.EndTimeIso.Value != ""
	}
	a.Sequential.check(c)
	if retrospective && a.Sequential.Set() {
		c.Errorf(&a.Sequential, "watches live traffic and cannot judge a retrospective analysis (endTimeIso): remove one of them")
	}
	if needLifetime && !retrospective && a.LifetimeDuration.Missing() && !a.LifetimeHours.given() {
		c.Errorf(&a.LifetimeDuration, "is required: how long the analysis runs, e.g. PT1H (or lifetimeHours, or a scope's endTimeIso for a retrospective analysis)")
	}
}

// mode is the report's mode: sequential when Sluice's judges watch.
func (a *analysisFields) mode() string {
	if a.Sequential.Set() {
		return canary.ModeSequential
	}
	return canary.ModeIntervals
}

// thresholds are the score thresholds with Orca's defaults.
func (a *analysisFields) thresholds() canary.Thresholds {
	th := canary.Thresholds{Pass: defaultPassThreshold, Marginal: defaultMarginalThreshold}
	if a.ScoreThresholds.Pass.given() {
		th.Pass = a.ScoreThresholds.Pass.Value
	}
	if a.ScoreThresholds.Marginal.given() {
		th.Marginal = a.ScoreThresholds.Marginal.Value
	}
	return th
}

// scope is the one scope, or an empty one.
func (a *analysisFields) scope() *scopeFields {
	if len(a.Scopes.Items) == 0 {
		return &scopeFields{}
	}
	return &a.Scopes.Items[0]
}

// step is the scope's step.
func (a *analysisFields) step() time.Duration {
	s := a.scope()
	if s.Step.given() && s.Step.Value > 0 {
		return time.Duration(s.Step.Value * float64(time.Second))
	}
	return defaultScopeStep * time.Second
}

// warnings names the fields Sluice accepts and does not use.
func (a *analysisFields) warnings() []any {
	var out []any
	for _, f := range []*stage.StringField{&a.StorageAccountName, &a.ConfigurationAccountName} {
		if f.Set() && f.Value != "" {
			out = append(out, fmt.Sprintf("%s %q is not used: Sluice keeps canary configs and results in its own database", f.Path(), f.Value))
		}
	}
	if a.SiteLocal.Set() {
		if m, ok := a.SiteLocal.Value.(map[string]any); !ok || len(m) > 0 {
			out = append(out, a.SiteLocal.Path()+" is not used: it configures Kayenta's own services")
		}
	}
	for _, f := range []*stage.StringField{&a.scope().ControlLocation, &a.scope().ExperimentLocation} {
		if f.Set() && f.Value != "" {
			out = append(out, fmt.Sprintf("%s %q is not used: both versions are in the function's region", f.Path(), f.Value))
		}
	}
	return out
}

// plan is an analysis's interval plan (Orca's RunCanaryIntervalsStage):
// after a warm-up, N = lifetime/interval intervals, each ending at
// start + warm-up + i·interval and judging a window that grows from the
// end of the warm-up, or slides back lookback from its end.
type plan struct {
	Start          time.Time     `json:"start"` // t0: the stage's start, or the scope's startTimeIso
	Warmup         time.Duration `json:"warmupNanos"`
	Interval       time.Duration `json:"intervalNanos"`
	Lookback       time.Duration `json:"lookbackNanos"`
	BaselineOffset time.Duration `json:"baselineOffsetNanos"`
	Count          int           `json:"count"`
	Step           time.Duration `json:"stepNanos"`
}

// newPlan makes the plan of a, starting at start unless the scope gives
// startTimeIso.
func (a *analysisFields) newPlan(start time.Time) (plan, error) {
	sc := a.scope()
	if t, err := time.Parse(time.RFC3339, sc.StartTimeIso.Value); err == nil {
		start = t
	}
	lifetime := a.LifetimeDuration.Value
	switch {
	case a.LifetimeDuration.Set():
	case a.LifetimeHours.given():
		lifetime = time.Duration(a.LifetimeHours.Value * float64(time.Hour))
	}
	if end, err := time.Parse(time.RFC3339, sc.EndTimeIso.Value); err == nil && lifetime == 0 {
		lifetime = end.Sub(start)
	}
	if lifetime <= 0 {
		return plan{}, fail("%s must be more than zero: the analysis would judge nothing", a.LifetimeDuration.Path())
	}
	mins := func(f *orcaNumber) time.Duration {
		if !f.given() {
			return 0
		}
		return time.Duration(f.Value * float64(time.Minute))
	}
	p := plan{Start: start.UTC(), Warmup: mins(&a.BeginAfterMins), Interval: mins(&a.IntervalMins),
		Lookback: mins(&a.LookbackMins), BaselineOffset: mins(&a.BaselineOffsetMins), Step: a.step()}
	// Orca: an interval of 0, or longer than the lifetime, is the lifetime.
	if p.Interval <= 0 || p.Interval > lifetime {
		p.Interval = lifetime
	}
	p.Count = int(lifetime / p.Interval)
	return p, nil
}

// window is interval i's (from 1) experiment window.
func (p plan) window(i int) (start, end time.Time) {
	end = p.Start.Add(p.Warmup + time.Duration(i)*p.Interval)
	start = p.Start.Add(p.Warmup)
	if p.Lookback > 0 {
		start = end.Add(-p.Lookback)
	}
	return start, end
}

// resolvedScopes are the two versions compared, resolved when the
// analysis starts and kept so that its re-runs compare the same ones.
type resolvedScopes struct {
	Control    canary.ReportScope `json:"control"`
	Experiment canary.ReportScope `json:"experiment"`
}

// resolveScopes resolves the scope's control and experiment selectors on
// a fresh list of f's versions.
func resolveScopes(ctx context.Context, f *function, alias string, a *analysisFields) (resolvedScopes, error) {
	sc := a.scope()
	versions, found, err := publishedVersions(ctx, f)
	if err != nil {
		return resolvedScopes{}, err
	}
	if !found {
		return resolvedScopes{}, fail("%s does not exist; check functionName and account", f)
	}
	side := func(field *stage.WeakStringField, what string) (canary.ReportScope, error) {
		sel, err := ParseSelector(field.Value, "", 0)
		if err == nil && (sel.Name == SelectorMoving || sel.Name == SelectorAll || sel.Name == SelectorProvided) {
			err = fmt.Errorf("%s names no single version; use a version number, $LATEST, $PREVIOUS or $OLDEST", sel.Name)
		}
		if err != nil {
			return canary.ReportScope{}, fail("%s %v: the %s version", field.Path(), err, what)
		}
		v, err := sel.Resolve(f.name, versions, true)
		if err != nil {
			return canary.ReportScope{}, fail("%s: %v", field.Path(), err)
		}
		return canary.ReportScope{Account: f.acct.Name, Function: f.name, Alias: alias, Version: v[0], Selector: strings.TrimSpace(field.Value)}, nil
	}
	var rs resolvedScopes
	if rs.Control, err = side(&sc.ControlScope, "control"); err != nil {
		return resolvedScopes{}, err
	}
	if rs.Experiment, err = side(&sc.ExperimentScope, "experiment"); err != nil {
		return resolvedScopes{}, err
	}
	if rs.Control.Version == rs.Experiment.Version {
		return resolvedScopes{}, fail("%s %s and %s %s are both version %s of %s: a canary compares two different versions (%s)",
			sc.ControlScope.Path(), rs.Control.Selector, sc.ExperimentScope.Path(), rs.Experiment.Selector, rs.Control.Version, f.name, describeVersions(versions))
	}
	return rs, nil
}

// loadedConfig is a saved canary config as an analysis uses it, kept in
// the stage context when the analysis starts so that a config saved while
// it runs does not change its judgement.
type loadedConfig struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Revision int    `json:"revision"`
	Document string `json:"document"`
}

// loadConfig reads the saved config a names and checks it.
func (an *Analysis) loadConfig(ctx context.Context, a *analysisFields) (loadedConfig, error) {
	if an.Configs == nil {
		return loadedConfig{}, fail("this Sluice has no canary config store; run the analysis on a Sluice server")
	}
	ref, field := a.CanaryConfigName.Value, &a.CanaryConfigName.Field
	if strings.TrimSpace(ref) == "" {
		ref, field = a.CanaryConfigID.Value, &a.CanaryConfigID.Field
	}
	saved, err := an.Configs.CanaryConfig(ctx, strings.TrimSpace(ref))
	if err != nil {
		return loadedConfig{}, fail("%s: %v", field.Path(), err)
	}
	cfg, err := canary.ParseConfig(saved.Document)
	if err == nil {
		err = cfg.Validate(canary.ConfigValidateOptions{})
	}
	if err != nil {
		return loadedConfig{}, fail("canary config %s (revision %d) cannot be used: %v; fix it with sluice canary-config apply", saved.Name, saved.Revision, err)
	}
	return loadedConfig{ID: saved.ID, Name: saved.Name, Revision: saved.Revision, Document: string(saved.Document)}, nil
}

// parsed parses the kept config.
func (l loadedConfig) parsed() (*canary.Config, error) {
	cfg, err := canary.ParseConfig([]byte(l.Document))
	if err != nil {
		return nil, fail("canary config %s revision %d: %v", l.Name, l.Revision, err)
	}
	return cfg, nil
}

// sources returns the metric sources of an analysis of f's versions: the
// local Lambda's samples for the local account, CloudWatch for an AWS
// account, and the Prometheus that metricsAccountName names (or the only
// one configured).
func (an *Analysis) sources(b *base, f *function, metricsAccount string) (canary.Sources, error) {
	src := canary.Sources{}
	acct := f.acct
	if metricsAccount != "" {
		if url, ok := an.Prometheus[metricsAccount]; ok {
			p, err := canary.NewPrometheusSource(canary.PrometheusSourceConfig{URL: url})
			if err != nil {
				return nil, fail("metricsAccountName %s: %v", metricsAccount, err)
			}
			src[canary.QueryPrometheus] = p
		} else {
			// CloudWatch's metrics are regional: the function's region.
			a, err := b.accounts.In(metricsAccount, f.acct.Region)
			if err != nil {
				return nil, fail("metricsAccountName: %v; or name a Prometheus of sluice.yaml's canary.prometheus (%s)", err, describeNames(an.Prometheus))
			}
			acct = a
		}
	} else if len(an.Prometheus) == 1 {
		for _, url := range an.Prometheus {
			p, err := canary.NewPrometheusSource(canary.PrometheusSourceConfig{URL: url})
			if err != nil {
				return nil, fail("canary.prometheus: %v", err)
			}
			src[canary.QueryPrometheus] = p
		}
	}
	if acct.Local {
		if an.LocalLambdaURL != "" {
			l, err := canary.NewLocalLambdaSource(canary.LocalLambdaSourceConfig{URL: an.LocalLambdaURL})
			if err != nil {
				return nil, fail("%v", err)
			}
			src[canary.QueryLocal] = l
		}
	} else {
		cw, err := canary.NewCloudWatchSource(acct)
		if err != nil {
			return nil, fail("account %s: %v", acct.Name, err)
		}
		src[canary.QueryCloudWatch] = cw
	}
	return src, nil
}

func describeNames(m map[string]string) string {
	if len(m) == 0 {
		return "none is configured"
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// judgeWindow reads every metric of cfg over [start, end) for both scopes
// (the control's window shifted back by offset) and judges the interval.
// A metric that cannot be read is an error to retry: the source may be
// back on the next run.
func judgeWindow(ctx context.Context, cfg *canary.Config, src canary.Sources, rs resolvedScopes, start, end time.Time, offset, step time.Duration, th canary.Thresholds) (canary.Result, error) {
	res, err := cfg.AnalyzeInterval(ctx, src, canary.Interval{
		Control: rs.Control.Scope(), Experiment: rs.Experiment.Scope(),
		Start: start, End: end, Step: step, ControlOffset: offset,
	}, th)
	if errors.Is(err, canary.ErrUnusable) {
		return canary.Result{}, fail("canary config %s: %v", cfg.Name, err)
	}
	if err != nil {
		return canary.Result{}, retry("reading the metrics of [%s, %s): %v", start.Format(time.TimeOnly), end.Format(time.TimeOnly), err)
	}
	return res, nil
}

func ptr[T any](v T) *T { return &v }
