package lambda

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/stage"
)

// routeSpec is the fields of an Aws.LambdaTrafficRoutingStage ("AWS Lambda
// Route"): it points an alias at published versions of a function.
//
// Strategies (deploymentStrategy):
//
//	$SIMPLE     the alias sends 100% to versionNameA (with versionNumberA
//	            for $PROVIDED).
//	$WEIGHTED   trafficPercentA% (0–100) to versionNameA as the alias's
//	            version and the rest to versionNameB as its additional
//	            version. Both must be different published versions with the
//	            same execution role and dead-letter queue (AWS's rule),
//	            checked before the alias is touched; errors name both
//	            versions and what differs. 100 routes only A; 0 only B.
//	$BLUEGREEN  invokes the newest published version executionCount times
//	            (Sluice; default 1) with the payload (payload or
//	            payloadArtifact), each within timeout seconds (default 30),
//	            and compares each response with outputArtifact's content
//	            (JSON-aware, see expect.go; expectedOutput, expectedSubset and
//	            expectedRegex may be given too or instead). A function error,
//	            a late answer or a mismatch fails the stage at once and leaves
//	            the alias exactly as it was; with destroyOnFail the tested
//	            version is then deleted, unless an alias routes to it. When
//	            every invocation passes, the alias sends 100% to the version.
//
// Version selectors (versionNameA/B): $LATEST is the newest published
// version (Spinnaker's meaning, not AWS's unpublished $LATEST), $PREVIOUS
// the one before, $OLDEST the first, $PROVIDED the number in
// versionNumberA/B, or a version number. They are resolved from a fresh
// ListVersionsByFunction when the stage starts; one that names no version
// fails the stage naming the selector and the versions that exist (the
// plugin silently kept the alias, or dropped the weight).
//
// The alias is created when missing (with aliasDescription), and updated
// with the RevisionId read before the stage changed it: if someone else
// changes the alias meanwhile the update is refused and the stage fails
// saying what it found, instead of overwriting their change.
//
// Before it changes the alias the stage records what the alias routed in
// its outputs: rollback:previousRouting ({account, region, functionName,
// alias, functionVersion, additionalVersionWeights, existed}) and
// rollback:stage, a sluice.LambdaRestoreRouting stage that puts it back
// (the engine runs these on failure with rollbackOnFailure). When the
// stage fails because someone else changed or deleted the alias after the
// record was taken, it has changed nothing and sets both keys to null:
// there is nothing to undo, and restoring would undo their change.
//
// Outputs on success, as the plugin's: deployment:aliasDeployed,
// deployment:majorVersionDeployed (the alias's version),
// deployment:minorVersionDeployed (its additional version, weighted only),
// deployment:strategyUsed (SimpleDeploymentStrategy, …); $BLUEGREEN adds
// invokeResultsList as the Invoke stage records it.
//
// triggerArns (and the event source mapping options) are reconciled on
// the alias, as the plugin does: absent or [] removes the alias's mappings.
// provisionedConcurrentExecutions is set on the alias; absent or 0 removes
// it, as Orca does (not for $WEIGHTED or $PROGRESSIVE). leaveAbsent (Sluice)
// makes both absent fields leave AWS as it is; $PROGRESSIVE leaves absent
// triggerArns alone. healthCheckType and trafficPercentB are read by
// neither the plugin nor Sluice, and validation warns about them.
type routeSpec struct {
	target
	eventSourceFields
	subscriptionFields
	payloadFields
	expectationFields
	AliasName                       stage.StringField     `json:"aliasName" hint:"the alias to route, e.g. live"`
	AliasDescription                stage.StringField     `json:"aliasDescription"`
	DeploymentStrategy              stage.StringField     `json:"deploymentStrategy"`
	VersionNameA                    stage.StringField     `json:"versionNameA"`
	VersionNumberA                  stage.WeakStringField `json:"versionNumberA"`
	VersionNameB                    stage.StringField     `json:"versionNameB"`
	VersionNumberB                  stage.WeakStringField `json:"versionNumberB"`
	TrafficPercentA                 stage.NumberField     `json:"trafficPercentA" hint:"a percentage from 0 to 100"`
	OutputArtifact                  stage.JSONField       `json:"outputArtifact"`
	ExecutionCount                  stage.IntField        `json:"executionCount" hint:"$BLUEGREEN: how many times to invoke the new version; default 1"`
	Timeout                         stage.IntField        `json:"timeout" hint:"$BLUEGREEN: seconds each test invocation may take; default 30"`
	DestroyOnFail                   stage.BoolField       `json:"destroyOnFail" hint:"$BLUEGREEN: delete the tested version when its check fails"`
	ProvisionedConcurrentExecutions stage.IntField        `json:"provisionedConcurrentExecutions" hint:"provisioned concurrency on the alias; absent or 0 removes it, as Spinnaker (leaveAbsent keeps it)"`
	Progressive                     progressiveFields     `json:"progressive"`
}

