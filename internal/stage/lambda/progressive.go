package lambda

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/stage"
)

// strategyProgressive is Sluice's progressive traffic shift, an opt-in
// strategy of the Route stage (Spinnaker has none): the alias moves from
// the version it routes to the new one in steps, as AWS CodeDeploy's
// Lambda deployment configurations and Argo Rollouts' canary steps do,
// with gates between the steps. When a gate fails the stage puts the
// alias back as it was before the stage at once, itself, and fails saying
// which gate and why.
//
//	"deploymentStrategy": "$PROGRESSIVE",
//	"versionNameA": "$LATEST",           // the new version (default $LATEST)
//	"progressive": {
//	  "deploymentConfig": "LambdaCanary10Percent5Minutes",   // or steps:
//	  "steps": [{"weight": 10, "pause": "PT5M", "analysis": true}, {"weight": 50, "pause": 60}],
//	  "analysis": {canaryConfig fields of kayentaCanary: canaryConfigName, scoreThresholds, scopes[0].step, …},
//	  "alarms": ["orders-errors"],       // CloudWatch alarms: any in ALARM stops the shift
//	  "checkIntervalSeconds": 10,        // how often the alarms are read during a pause
//	  "check": {"payload": {}, "expectedSubset": {"ok": true}}  // invoked before each step
//	}
//
// The version shifted from is the one the alias routes now (versionNameB
// names another). Each step sends weight percent to the new version, then
// pauses; during the pause the alarms are read, and at its end a step with
// analysis judges the new version against the old over the pause with the
// saved canary config (the score must reach the pass threshold, Orca's
// final verdict). A last step at 100 % is added when the steps end below
// it: the alias then routes only the new version. People pause, resume,
// promote at once or abort through the engine's stage commands.
const strategyProgressive = "$PROGRESSIVE"

// taskShiftTraffic walks a $PROGRESSIVE route's steps.
const taskShiftTraffic = "lambdaShiftTraffic"

// Keys of the progressive shift.
const (
	// rolloutKey holds the rollout's state in the stage context, and what
	// people see of it in the outputs.
	rolloutKey = "rollout"
)

// Commands of a progressive shift (stage.Steerable).
const (
	CommandPause   = "pause"
	CommandResume  = "resume"
	CommandPromote = "promote"
	CommandAbort   = "abort"
)

// progressiveFields is a $PROGRESSIVE route's progressive object.
type progressiveFields struct {
	stage.Field
	DeploymentConfig stage.StringField           `json:"deploymentConfig" hint:"a CodeDeploy Lambda configuration such as LambdaCanary10Percent5Minutes or LambdaLinear10PercentEvery1Minute"`
	Steps            stage.ListField[stepFields] `json:"steps"`
	Analysis         analysisFields              `json:"analysis"`
	Alarms           stage.StringsField          `json:"alarms" hint:"CloudWatch alarm names of the function's account; any in ALARM stops the shift"`
	Check            invokeCheckFields           `json:"check"`
	CheckInterval    stage.NumberField           `json:"checkIntervalSeconds" hint:"seconds between looks at the alarms during a pause; default 10"`
}

// invokeCheckFields is progressive.check: before each step shifts
// traffic to it, the new version is invoked executionCount times with the
// payload and each answer compared with the expectations — CodeDeploy's
// BeforeAllowTraffic hook, before every step rather than once.
type invokeCheckFields struct {
	stage.Field
	payloadFields
	expectationFields
	ExecutionCount stage.IntField `json:"executionCount" hint:"invocations per check, default 1"`
	Timeout        stage.IntField `json:"timeout" hint:"seconds each invocation may take, default 30"`
}

func (s *invokeCheckFields) check(c *stage.Checker) {
	if !s.Set() {
		return
	}
	s.payloadFields.check(c)
	s.expectationFields.check(c)
	c.Range(&s.ExecutionCount, 1, maxExecutionCount)
	c.Range(&s.Timeout, 1, maxInvokeTimeoutSecs)
	if exp, _ := s.parse(); exp.empty() {
		c.Errorf(s, "needs expectedOutput, expectedSubset or expectedRegex: what the new version must answer")
	}
}

// stepFields is one step: the new version's share, how long it holds,
// and whether the analysis judges it.
type stepFields struct {
	Weight   stage.NumberField `json:"weight" hint:"percent of traffic for the new version, above 0 and at most 100"`
	Pause    durationField     `json:"pause" hint:"how long the step holds: seconds or ISO-8601 such as PT5M"`
	Analysis stage.BoolField   `json:"analysis" hint:"judge the step with progressive.analysis when its pause ends; default true when analysis is given"`
}