// newRouteType is Aws.LambdaTrafficRoutingStage. Its tasks, in order
// (those in brackets only when their fields ask):
//
//	lambdaResolveRoute                   resolve the selectors on a fresh version list; record the target
//	[lambdaBlueGreenCheck]               $BLUEGREEN: invoke the newest version, one invocation per run
//	lambdaRecordRouting                  record what the alias routes, as the rollback record
//	lambdaUpdateAlias                    create or update the alias on the recorded revision; verify
//	[lambdaAliasProvisionedConcurrency]  provisionedConcurrentExecutions on the alias, until READY;
//	                                     absent or 0 removes it, as Orca (not $WEIGHTED; skipped with leaveAbsent)
//	[lambdaAliasEventSources]            triggerArns on the alias, by UUID; absent removes
//	                                     every mapping on the alias, as Orca (skipped with leaveAbsent)
//	[lambdaAliasSNSSubscriptions]        snsTopicArns (Sluice): the alias's SNS subscriptions and permissions
func newRouteType(b base) stage.Type {
	return &stageType[routeSpec, *routeSpec]{base: b, name: RouteTypeName, plan: planRoute, tasks: []task[routeSpec]{
		{name: taskResolveRoute, run: resolveRoute},
		{name: taskBlueGreenCheck, run: b.blueGreenCheck, when: func(s *routeSpec) bool { return s.DeploymentStrategy.Value == strategyBlueGreen }},
		{name: taskRecordRouting, run: recordRouting},
		{name: taskUpdateAlias, run: updateAlias, when: func(s *routeSpec) bool { return s.DeploymentStrategy.Value != strategyProgressive }},
		{name: taskShiftTraffic, run: b.shiftTraffic, when: func(s *routeSpec) bool { return s.DeploymentStrategy.Value == strategyProgressive }},
		{name: taskAliasPC, run: aliasProvisionedConcurrency, when: func(s *routeSpec) bool {
			return (!s.ProvisionedConcurrentExecutions.Missing() || !s.LeaveAbsent.Value) &&
				s.DeploymentStrategy.Value != strategyWeighted && s.DeploymentStrategy.Value != strategyProgressive
		}},
		{name: taskAliasESM, run: aliasEventSources, when: func(s *routeSpec) bool {
			if s.DeploymentStrategy.Value == strategyProgressive {
				return !s.TriggerArns.Missing() // Sluice's own strategy: absent leaves
			}
			return s.manageEventSources()
		}},
		{name: taskAliasSubscriptions, run: aliasSubscriptions, when: func(s *routeSpec) bool { return s.manageSubscriptions() }},
	}}
}

// Deployment strategies.
const (
	strategySimple    = "$SIMPLE"
	strategyWeighted  = "$WEIGHTED"
	strategyBlueGreen = "$BLUEGREEN"
)

// strategyUsed is the plugin's deployment:strategyUsed value.
var strategyUsed = map[string]string{
	strategySimple:    "SimpleDeploymentStrategy",
	strategyWeighted:  "WeightedDeploymentStrategy",
	strategyBlueGreen: "BlueGreenDeploymentStrategy",
	// Sluice's own.
	strategyProgressive: "ProgressiveDeploymentStrategy",
}

// Route tasks.
const (
	taskResolveRoute       = "lambdaResolveRoute"
	taskBlueGreenCheck     = "lambdaBlueGreenCheck"
	taskRecordRouting      = "lambdaRecordRouting"
	taskUpdateAlias        = "lambdaUpdateAlias"
	taskAliasPC            = "lambdaAliasProvisionedConcurrency"
	taskAliasESM           = "lambdaAliasEventSources"
	taskAliasSubscriptions = "lambdaAliasSNSSubscriptions"
)

// Keys the route tasks keep in the stage context.
const (
	routeTargetKey   = "routeTarget"
	routeSnapshotKey = "routeSnapshot"
)

// The rollback outputs of a Route stage.
const (
	// PreviousRoutingKey holds what the alias routed before the stage:
	// {account, region, functionName, alias, functionVersion,
	// additionalVersionWeights, existed}.
	PreviousRoutingKey = "rollback:previousRouting"
	// RollbackStageKey holds the compensation for the engine:
	// {type: RestoreTypeName, name: "Restore <functionName>:<alias>",
	// context: the PreviousRoutingKey record}.
	RollbackStageKey = "rollback:stage"
)

func (s *routeSpec) Check(c *stage.Checker) {
	s.target.check(c)
	s.eventSourceFields.check(c)
	s.subscriptionFields.check(c)
	c.Required(&s.AliasName)
	c.Valid(&s.AliasName, aliasNamePattern().MatchString)
	if a := s.AliasName.Value; isVersionNumber(strings.TrimSpace(a)) {
		c.Errorf(&s.AliasName, "%q is a version number; an alias name is letters, digits, '-' and '_', not all digits", a)
	}
	c.Required(&s.DeploymentStrategy)
	c.OneOf(&s.DeploymentStrategy, strategySimple, strategyWeighted, strategyBlueGreen, strategyProgressive)
	c.Range(&s.ExecutionCount, 1, maxExecutionCount)
	c.Range(&s.Timeout, 1, maxInvokeTimeoutSecs)
	c.Range(&s.ProvisionedConcurrentExecutions, 0, 100000)
	strategy := s.DeploymentStrategy.Value
	switch p := &s.TrafficPercentA; {
	case p.Missing() && strategy == strategyWeighted:
		c.Errorf(p, "is required for $WEIGHTED: the percentage of traffic (0 to 100) for versionNameA")
	case p.Set() && (math.IsNaN(p.Value) || p.Value < 0 || p.Value > 100):
		c.Errorf(p, "must be a percentage from 0 to 100, not %v", p.Value)
	}
	switch strategy {
	case strategySimple:
		s.checkSelector(c, "A")
	case strategyWeighted:
		s.checkSelector(c, "A")
		s.checkSelector(c, "B")
		if pc := s.ProvisionedConcurrentExecutions; pc.Set() && pc.Value > 0 {
			c.Errorf(&s.ProvisionedConcurrentExecutions, "cannot be set with $WEIGHTED: AWS refuses provisioned concurrency on an alias that routes to two versions")
		}
	case strategyProgressive:
		if !s.VersionNameA.Missing() {
			s.checkSelector(c, "A")
		}
		if !s.VersionNameB.Missing() {
			s.checkSelector(c, "B")
		}
		c.Required(&s.Progressive)
		s.Progressive.check(c)
		if pc := s.ProvisionedConcurrentExecutions; pc.Set() && pc.Value > 0 {
			c.Errorf(&s.ProvisionedConcurrentExecutions, "cannot be set with $PROGRESSIVE: AWS refuses provisioned concurrency on an alias that routes to two versions")
		}
	case strategyBlueGreen:
		s.payloadFields.check(c)
		s.expectationFields.check(c)
		checkArtifact(c, &s.OutputArtifact)
		if !s.blueGreenExpectation() {
			c.Errorf(&s.OutputArtifact, "is required for $BLUEGREEN: the response the new version must give (or set expectedOutput, expectedSubset or expectedRegex)")
		}
	}
}