// codeDeployConfig matches AWS CodeDeploy's predefined Lambda deployment
// configurations, with or without the CodeDeployDefault. prefix.
var codeDeployConfig = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:CodeDeployDefault\.)?Lambda(?:(AllAtOnce)|Canary10Percent(5|10|15|30)Minutes|Linear10PercentEvery(1|2|3|10)Minutes?)$`)
})

// rolloutStep is one step as the rollout runs it.
type rolloutStep struct {
	Weight   float64       `json:"weight"` // percent to the new version
	Pause    time.Duration `json:"pauseNanos"`
	Analysis bool          `json:"analysis"`
}

// steps returns the rollout's steps, ending at 100 %.
func (p *progressiveFields) steps() ([]rolloutStep, error) {
	var steps []rolloutStep
	if name := strings.TrimSpace(p.DeploymentConfig.Value); name != "" {
		m := codeDeployConfig().FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("%s %q is not one of CodeDeploy's Lambda configurations: LambdaAllAtOnce, LambdaCanary10Percent{5,10,15,30}Minutes, LambdaLinear10PercentEvery{1,2,3,10}Minute(s); or give steps", p.DeploymentConfig.Path(), name)
		}
		switch {
		case m[1] != "":
		case m[2] != "":
			mins, _ := strconv.Atoi(m[2])
			steps = []rolloutStep{{Weight: 10, Pause: time.Duration(mins) * time.Minute}}
		default:
			mins, _ := strconv.Atoi(m[3])
			for w := 10; w < 100; w += 10 {
				steps = append(steps, rolloutStep{Weight: float64(w), Pause: time.Duration(mins) * time.Minute})
			}
		}
		for i := range steps {
			steps[i].Analysis = p.Analysis.Set()
		}
	}
	for _, s := range p.Steps.Items {
		steps = append(steps, rolloutStep{Weight: s.Weight.Value, Pause: s.Pause.Value,
			Analysis: s.Analysis.Value || (s.Analysis.Missing() && p.Analysis.Set() && s.Weight.Value < 100)})
	}
	if len(steps) == 0 || steps[len(steps)-1].Weight < 100 {
		steps = append(steps, rolloutStep{Weight: 100})
	}
	return steps, nil
}

func (p *progressiveFields) check(c *stage.Checker) {
	hasConfig := p.DeploymentConfig.Set() && strings.TrimSpace(p.DeploymentConfig.Value) != ""
	switch {
	case hasConfig && len(p.Steps.Items) > 0:
		c.Errorf(&p.Steps, "cannot be given with deploymentConfig: give one of them")
	case !hasConfig && len(p.Steps.Items) == 0 && !p.Steps.Expr() && !p.DeploymentConfig.Expr():
		c.Errorf(&p.DeploymentConfig, "is required (or steps): how the traffic moves, e.g. LambdaCanary10Percent5Minutes")
	case hasConfig && known(&p.DeploymentConfig.Field):
		if _, err := p.steps(); err != nil {
			c.Errorf(&p.DeploymentConfig, "%v", strings.TrimPrefix(err.Error(), p.DeploymentConfig.Path()+" "))
		}
	}
	last := 0.0
	for i := range p.Steps.Items {
		s := &p.Steps.Items[i]
		w := &s.Weight
		switch {
		case w.Missing():
			c.Errorf(w, "is required: the percent of traffic for the new version")
		case w.Set() && (math.IsNaN(w.Value) || w.Value <= 0 || w.Value > 100):
			c.Errorf(w, "must be above 0 and at most 100, not %v", w.Value)
		case w.Set() && w.Value <= last:
			c.Errorf(w, "is %v, not above the step before (%v): each step sends more traffic to the new version", w.Value, last)
		}
		if w.Set() {
			last = w.Value
		}
		if s.Analysis.Value && !p.Analysis.Set() {
			c.Errorf(&s.Analysis, "needs progressive.analysis: the canary config that judges the step")
		}
		if (s.Analysis.Value || (s.Analysis.Missing() && p.Analysis.Set() && w.Value < 100)) && !s.Pause.Expr() && s.Pause.Value <= 0 {
			c.Errorf(&s.Pause, "must be more than 0 for a step with analysis: the pause is the window the analysis judges")
		}
	}
	if p.Analysis.Set() {
		p.Analysis.check(c, false)
	}
	p.Check.check(c)
	if p.CheckInterval.Set() && (p.CheckInterval.Value <= 0 || math.IsNaN(p.CheckInterval.Value)) {
		c.Errorf(&p.CheckInterval, "must be a positive number of seconds, not %v", p.CheckInterval.Value)
	}
	if p.Alarms.Set() {
		if err := canary.CheckAlarmNames(p.Alarms.Value); err != nil {
			c.Errorf(&p.Alarms, "%v", err)
		}
	}
}

// checkInterval is how often the gates are looked at during a pause.
func (p *progressiveFields) checkInterval() time.Duration {
	if p.CheckInterval.Set() && p.CheckInterval.Value > 0 {
		return time.Duration(p.CheckInterval.Value * float64(time.Second))
	}
	return 10 * time.Second
}

// rollout is a progressive shift's state, kept in the stage context and
// shown in its outputs.
type rollout struct {
	Alias    string `json:"alias"`
	Baseline string `json:"baseline"` // the version shifted from
	Canary   string `json:"canary"`   // the version shifted to
	// Before is what the alias routed when the rollout was planned.
	Before struct {
		Version string             `json:"version"`
		Weights map[string]float64 `json:"weights"`
	} `json:"before"`
	Steps []rolloutStep `json:"steps"`
	// Step is the step running; Applied says its routing is on the alias
	// since StepStart.
	Step      int       `json:"step"`
	Applied   bool      `json:"applied"`
	StepStart time.Time `json:"stepStart"`
	// Status is what people see: shifting, paused, promoted, restoring,
	// restored, restoreFailed.
	Status string `json:"status"`
	// Reason says why the rollout stopped or was restored.
	Reason string `json:"reason,omitempty"`
	// PausedAt is when someone paused it; zero when not paused.
	PausedAt time.Time `json:"pausedAt,omitzero"`
	// Checked is how many steps have passed their invoke check.
	Checked int `json:"checked"`
	// TroubleSince is when the gates could last not be read, since
	// when they have not been; zero while they can.
	TroubleSince time.Time `json:"troubleSince,omitzero"`
	// Commands is how many stage commands have been acted on.
	Commands int `json:"commands"`
	// History records each step that ran: when, and what its gates found.
	History []stepRecord `json:"history"`

	// progress is what this run tells people following the execution
	// (stage.ProgressKey); empty when nothing happened worth telling.
	progress string
}

// Rollout statuses.
const (
	rolloutShifting      = "shifting"
	rolloutPaused        = "paused"
	rolloutPromoted      = "promoted"
	rolloutRestoring     = "restoring"
	rolloutRestored      = "restored"
	rolloutRestoreFailed = "restoreFailed"
	// rolloutStopped: the rollout ended without restoring, having left the
	// alias as it found it: someone else changed or deleted it, or the
	// invoke check failed before the first shift.
	rolloutStopped = "stopped"
)

// stepRecord is one step that ran.
type stepRecord struct {
	Step     int            `json:"step"`
	Weight   float64        `json:"weight"`
	Start    time.Time      `json:"start"`
	End      time.Time      `json:"end,omitzero"`
	Outcome  string         `json:"outcome,omitempty"` // passed, failed, promoted, skipped
	Analysis *canary.Report `json:"analysis,omitempty"`
	Alarms   []canary.Alarm `json:"alarmsFiring,omitempty"`
	// Watch is the sequential judges' state during the step.
	Watch *sequentialWatch `json:"sequential,omitempty"`
}

// routing is what the alias routes at weight percent to the new version.
func (r *rollout) routing(weight float64) (version string, weights map[string]float64) {
	if weight >= 100 {
		return r.Canary, map[string]float64{}
	}
	return r.Baseline, map[string]float64{r.Canary: math.Round(weight*1e4) / 1e6}
}

// Commands implements stage.Steerable for the Route stage: a running
// $PROGRESSIVE shift takes pause or resume, promote and abort.
func (st *stageType[S, P]) Commands(ctx map[string]any) []string {
	var r rollout
	if st.name != RouteTypeName || fromContext(ctx, rolloutKey, &r) != nil {
		return nil
	}
	switch r.Status {
	case rolloutShifting:
		return []string{CommandPause, CommandPromote, CommandAbort}
	case rolloutPaused:
		return []string{CommandResume, CommandPromote, CommandAbort}
	}
	return nil
}

// Cancel implements stage.Canceler: an execution canceled while a
// $PROGRESSIVE Route has traffic split puts the alias back as it was before
// the stage, so a canceled stage leaves nothing it applied; a restore that
// fails is returned, and the engine records the stage as failed, not
// canceled. A stage whose tasks had already changed the function (a Deploy
// past updateCode, a Route past lambdaUpdateAlias) returns a
// *stage.AppliedError naming them: the change stays, and the record says
// so rather than CANCELED.
func (st *stageType[S, P]) Cancel(ctx context.Context, t *stage.Task) error {
	var r rollout
	if st.name != RouteTypeName || fromContext(t.Context, rolloutKey, &r) != nil || !r.hasShifted() {
		return st.applied(t)
	}
	switch r.Status {
	case rolloutShifting, rolloutPaused, rolloutRestoring:
	default:
		return st.applied(t) // promoted, restored or stopped: nothing of the shift is left to undo
	}
	var snap snapshot
	if err := fromContext(t.Context, routeSnapshotKey, &snap); err != nil {
		return fmt.Errorf("the stage context has no record of alias %s before the shift; route it by hand", r.Alias)
	}
	s := new(S)
	if err := stage.Decode(t.Context, P(s)); err != nil {
		return err
	}
	f, err := st.function(t.Application, P(s).functionTarget())
	if err != nil {
		return err
	}
	if _, err := putBack(ctx, f, snap.previousRouting); err != nil {
		return fmt.Errorf("restoring alias %s of %s to %s: %w", r.Alias, f.name,
			describeRouting(snap.FunctionVersion, snap.AdditionalVersionWeights), err)
	}
	return nil
}

// changingTasks are the tasks that change the function, its aliases or
// its mappings when they complete. createFunction changes something only
// when it created the function.
var changingTasks = map[string]bool{
	taskCreate: true, taskUpdateCode: true, taskUpdateConfig: true, taskPublish: true,
	taskProvisioned: true, taskAliases: true, taskEventSources: true, taskRetain: true,
	taskDelete: true, taskUpdateAlias: true, taskShiftTraffic: true, taskAliasPC: true, taskAliasESM: true,
	taskRestoreRouting: true,
}

// applied is what Cancel returns for a stage left as its tasks made it:
// an *stage.AppliedError naming the tasks that had changed something
// before the running one, or nil when none had.
func (st *stageType[S, P]) applied(t *stage.Task) error {
	tasks := st.Tasks(t.Context)
	i := slices.Index(tasks, t.Name)
	if i < 0 {
		return nil
	}
	var done []string
	for _, name := range tasks[:i] {
		if name == taskCreate && t.Context[ctxCreated] != true {
			continue // the function was there already
		}
		if changingTasks[name] {
			done = append(done, name)
		}
	}
	if len(done) == 0 {
		return nil
	}
	what := strings.Join(done, ", ") + " ran"
	s := new(S)
	if stage.Decode(t.Context, P(s)) == nil {
		if f, err := st.function(t.Application, P(s).functionTarget()); err == nil {
			what += " on function " + f.name
		}
	}
	return &stage.AppliedError{Change: what}
}

// shiftTraffic walks the steps: it acts on new commands, applies the
// step's routing, reads the gates while the step holds, and goes on,
// promotes or restores. Every run reads the alias first and changes it
// only when it differs from what the step wants, so a run repeated after
// a crash never shifts twice.
func (b *base) shiftTraffic(ctx context.Context, t *stage.Task, f *function, s *routeSpec) (stage.Result, error) {
	var snap snapshot
	if err := fromContext(t.Context, routeSnapshotKey, &snap); err != nil {
		return stage.Result{}, fail("the stage context has no record of the alias before the change (%s); the %s task must run first", routeSnapshotKey, taskRecordRouting)
	}
	var r rollout
	if err := fromContext(t.Context, rolloutKey, &r); err != nil {
		return stage.Result{}, fail("the stage context has no rollout plan (%s); the %s task must run first", rolloutKey, taskResolveRoute)
	}
	save := func(res stage.Result) stage.Result {
		keep := map[string]any{rolloutKey: jsonValue(r)}
		if r.progress != "" {
			keep[stage.ProgressKey] = r.progress
		}
		return res.WithContext(keep).WithOutputs(map[string]any{rolloutKey: jsonValue(r)})
	}
	r.takeCommands(t)

	if r.Status == rolloutRestoring {
		return save(b.restore(ctx, f, &r, snap.previousRouting)), nil
	}
	if r.Status == rolloutPaused {
		waiting := map[string]any{ctxWaitingFor: fmt.Sprintf("paused at step %d (%v%% to version %s); resume, promote or abort it", r.Step+1, r.Steps[r.Step].Weight, r.Canary)}
		if !s.hasAlarms() || !r.Applied {
			return save(stage.Wait().WithContext(waiting)), nil
		}
		// A paused step still has its share of the traffic: the alarms
		// keep watching it.
		rec := &r.History[len(r.History)-1]
		reason, err := b.alarmGate(ctx, f, s, rec)
		switch {
		case err != nil && ctx.Err() != nil:
			return stage.Result{}, err
		case err != nil:
			waiting[ctxWaitingFor] = fmt.Sprintf("%s; the alarms could not be read: %v", waiting[ctxWaitingFor], err)
		case reason != "":
			return save(r.stop(reason, t.Now)), nil
		}
		return save(stage.RetryAfter(s.Progressive.checkInterval()).WithContext(waiting)), nil
	}
	res, err := b.walk(ctx, t, f, s, &r)
	var n *notYet
	var fl *failure
	switch {
	case err == nil:
		r.TroubleSince = time.Time{}
		return save(res), nil
	case ctx.Err() != nil:
		return stage.Result{}, err
	case r.Status == rolloutStopped:
		return save(res), err
	case errors.As(err, &n):
		// Something the gates read could not be read (AWS, a metric
		// source): look again, and restore once it stays so for the wait
		// timeout — never leave the traffic split on a gate that cannot
		// be read.
		if r.TroubleSince.IsZero() {
			r.TroubleSince = t.Now
		}
		if waited := t.Now.Sub(r.TroubleSince); waited >= s.waitTimeout() {
			return save(r.stop(fmt.Sprintf("the gates could not be read for %s (waitTimeoutSeconds %d): %s", waited.Round(time.Second), int(s.waitTimeout()/time.Second), n.msg), t.Now)), nil
		}
		return save(stage.RetryAfter(min(max(t.Now.Sub(r.TroubleSince)/4, time.Second), 30*time.Second)).
			WithContext(map[string]any{ctxWaitingFor: n.msg})), nil
	case r.hasShifted():
		// A gate that cannot be judged (a config that no longer loads, a
		// missing alarm) stops the shift: restoring is the safe side.
		msg := err.Error()
		if errors.As(err, &fl) {
			msg = fl.msg
		}
		return save(r.stop(msg, t.Now)), nil
	}
	r.Status = rolloutStopped
	return save(res), err
}

// walk runs the rollout from where it is: it applies the step's routing,
// reads the gates while the step holds, and goes on to the next step, or
// promotes, or stops. A *failure from applying a step means the alias is
// not as the rollout left it, and it is not touched.
func (b *base) walk(ctx context.Context, t *stage.Task, f *function, s *routeSpec, r *rollout) (stage.Result, error) {
	for {
		step := r.Steps[r.Step]
		if !r.Applied && s.Progressive.Check.Set() && r.Checked <= r.Step {
			reason, err := b.invokeCheck(ctx, f, s, r)
			switch {
			case err != nil:
				return stage.Result{}, err
			case reason != "" && r.hasShifted():
				return r.stop(reason, t.Now), nil
			case reason != "":
				r.Status, r.Reason = rolloutStopped, reason
				return stage.Fail(reason + "; the alias was not changed"), nil
			}
			r.Checked = r.Step + 1
			r.tell(fmt.Sprintf("step %d: version %s passed its invoke check", r.Step+1, r.Canary))
		}
		if !r.Applied {
			if err := b.applyStep(ctx, f, r, s); err != nil {
				var fl *failure
				if errors.As(err, &fl) {
					r.Status = rolloutStopped
					return stage.Result{}.WithOutputs(map[string]any{PreviousRoutingKey: nil, RollbackStageKey: nil}), err
				}
				return stage.Result{}, err
			}
			r.Applied, r.StepStart = true, t.Now
			r.History = append(r.History, stepRecord{Step: r.Step + 1, Weight: step.Weight, Start: t.Now.UTC()})
			r.tell(fmt.Sprintf("step %d of %d: %v%% of alias %s to version %s", r.Step+1, len(r.Steps), step.Weight, r.Alias, r.Canary))
		}
		rec := &r.History[len(r.History)-1]
		if reason, err := b.alarmGate(ctx, f, s, rec); err != nil {
			return stage.Result{}, err
		} else if reason != "" {
			return r.stop(reason, t.Now), nil
		}
		seq := &s.Progressive.Analysis.Sequential
		sequential := step.Analysis && step.Weight < 100 && seq.Set()
		decided := false
		if sequential {
			d, reason, err := b.lookStep(ctx, t, f, s, r, rec)
			switch {
			case err != nil:
				return stage.Result{}, err
			case d == canary.SequentialFail:
				return r.stop(reason, t.Now), nil
			}
			decided = d == canary.SequentialPass
		}
		if left := step.Pause - t.Now.Sub(r.StepStart); left > 0 && !decided {
			wait := left
			if s.hasAlarms() {
				wait = min(wait, s.Progressive.checkInterval())
			}
			if sequential {
				wait = min(wait, seq.look())
			}
			return stage.RetryAfter(wait).WithContext(map[string]any{ctxWaitingFor: fmt.Sprintf("step %d of %d holds %v%% on version %s for %s more", r.Step+1, len(r.Steps), step.Weight, r.Canary, left.Round(time.Second))}), nil
		}
		if step.Analysis && step.Weight < 100 && !decided {
			reason, err := b.analyzeStep(ctx, t, f, s, r, rec)
			if err != nil {
				return stage.Result{}, err
			}
			if reason != "" {
				return r.stop(reason, t.Now), nil
			}
		}
		rec.End, rec.Outcome = t.Now.UTC(), "passed"
		if a := rec.Analysis; a != nil && a.Decision != nil {
			r.tell(fmt.Sprintf("step %d passed its analysis (%s)", rec.Step, a.Decision.Describe()))
		}
		if r.Step == len(r.Steps)-1 {
			r.Status = rolloutPromoted
			return stage.Succeed().WithContext(map[string]any{ctxWaitingFor: nil}).WithOutputs(map[string]any{
				"deployment:aliasDeployed":        r.Alias,
				"deployment:majorVersionDeployed": r.Canary,
				"deployment:strategyUsed":         "ProgressiveDeploymentStrategy",
			}), nil
		}
		r.Step++
		r.Applied = false
	}
}

// tell adds msg to what this run tells people.
func (r *rollout) tell(msg string) {
	if r.progress != "" {
		msg = r.progress + "; " + msg
	}
	r.progress = msg
}

// hasShifted reports whether any step has been applied to the alias.
func (r *rollout) hasShifted() bool { return len(r.History) > 0 }

// takeCommands acts on the stage commands not yet seen.
func (r *rollout) takeCommands(t *stage.Task) {
	list, _ := t.Context[stage.CommandsKey].([]any)
	for ; r.Commands < len(list); r.Commands++ {
		cmd, _ := list[r.Commands].(map[string]any)
		name, _ := cmd["command"].(string)
		user, _ := cmd["user"].(string)
		if r.Status != rolloutShifting && r.Status != rolloutPaused {
			continue // decided already
		}
		switch name {
		case CommandPause:
			if r.Status == rolloutShifting {
				r.Status, r.PausedAt = rolloutPaused, t.Now
				r.progress = "paused by " + user
			}
		case CommandResume:
			if r.Status == rolloutPaused {
				// The paused time does not count towards the step's pause.
				r.StepStart = r.StepStart.Add(t.Now.Sub(r.PausedAt))
				r.Status, r.PausedAt = rolloutShifting, time.Time{}
				r.progress = "resumed by " + user
			}
		case CommandPromote:
			if n := len(r.History); n > 0 && r.Applied {
				r.History[n-1].End, r.History[n-1].Outcome = t.Now.UTC(), "skipped: promoted by "+user
			}
			r.Status, r.PausedAt = rolloutShifting, time.Time{}
			r.Step, r.Applied = len(r.Steps)-1, false
			r.Steps[r.Step].Pause = 0
		case CommandAbort:
			r.stop("aborted by "+user, t.Now)
		}
	}
}

// stop records why the rollout stops and has the next run restore the
// routing; restoring only after this is recorded means a crash between
// the two cannot lose the reason.
func (r *rollout) stop(reason string, now time.Time) stage.Result {
	r.Status, r.Reason = rolloutRestoring, reason
	r.progress = fmt.Sprintf("stopped: %s; restoring alias %s", reason, r.Alias)
	if n := len(r.History); n > 0 && r.History[n-1].Outcome == "" {
		r.History[n-1].End, r.History[n-1].Outcome = now.UTC(), "failed"
	}
	return stage.RetryAfter(time.Millisecond)
}

// restore puts the alias back as it was before the stage, and fails the
// stage with the reason. The record says whether the restore succeeded.
func (b *base) restore(ctx context.Context, f *function, r *rollout, prev previousRouting) stage.Result {
	before := describeRouting(prev.FunctionVersion, prev.AdditionalVersionWeights)
	if _, err := putBack(ctx, f, prev); err != nil {
		if ctx.Err() != nil {
			return stage.RetryAfter(time.Second)
		}
		r.Status = rolloutRestoreFailed
		return stage.Failf("progressive shift of alias %s of %s stopped: %s; restoring it to %s FAILED: %v", r.Alias, f.name, r.Reason, before, err)
	}
	r.Status = rolloutRestored
	return stage.Failf("progressive shift of alias %s of %s to version %s stopped: %s; the alias was restored to %s", r.Alias, f.name, r.Canary, r.Reason, before).
		WithOutputs(map[string]any{"restoredRouting": jsonValue(prev)})
}

// applyStep makes the alias route the current step, unless it does
// already. The alias must route what the rollout last set (or what it
// routed before the stage): a change made by someone else is not
// overwritten.
func (b *base) applyStep(ctx context.Context, f *function, r *rollout, s *routeSpec) error {
	version, weights := r.routing(r.Steps[r.Step].Weight)
	cur, err := readAlias(ctx, f, r.Alias)
	if err != nil {
		return err
	}
	if cur.routes(version, weights) {
		return nil
	}
	if !cur.found {
		return fail("alias %s of %s was deleted while the progressive shift ran; nothing was changed — run the stage again", r.Alias, f.name)
	}
	if !r.expected(cur) {
		return fail("alias %s of %s was changed while the progressive shift ran: it %s, which no step of this stage set; Sluice did not overwrite that change — run the stage again",
			r.Alias, f.name, cur)
	}
	in := &lambda.UpdateAliasInput{
		FunctionName: aws.String(f.name), Name: aws.String(r.Alias), FunctionVersion: aws.String(version),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: weights}, RevisionId: aws.String(cur.revision),
	}
	in.Description = optString(&s.AliasDescription)
	if _, err := f.c.UpdateAlias(ctx, in); err != nil {
		return apiError(f, "UpdateAlias "+r.Alias, err)
	}
	cur, err = readAlias(ctx, f, r.Alias)
	if err != nil {
		return err
	}
	if !cur.routes(version, weights) {
		return fail("alias %s of %s %s after the update, not %s as asked; another change may have raced with this stage",
			r.Alias, f.name, cur, describeRouting(version, weights))
	}
	return nil
}

// expected reports whether the alias routes what this rollout may have
// left on it: the routing before the stage or any step's up to the
// current one.
func (r *rollout) expected(cur aliasState) bool {
	if cur.routes(r.Before.Version, r.Before.Weights) {
		return true
	}
	for i := 0; i <= r.Step; i++ {
		if v, w := r.routing(r.Steps[i].Weight); cur.routes(v, w) {
			return true
		}
	}
	return false
}

// invokeCheck invokes the new version as progressive.check says; it
// returns why the step must not go ahead, or "".
func (b *base) invokeCheck(ctx context.Context, f *function, s *routeSpec, r *rollout) (string, error) {
	ch := &s.Progressive.Check
	exp, _ := ch.parse()
	payload, err := b.fetch.invokePayload(ctx, &ch.payloadFields, f.acct.S3, nil)
	if err != nil {
		return "", fail("progressive.check: %v", err)
	}
	count, timeout := invocations(&ch.ExecutionCount, &ch.Timeout)
	for i := range count {
		inv, err := invokeOnce(ctx, f, r.Canary, payload, timeout, exp)
		if err != nil {
			return "", err
		}
		if !inv.passed() {
			return fmt.Sprintf("the invoke check of version %s before step %d (%v%%) failed on invocation %d of %d: %s",
				r.Canary, r.Step+1, r.Steps[r.Step].Weight, i+1, count, inv.Errors), nil
		}
	}
	return "", nil
}

// hasAlarms reports whether the shift watches CloudWatch alarms.
func (s *routeSpec) hasAlarms() bool {
	return s.Progressive.Alarms.Set() && len(s.Progressive.Alarms.Value) > 0
}

// alarmGate reads the alarms; it returns why the shift must stop, or "".
func (b *base) alarmGate(ctx context.Context, f *function, s *routeSpec, rec *stepRecord) (string, error) {
	if !s.hasAlarms() {
		return "", nil
	}
	names := s.Progressive.Alarms.Value
	gate, err := canary.NewAlarmGate(f.acct)
	if err != nil {
		return "", fail("progressive.alarms: %v", err)
	}
	firing, err := gate.Firing(ctx, names)
	var missing *canary.MissingAlarmsError
	switch {
	case errors.As(err, &missing):
		return "", fail("progressive.alarms: %v", err)
	case err != nil:
		return "", retry("progressive.alarms: %v", err)
	}
	if len(firing) == 0 {
		return "", nil
	}
	rec.Alarms = firing
	parts := make([]string, len(firing))
	for i, a := range firing {
		parts[i] = fmt.Sprintf("%s (%s)", a.Name, a.Reason)
	}
	return fmt.Sprintf("CloudWatch alarm %s in ALARM at step %d (%v%%)", strings.Join(parts, ", "), rec.Step, rec.Weight), nil
}

// analyzeStep judges the new version against the old over the step's
// pause; it returns why the shift must stop, or "".
func (b *base) analyzeStep(ctx context.Context, t *stage.Task, f *function, s *routeSpec, r *rollout, rec *stepRecord) (string, error) {
	an := &s.Progressive.Analysis
	loaded, err := b.analysis.loadConfig(ctx, an)
	if err != nil {
		return "", err
	}
	cfg, err := loaded.parsed()
	if err != nil {
		return "", err
	}
	src, err := b.analysis.sources(b, f, an.MetricsAccountName.Value)
	if err != nil {
		return "", err
	}
	rs := r.scopes(f)
	th := an.thresholds()
	// The step's own window: a run repeated after a crash that came after
	// the next step's shift must not judge the next step's traffic too.
	end := t.Now
	if stepEnd := r.StepStart.Add(r.Steps[r.Step].Pause); stepEnd.Before(end) {
		end = stepEnd
	}
	res, err := judgeWindow(ctx, cfg, src, rs, r.StepStart, end, 0, an.step(), th)
	if err != nil {
		return "", err
	}
	a := canaryAnalysis{Config: loaded, Scopes: rs, Plan: plan{Count: 1}}
	rep := newReport(a, th, canary.ModeIntervals)
	iv := canary.NewIntervalReport(1, r.StepStart, end, res)
	rep.Intervals = append(rep.Intervals, iv)
	if rec.Watch != nil {
		rep.Sequential = rec.Watch.report() // undecided, or the step would be over
	}
	rec.Analysis = &rep
	if err := canary.FinalVerdict(rep.Scores(), th); err != nil {
		reason := fmt.Sprintf("canary analysis of step %d (%v%%) failed: %v: %s; %s", rec.Step, rec.Weight, err, iv.Explain(), rep.Versus())
		rep.Decision = &canary.Decision{Result: canary.DecisionFail, Score: ptr(iv.Score), Reason: reason, At: t.Now.UTC()}
		return reason, nil
	}
	rep.Decision = &canary.Decision{Result: canary.DecisionPass, Score: ptr(iv.Score), At: t.Now.UTC(),
		Reason: fmt.Sprintf("score %v reached the pass threshold %v", iv.Score, th.Pass)}
	return "", nil
}

// lookStep has the sequential judges look at the step's traffic so far.
// It returns their decision, and why when they fail the new version.
func (b *base) lookStep(ctx context.Context, t *stage.Task, f *function, s *routeSpec, r *rollout, rec *stepRecord) (canary.SequentialDecision, string, error) {
	an := &s.Progressive.Analysis
	loaded, err := b.analysis.loadConfig(ctx, an)
	if err != nil {
		return "", "", err
	}
	cfg, err := loaded.parsed()
	if err != nil {
		return "", "", err
	}
	src, err := b.analysis.sources(b, f, an.MetricsAccountName.Value)
	if err != nil {
		return "", "", err
	}
	if rec.Watch == nil {
		w, err := newWatch(cfg, r.StepStart)
		if err != nil {
			return "", "", err
		}
		rec.Watch = &w
	}
	rs := r.scopes(f)
	d, err := rec.Watch.look(ctx, src, rs, t.Now, &an.Sequential)
	if err != nil || d == canary.SequentialContinue {
		return d, "", err
	}
	rep := newReport(canaryAnalysis{Config: loaded, Scopes: rs}, an.thresholds(), canary.ModeSequential)
	rep.Sequential = rec.Watch.report()
	explain := rec.Watch.explain(rs, &an.Sequential)
	// Kayenta's judge over the same traffic, for the record: it does not
	// decide, but people compare it with what they know.
	if res, err := judgeWindow(ctx, cfg, src, rs, r.StepStart, t.Now, 0, an.step(), an.thresholds()); err == nil {
		iv := canary.NewIntervalReport(1, r.StepStart, t.Now, res)
		rep.Intervals = append(rep.Intervals, iv)
		explain += fmt.Sprintf(" (Kayenta's judge over the same traffic: score %v, %s)", iv.Score, iv.Explain())
	}
	rep.Decision = &canary.Decision{Result: canary.DecisionPass, Reason: explain, At: t.Now.UTC()}
	rec.Analysis = &rep
	if d == canary.SequentialPass {
		return d, "", nil
	}
	rep.Decision.Result = canary.DecisionFail
	return d, fmt.Sprintf("canary analysis of step %d (%v%%) failed: %s; %s", rec.Step, rec.Weight, explain, rep.Versus()), nil
}

// scopes are the two versions the step analyses compare.
func (r *rollout) scopes(f *function) resolvedScopes {
	scope := func(v, sel string) canary.ReportScope {
		return canary.ReportScope{Account: f.acct.Name, Function: f.name, Alias: r.Alias, Version: v, Selector: sel}
	}
	return resolvedScopes{Control: scope(r.Baseline, "baseline"), Experiment: scope(r.Canary, "canary")}
}

// resolveProgressive resolves a $PROGRESSIVE route: the new version
// (versionNameA, default $LATEST) and the version shifted from
// (versionNameB, default the one the alias routes now), and plans the
// rollout. An alias that routes only the new version already gets one
// step, which changes nothing.
func (s *routeSpec) resolveProgressive(ctx context.Context, f *function, versions []int) (stage.Result, error) {
	alias := s.alias()
	cur, err := readAlias(ctx, f, alias)
	if err != nil {
		return stage.Result{}, err
	}
	if !cur.found {
		return stage.Result{}, fail("$PROGRESSIVE shifts alias %s of %s from the version it routes now, and the alias does not exist; create it first (a $SIMPLE Route to the version in service)", alias, f.name)
	}
	if s.VersionNameA.Missing() {
		s.VersionNameA.Value = SelectorLatest
	}
	canaryVersion, selA, err := s.resolveSide(f, "A", versions)
	if err != nil {
		return stage.Result{}, err
	}
	baseline, selected := cur.version, fmt.Sprintf("from version %s (what alias %s routes) to versionNameA %s = version %s", cur.version, alias, selA, canaryVersion)
	if !s.VersionNameB.Missing() {
		b, selB, err := s.resolveSide(f, "B", versions)
		if err != nil {
			return stage.Result{}, err
		}
		baseline, selected = b, fmt.Sprintf("from versionNameB %s = version %s to versionNameA %s = version %s", selB, b, selA, canaryVersion)
	}
	steps, err := s.Progressive.steps()
	if err != nil {
		return stage.Result{}, fail("%v", err)
	}
	if baseline == canaryVersion {
		steps = []rolloutStep{{Weight: 100}}
	} else if err := checkSameRoleAndDLQ(ctx, f, canaryVersion, baseline); err != nil {
		return stage.Result{}, err
	}
	r := rollout{Alias: alias, Baseline: baseline, Canary: canaryVersion, Steps: steps, Status: rolloutShifting, History: []stepRecord{}}
	r.Before.Version, r.Before.Weights = cur.version, cur.weights
	target := routeTarget{Strategy: strategyProgressive, Version: canaryVersion, Weights: map[string]float64{}, Selected: selected}
	return stage.Succeed().WithContext(map[string]any{routeTargetKey: jsonValue(target), rolloutKey: jsonValue(r)}), nil
}