// blueGreenExpectation reports whether a blue/green stage says what the
// new version must answer: outputArtifact or an expectation field is
// there and neither "" nor {}.
func (s *routeSpec) blueGreenExpectation() bool {
	for _, f := range []*stage.JSONField{&s.OutputArtifact, &s.ExpectedOutput, &s.ExpectedSubset} {
		if !f.Missing() && !(f.Set() && isEmpty(f.Value)) {
			return true
		}
	}
	r := &s.ExpectedRegex
	return !r.Missing() && !(r.Set() && r.Value == "")
}

// isEmpty reports whether v is "" or {}.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// side is versionName<side> and versionNumber<side> (A or B).
func (s *routeSpec) side(side string) (name *stage.StringField, number *stage.WeakStringField) {
	if side == "B" {
		return &s.VersionNameB, &s.VersionNumberB
	}
	return &s.VersionNameA, &s.VersionNumberA
}

// checkSelector checks the selector of one side.
func (s *routeSpec) checkSelector(c *stage.Checker, side string) {
	name, number := s.side(side)
	if !known(&name.Field) || !known(&number.Field) {
		return
	}
	if _, field, err := s.selector(side); err != nil {
		c.Errorf(field, "%v", err)
	}
}

// selector reads the selector of one side. The field it returns is the one
// an error is about.
func (s *routeSpec) selector(side string) (Selector, *stage.Field, error) {
	name, number := s.side(side)
	sel, err := ParseSelector(name.Value, number.Value, 0)
	if err != nil {
		if strings.EqualFold(strings.TrimSpace(name.Value), SelectorProvided) {
			return Selector{}, &number.Field, err
		}
		return Selector{}, &name.Field, err
	}
	switch sel.Name {
	case SelectorMoving, SelectorAll:
		return Selector{}, &name.Field, fmt.Errorf("%s names several versions and cannot be routed to; use $LATEST, $PREVIOUS, $OLDEST, $PROVIDED or a version number", sel.Name)
	}
	return sel, nil, nil
}

// alias is the alias the stage routes.
func (s *routeSpec) alias() string { return strings.TrimSpace(s.AliasName.Value) }

// routeTarget is what the alias will route, resolved when the stage starts
// and kept in the stage context so that re-runs route the same versions.
type routeTarget struct {
	Strategy string             `json:"strategy"`
	Version  string             `json:"version"`
	Weights  map[string]float64 `json:"weights"`
	// Selected describes how the versions were chosen, for messages.
	Selected string `json:"selected"`
}

// resolveRoute resolves the stage's selectors on a fresh list of
// versions and records what the alias will route.
func resolveRoute(ctx context.Context, _ *stage.Task, f *function, s *routeSpec) (stage.Result, error) {
	strategy := s.DeploymentStrategy.Value
	versions, found, err := publishedVersions(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	if !found {
		return stage.Result{}, fail("%s does not exist; check functionName and account", f)
	}
	var target routeTarget
	switch strategy {
	case strategySimple:
		v, sel, err := s.resolveSide(f, "A", versions)
		if err != nil {
			return stage.Result{}, err
		}
		target = routeTarget{Version: v, Weights: map[string]float64{}, Selected: fmt.Sprintf("versionNameA %s = version %s", sel, v)}
	case strategyWeighted:
		target, err = s.resolveWeighted(ctx, f, versions)
		if err != nil {
			return stage.Result{}, err
		}
	case strategyProgressive:
		return s.resolveProgressive(ctx, f, versions)
	case strategyBlueGreen:
		if len(versions) == 0 {
			return stage.Result{}, fail("$BLUEGREEN tests the newest published version of %s, and it has none; publish a version first (Deploy with publish: true)", f)
		}
		v := strconv.Itoa(versions[len(versions)-1])
		target = routeTarget{Version: v, Weights: map[string]float64{}, Selected: "the newest published version, " + v}
	default:
		return stage.Result{}, fail("deploymentStrategy must be $SIMPLE, $WEIGHTED, $BLUEGREEN or $PROGRESSIVE, not %q", strategy)
	}
	target.Strategy = strategy
	return stage.Succeed().WithContext(map[string]any{routeTargetKey: jsonValue(target)}), nil
}

// resolveSide resolves versionName<side> among versions.
func (s *routeSpec) resolveSide(f *function, side string, versions []int) (string, Selector, error) {
	sel, field, err := s.selector(side)
	if err != nil {
		return "", sel, fail("%s %v", field.Path(), err)
	}
	resolved, err := sel.Resolve(f.name, versions, true)
	if err != nil {
		return "", sel, fail("versionName%s: %v", side, err)
	}
	return resolved[0], sel, nil
}

func (s *routeSpec) resolveWeighted(ctx context.Context, f *function, versions []int) (routeTarget, error) {
	pct := s.TrafficPercentA.Value
	a, selA, err := s.resolveSide(f, "A", versions)
	if err != nil {
		return routeTarget{}, err
	}
	b, selB, err := s.resolveSide(f, "B", versions)
	if err != nil {
		return routeTarget{}, err
	}
	selected := fmt.Sprintf("versionNameA %s = version %s at %v%%, versionNameB %s = version %s at %v%%", selA, a, pct, selB, b, 100-pct)
	if a == b {
		return routeTarget{}, fail("versionNameA %s and versionNameB %s both name version %s of %s; $WEIGHTED routes between two different versions (%s)",
			selA, selB, a, f.name, describeVersions(versions))
	}
	switch {
	case pct >= 100:
		return routeTarget{Version: a, Weights: map[string]float64{}, Selected: selected}, nil
	case pct <= 0:
		return routeTarget{Version: b, Weights: map[string]float64{}, Selected: selected}, nil
	}
	if err := checkSameRoleAndDLQ(ctx, f, a, b); err != nil {
		return routeTarget{}, err
	}
	weight := roundWeight(pct) // percent → fraction, 6 decimals
	return routeTarget{Version: a, Weights: map[string]float64{b: weight}, Selected: selected}, nil
}

// checkSameRoleAndDLQ checks AWS's rule for an alias with two versions:
// both have the same execution role and dead-letter queue.
func checkSameRoleAndDLQ(ctx context.Context, f *function, a, b string) error {
	ca, err := versionConfig(ctx, f, a)
	if err != nil {
		return err
	}
	cb, err := versionConfig(ctx, f, b)
	if err != nil {
		return err
	}
	if ra, rb := aws.ToString(ca.Role), aws.ToString(cb.Role); ra != rb {
		return fail("versions %s and %s of %s have different execution roles (version %s: %s; version %s: %s); AWS routes one alias to two versions only when their role and dead-letter queue are the same — publish the versions with the same role, or route with $SIMPLE",
			a, b, f.name, a, ra, b, rb)
	}
	if da, db := dlq(ca), dlq(cb); da != db {
		return fail("versions %s and %s of %s have different dead-letter queues (version %s: %s; version %s: %s); AWS routes one alias to two versions only when their role and dead-letter queue are the same — publish the versions with the same deadLetterConfig, or route with $SIMPLE",
			a, b, f.name, a, orNone(da), b, orNone(db))
	}
	return nil
}

func dlq(c *lambda.GetFunctionConfigurationOutput) string {
	if c.DeadLetterConfig == nil {
		return ""
	}
	return aws.ToString(c.DeadLetterConfig.TargetArn)
}

// versionConfig reads one published version's configuration.
func versionConfig(ctx context.Context, f *function, version string) (*lambda.GetFunctionConfigurationOutput, error) {
	c, err := f.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{
		FunctionName: aws.String(f.name), Qualifier: aws.String(version)})
	if err != nil {
		if isNotFound(err) {
			return nil, fail("version %s of %s does not exist (was it deleted while the stage ran?)", version, f)
		}
		return nil, apiError(f, "GetFunctionConfiguration", err)
	}
	return c, nil
}
