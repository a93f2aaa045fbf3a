package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/stage"
)

// RouteType is the Aws.LambdaTrafficRoutingStage stage type ("AWS Lambda
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
// the alias, as the plugin does — but only when triggerArns is present;
// [] removes the alias's mappings. provisionedConcurrentExecutions, when
// present, is set on the alias (0 removes it); absent leaves it as it is
// (the plugin deleted it). healthCheckType and trafficPercentB are read by
// neither the plugin nor Sluice.
type RouteType struct {
	base
	fetch fetcher
}

func newRouteType(b base) *RouteType {
	return &RouteType{base: b, fetch: fetcher{http: &http.Client{Timeout: time.Minute}}}
}

func (*RouteType) Name() string { return RouteTypeName }

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
}

// Route tasks.
const (
	taskResolveRoute   = "lambdaResolveRoute"
	taskBlueGreenCheck = "lambdaBlueGreenCheck"
	taskRecordRouting  = "lambdaRecordRouting"
	taskUpdateAlias    = "lambdaUpdateAlias"
	taskAliasPC        = "lambdaAliasProvisionedConcurrency"
	taskAliasESM       = "lambdaAliasEventSources"
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

var routeSpecs = append(append(append([]fieldSpec{}, commonSpecs...),
	fieldSpec{name: "aliasName", kind: kindString, required: true, valid: aliasNamePattern.MatchString,
		hint: "the alias to route, e.g. live"},
	fieldSpec{name: "aliasDescription", kind: kindString},
	fieldSpec{name: "deploymentStrategy", kind: kindString, required: true,
		oneOf: []string{strategySimple, strategyWeighted, strategyBlueGreen}},
	fieldSpec{name: "executionCount", kind: kindInt, min: 1, max: maxExecutionCount,
		hint: "$BLUEGREEN: how many times to invoke the new version; default 1"},
	fieldSpec{name: "timeout", kind: kindInt, min: 1, max: maxInvokeTimeoutSecs,
		hint: "$BLUEGREEN: seconds each test invocation may take; default 30"},
	fieldSpec{name: "destroyOnFail", kind: kindBool, hint: "$BLUEGREEN: delete the tested version when its check fails"},
	fieldSpec{name: "provisionedConcurrentExecutions", kind: kindInt, min: 0, max: 100000,
		hint: "provisioned concurrency on the alias; absent leaves it, 0 removes it"},
), eventSourceSpecs...)

func (*RouteType) Validate(fields map[string]any) []stage.FieldError {
	errs := validateSpecs(fields, routeSpecs, "")
	errs = append(errs, validateEventSources(fields)...)
	if a, ok := fields["aliasName"].(string); ok && isVersionNumber(strings.TrimSpace(a)) {
		errs = append(errs, stage.FieldError{Field: "aliasName", Msg: fmt.Sprintf("%q is a version number; an alias name is letters, digits, '-' and '_', not all digits", a)})
	}
	strategy, _ := fields["deploymentStrategy"].(string)
	if containsExpression(fields["deploymentStrategy"]) {
		strategy = ""
	}
	if e := validatePercent(fields, strategy); e != nil {
		errs = append(errs, *e)
	}
	switch strategy {
	case strategySimple:
		errs = append(errs, validateSelector(fields, "A")...)
	case strategyWeighted:
		errs = append(errs, validateSelector(fields, "A")...)
		errs = append(errs, validateSelector(fields, "B")...)
		if n, ok, _ := integer(fields, "provisionedConcurrentExecutions"); ok && n > 0 {
			errs = append(errs, stage.FieldError{Field: "provisionedConcurrentExecutions",
				Msg: "cannot be set with $WEIGHTED: AWS refuses provisioned concurrency on an alias that routes to two versions"})
		}
	case strategyBlueGreen:
		errs = append(errs, validatePayload(fields)...)
		errs = append(errs, validateArtifact(fields, "payloadArtifact")...)
		errs = append(errs, validateArtifact(fields, "outputArtifact")...)
		errs = append(errs, validateExpectations(fields)...)
		if !hasBlueGreenExpectation(fields) {
			errs = append(errs, stage.FieldError{Field: "outputArtifact",
				Msg: "is required for $BLUEGREEN: the response the new version must give (or set expectedOutput, expectedSubset or expectedRegex)"})
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	return errs
}

// hasBlueGreenExpectation reports whether a blue/green stage says what the
// new version must answer.
func hasBlueGreenExpectation(fields map[string]any) bool {
	for _, k := range append([]string{"outputArtifact"}, expectationFields...) {
		switch v := fields[k].(type) {
		case nil:
		case map[string]any:
			if len(v) > 0 {
				return true
			}
		case string:
			if v != "" {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// validatePercent checks trafficPercentA: a number from 0 to 100, required
// for $WEIGHTED.
func validatePercent(fields map[string]any, strategy string) *stage.FieldError {
	v, ok := fields["trafficPercentA"]
	if containsExpression(v) {
		return nil
	}
	if !ok || v == nil {
		if strategy == strategyWeighted {
			return &stage.FieldError{Field: "trafficPercentA", Msg: "is required for $WEIGHTED: the percentage of traffic (0 to 100) for versionNameA"}
		}
		return nil
	}
	if _, err := trafficPercent(fields); err != nil {
		return &stage.FieldError{Field: "trafficPercentA", Msg: err.Error()}
	}
	return nil
}

// trafficPercent reads trafficPercentA.
func trafficPercent(fields map[string]any) (float64, error) {
	n, ok, err := stage.Number(fields, "trafficPercentA")
	switch {
	case err != nil:
		return 0, fmt.Errorf("%v (a percentage from 0 to 100)", err)
	case !ok:
		return 0, fmt.Errorf("is required for $WEIGHTED: the percentage of traffic (0 to 100) for versionNameA")
	case math.IsNaN(n) || n < 0 || n > 100:
		return 0, fmt.Errorf("must be a percentage from 0 to 100, not %v", n)
	}
	return n, nil
}

// validateSelector checks versionName<side> and versionNumber<side>.
func validateSelector(fields map[string]any, side string) []stage.FieldError {
	nameField, numField := "versionName"+side, "versionNumber"+side
	if containsExpression(fields[nameField]) || containsExpression(fields[numField]) {
		return nil
	}
	_, field, err := routeSelector(fields, side)
	if err != nil {
		return []stage.FieldError{{Field: field, Msg: err.Error()}}
	}
	return nil
}

// routeSelector reads the selector of one side (A or B). The field it
// returns is the one an error is about.
func routeSelector(fields map[string]any, side string) (Selector, string, error) {
	nameField, numField := "versionName"+side, "versionNumber"+side
	name, _, err := str(fields, nameField)
	if err != nil {
		return Selector{}, nameField, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), nameField+" "))
	}
	var provided string
	switch v := fields[numField].(type) {
	case nil:
	case string:
		provided = v
	case float64:
		provided = strconv.FormatFloat(v, 'f', -1, 64)
	case int:
		provided = strconv.Itoa(v)
	case int64:
		provided = strconv.FormatInt(v, 10)
	default:
		return Selector{}, numField, fmt.Errorf("must be a version number, not %s", jsonKind(v))
	}
	s, err := ParseSelector(name, provided, 0)
	if err != nil {
		field := nameField
		if strings.EqualFold(strings.TrimSpace(name), SelectorProvided) {
			field = numField
		}
		return Selector{}, field, err
	}
	switch s.Name {
	case SelectorMoving, SelectorAll:
		return Selector{}, nameField, fmt.Errorf("%s names several versions and cannot be routed to; use $LATEST, $PREVIOUS, $OLDEST, $PROVIDED or a version number", s.Name)
	}
	return s, "", nil
}

func (*RouteType) Tasks(fields map[string]any) []string {
	strategy, _, _ := str(fields, "deploymentStrategy")
	tasks := []string{taskResolveRoute}
	if strategy == strategyBlueGreen {
		tasks = append(tasks, taskBlueGreenCheck)
	}
	tasks = append(tasks, taskRecordRouting, taskUpdateAlias)
	if v, ok := fields["provisionedConcurrentExecutions"]; ok && v != nil && strategy != strategyWeighted {
		tasks = append(tasks, taskAliasPC)
	}
	if v, ok := fields["triggerArns"]; ok && v != nil {
		tasks = append(tasks, taskAliasESM)
	}
	return tasks
}

func (rt *RouteType) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	var res stage.Result
	f, err := rt.function(t)
	if err == nil {
		var alias string
		alias, err = routeAlias(t.Context)
		if err == nil {
			switch t.Name {
			case taskResolveRoute:
				res, err = rt.resolve(ctx, t, f)
			case taskBlueGreenCheck:
				res, err = rt.blueGreenCheck(ctx, t, f)
			case taskRecordRouting:
				res, err = recordRouting(ctx, f, alias)
			case taskUpdateAlias:
				res, err = updateAlias(ctx, t, f, alias)
			case taskAliasPC:
				res, err = aliasProvisionedConcurrency(ctx, t, f, alias)
			case taskAliasESM:
				res, err = aliasEventSources(ctx, t, f, alias)
			default:
				err = fail("%s has no task %q", RouteTypeName, t.Name)
			}
		}
	}
	return result(ctx, t, res, err)
}

func routeAlias(fields map[string]any) (string, error) {
	alias, _, err := str(fields, "aliasName")
	if err != nil {
		return "", fail("%v", err)
	}
	alias = strings.TrimSpace(alias)
	if alias == "" {
		return "", fail("aliasName is required: the alias to route (the plugin's \"Traffic Update requires aliasName field\")")
	}
	if !aliasNamePattern.MatchString(alias) || isVersionNumber(alias) {
		return "", fail("aliasName %q is not an alias name: letters, digits, '-' and '_', not all digits, at most 128", alias)
	}
	return alias, nil
}

// routeTarget is what the alias will route, resolved when the stage starts
// and kept in the stage context so that re-runs route the same versions.
type routeTarget struct {
	Strategy string             `json:"strategy"`
	Version  string             `json:"version"`
	Weights  map[string]float64 `json:"weights"`
	// Selected describes how the versions were chosen, for messages.
	Selected string `json:"selected"`
}

func (rt *RouteType) resolve(ctx context.Context, t *stage.Task, f *function) (stage.Result, error) {
	strategy, _, err := str(t.Context, "deploymentStrategy")
	if err != nil {
		return stage.Result{}, fail("%v", err)
	}
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
		v, sel, err := resolveSide(f, t.Context, "A", versions)
		if err != nil {
			return stage.Result{}, err
		}
		target = routeTarget{Version: v, Weights: map[string]float64{}, Selected: fmt.Sprintf("versionNameA %s = version %s", sel, v)}
	case strategyWeighted:
		target, err = resolveWeighted(ctx, f, t.Context, versions)
		if err != nil {
			return stage.Result{}, err
		}
	case strategyBlueGreen:
		if len(versions) == 0 {
			return stage.Result{}, fail("$BLUEGREEN tests the newest published version of %s, and it has none; publish a version first (Deploy with publish: true)", f)
		}
		v := strconv.Itoa(versions[len(versions)-1])
		target = routeTarget{Version: v, Weights: map[string]float64{}, Selected: "the newest published version, " + v}
	case "":
		return stage.Result{}, fail("deploymentStrategy is required: $SIMPLE, $WEIGHTED or $BLUEGREEN")
	default:
		return stage.Result{}, fail("deploymentStrategy must be $SIMPLE, $WEIGHTED or $BLUEGREEN, not %q", strategy)
	}
	target.Strategy = strategy
	return stage.Result{Context: map[string]any{routeTargetKey: jsonValue(target)}}, nil
}

// resolveSide resolves versionName<side> among versions.
func resolveSide(f *function, fields map[string]any, side string, versions []int) (string, Selector, error) {
	s, field, err := routeSelector(fields, side)
	if err != nil {
		return "", s, fail("%s %v", field, err)
	}
	resolved, err := s.Resolve(f.name, versions, true)
	if err != nil {
		return "", s, fail("versionName%s: %v", side, err)
	}
	return resolved[0], s, nil
}

func resolveWeighted(ctx context.Context, f *function, fields map[string]any, versions []int) (routeTarget, error) {
	pct, err := trafficPercent(fields)
	if err != nil {
		return routeTarget{}, fail("trafficPercentA %v", err)
	}
	a, selA, err := resolveSide(f, fields, "A", versions)
	if err != nil {
		return routeTarget{}, err
	}
	b, selB, err := resolveSide(f, fields, "B", versions)
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
	weight := math.Round((100-pct)*1e4) / 1e6 // percent → fraction, 6 decimals
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

// storedTarget reads the route target the resolve task recorded.
func storedTarget(t *stage.Task) (routeTarget, error) {
	var target routeTarget
	if err := fromContext(t.Context, routeTargetKey, &target); err != nil || target.Version == "" {
		return routeTarget{}, fail("the stage context has no resolved route target (%s); the %s task must run first", routeTargetKey, taskResolveRoute)
	}
	if target.Weights == nil {
		target.Weights = map[string]float64{}
	}
	return target, nil
}

// fromContext decodes a value an earlier task stored in the context.
func fromContext(fields map[string]any, key string, dst any) error {
	v, ok := fields[key]
	if !ok || v == nil {
		return fmt.Errorf("%s is missing", key)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// ---- the alias ----

// aliasState is an alias as read from AWS.
type aliasState struct {
	found    bool
	version  string
	weights  map[string]float64
	revision string
}

// readAlias reads alias of f fresh from AWS.
func readAlias(ctx context.Context, f *function, alias string) (aliasState, error) {
	out, err := f.c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(f.name), Name: aws.String(alias)})
	if err != nil {
		if isNotFound(err) {
			// The function itself may be missing: say so rather than
			// creating an alias on nothing.
			if _, found, ferr := getFunction(ctx, f); ferr != nil {
				return aliasState{}, ferr
			} else if !found {
				return aliasState{}, fail("%s does not exist; check functionName and account", f)
			}
			return aliasState{weights: map[string]float64{}}, nil
		}
		return aliasState{}, apiError(f, "GetAlias "+alias, err)
	}
	s := aliasState{found: true, version: aws.ToString(out.FunctionVersion), revision: aws.ToString(out.RevisionId), weights: map[string]float64{}}
	if out.RoutingConfig != nil {
		for v, w := range out.RoutingConfig.AdditionalVersionWeights {
			s.weights[v] = w
		}
	}
	return s, nil
}

// routes reports whether the alias routes exactly version plus weights.
func (s aliasState) routes(version string, weights map[string]float64) bool {
	return s.found && s.version == version && sameWeights(s.weights, weights)
}

func sameWeights(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for v, w := range a {
		x, ok := b[v]
		if !ok || math.Abs(x-w) > 1e-9 {
			return false
		}
	}
	return true
}

func (s aliasState) String() string {
	if !s.found {
		return "does not exist"
	}
	return "routes " + describeRouting(s.version, s.weights)
}

// describeRouting says in words what a routing sends where.
func describeRouting(version string, weights map[string]float64) string {
	if len(weights) == 0 {
		return "100% to version " + version
	}
	keys := make([]string, 0, len(weights))
	total := 0.0
	for v, w := range weights {
		keys = append(keys, v)
		total += w
	}
	sort.Strings(keys)
	parts := []string{fmt.Sprintf("%s%% to version %s", pct(1-total), version)}
	for _, v := range keys {
		parts = append(parts, fmt.Sprintf("%s%% to version %s", pct(weights[v]), v))
	}
	return strings.Join(parts, " and ")
}

func pct(w float64) string {
	return strconv.FormatFloat(math.Round(w*1e6)/1e4, 'f', -1, 64)
}

// previousRouting is the rollback record of a Route stage: what the alias
// routed before the stage changed it.
type previousRouting struct {
	Account                  string             `json:"account"`
	Region                   string             `json:"region"`
	FunctionName             string             `json:"functionName"`
	Alias                    string             `json:"alias"`
	FunctionVersion          string             `json:"functionVersion"`
	AdditionalVersionWeights map[string]float64 `json:"additionalVersionWeights"`
	Existed                  bool               `json:"existed"`
}

// snapshot is the record plus the alias's RevisionId, kept in the stage
// context: the update is made only on that revision.
type snapshot struct {
	previousRouting
	RevisionID string `json:"revisionId"`
}

// recordRouting reads the alias and records it, before anything changes
// it, as the stage's rollback record.
func recordRouting(ctx context.Context, f *function, alias string) (stage.Result, error) {
	cur, err := readAlias(ctx, f, alias)
	if err != nil {
		return stage.Result{}, err
	}
	rec := previousRouting{
		Account:                  f.acct.Name,
		Region:                   f.acct.Region,
		FunctionName:             f.name,
		Alias:                    alias,
		FunctionVersion:          cur.version,
		AdditionalVersionWeights: cur.weights,
		Existed:                  cur.found,
	}
	recValue := jsonValue(rec)
	return stage.Result{
		Context: map[string]any{routeSnapshotKey: jsonValue(snapshot{previousRouting: rec, RevisionID: cur.revision})},
		Outputs: map[string]any{
			PreviousRoutingKey: recValue,
			RollbackStageKey: map[string]any{
				"type":    RestoreTypeName,
				"name":    fmt.Sprintf("Restore %s:%s", f.name, alias),
				"context": jsonValue(rec),
			},
		},
	}, nil
}

// noRollback withdraws the rollback record: the stage fails without having
// changed the alias, and restoring the record would undo someone else's
// change. (The outputs are merged, so the keys are set to null.)
var noRollback = stage.Result{Outputs: map[string]any{PreviousRoutingKey: nil, RollbackStageKey: nil}}

// updateAlias points the alias at the resolved target: creates it when it
// did not exist, else updates it on the revision recorded before. A re-run
// that finds the alias already routed as wanted only verifies.
func updateAlias(ctx context.Context, t *stage.Task, f *function, alias string) (stage.Result, error) {
	target, err := storedTarget(t)
	if err != nil {
		return stage.Result{}, err
	}
	var snap snapshot
	if err := fromContext(t.Context, routeSnapshotKey, &snap); err != nil {
		return stage.Result{}, fail("the stage context has no record of the alias before the change (%s); the %s task must run first", routeSnapshotKey, taskRecordRouting)
	}
	description, hasDescription, err := str(t.Context, "aliasDescription")
	if err != nil {
		return stage.Result{}, fail("%v", err)
	}
	cur, err := readAlias(ctx, f, alias)
	if err != nil {
		return stage.Result{}, err
	}
	if !cur.routes(target.Version, target.Weights) {
		before := describeRouting(snap.FunctionVersion, snap.AdditionalVersionWeights)
		switch {
		case !cur.found && snap.Existed:
			return noRollback, fail("alias %s of %s was deleted while the stage ran (it routed %s when the stage read it); nothing was changed — run the stage again",
				alias, f.name, before)
		case !cur.found:
			in := &lambda.CreateAliasInput{
				FunctionName:    aws.String(f.name),
				Name:            aws.String(alias),
				FunctionVersion: aws.String(target.Version),
				RoutingConfig:   &types.AliasRoutingConfiguration{AdditionalVersionWeights: target.Weights},
			}
			if hasDescription {
				in.Description = aws.String(description)
			}
			if _, err := f.c.CreateAlias(ctx, in); err != nil {
				return stage.Result{}, apiError(f, "CreateAlias "+alias, err)
			}
		case !snap.Existed || cur.revision != snap.RevisionID:
			was := "did not exist"
			if snap.Existed {
				was = "routed " + before
			}
			return noRollback, fail("alias %s of %s was changed while the stage ran: it %s when the stage read it and now %s; Sluice did not overwrite that change — run the stage again to route %s",
				alias, f.name, was, cur, describeRouting(target.Version, target.Weights))
		default:
			in := &lambda.UpdateAliasInput{
				FunctionName:    aws.String(f.name),
				Name:            aws.String(alias),
				FunctionVersion: aws.String(target.Version),
				RoutingConfig:   &types.AliasRoutingConfiguration{AdditionalVersionWeights: target.Weights},
				RevisionId:      aws.String(cur.revision),
			}
			if hasDescription {
				in.Description = aws.String(description)
			}
			if _, err := f.c.UpdateAlias(ctx, in); err != nil {
				return stage.Result{}, apiError(f, "UpdateAlias "+alias, err)
			}
		}
		// Verify on a fresh read.
		cur, err = readAlias(ctx, f, alias)
		if err != nil {
			return stage.Result{}, err
		}
		if !cur.routes(target.Version, target.Weights) {
			return stage.Result{}, fail("alias %s of %s %s after the update, not %s as asked; another change may have raced with this stage",
				alias, f.name, cur, describeRouting(target.Version, target.Weights))
		}
	}
	out := map[string]any{
		"deployment:aliasDeployed":        alias,
		"deployment:majorVersionDeployed": target.Version,
		"deployment:strategyUsed":         strategyUsed[target.Strategy],
	}
	for v := range target.Weights {
		out["deployment:minorVersionDeployed"] = v
	}
	return stage.Result{Outputs: out}, nil
}

// ---- provisioned concurrency and event sources on the alias ----

// aliasProvisionedConcurrency sets provisionedConcurrentExecutions on the
// alias (0 removes it) and waits until AWS reports it READY.
func aliasProvisionedConcurrency(ctx context.Context, t *stage.Task, f *function, alias string) (stage.Result, error) {
	n, ok, err := integer(t.Context, "provisionedConcurrentExecutions")
	if err != nil {
		return stage.Result{}, fail("provisionedConcurrentExecutions %v", err)
	}
	if !ok {
		return stage.Result{Status: stage.Skipped}, nil
	}
	cur, err := f.c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(f.name), Qualifier: aws.String(alias)})
	exists := err == nil
	if err != nil && !isProvisionedConcurrencyNotFound(err) {
		return stage.Result{}, apiError(f, "GetProvisionedConcurrencyConfig "+alias, err)
	}
	if n == 0 {
		if !exists {
			return stage.Result{Outputs: map[string]any{"provisionedConcurrentExecutions": 0}}, nil
		}
		if _, err := f.c.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(f.name), Qualifier: aws.String(alias)}); err != nil && !isProvisionedConcurrencyNotFound(err) {
			return stage.Result{}, apiError(f, "DeleteProvisionedConcurrencyConfig "+alias, err)
		}
		return stage.Result{}, retry("removed the provisioned concurrency of alias %s; verifying", alias)
	}
	if !exists || aws.ToInt32(cur.RequestedProvisionedConcurrentExecutions) != int32(n) {
		if _, err := f.c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(f.name), Qualifier: aws.String(alias),
			ProvisionedConcurrentExecutions: aws.Int32(int32(n))}); err != nil {
			return stage.Result{}, apiError(f, "PutProvisionedConcurrencyConfig "+alias, err)
		}
		return stage.Result{}, retry("waiting for %d provisioned executions on alias %s", n, alias)
	}
	switch cur.Status {
	case types.ProvisionedConcurrencyStatusEnumReady:
		return stage.Result{Outputs: map[string]any{"provisionedConcurrentExecutions": n}}, nil
	case types.ProvisionedConcurrencyStatusEnumFailed:
		return stage.Result{}, fail("provisioned concurrency of alias %s of %s failed: %s", alias, f.name, orNone(aws.ToString(cur.StatusReason)))
	}
	return stage.Result{}, retry("waiting for %d provisioned executions on alias %s (status %s)", n, alias, cur.Status)
}

func isProvisionedConcurrencyNotFound(err error) bool {
	var nf *types.ProvisionedConcurrencyConfigNotFoundException
	return isNotFound(err) || errors.As(err, &nf)
}

// aliasEventSources reconciles triggerArns on the alias.
func aliasEventSources(ctx context.Context, t *stage.Task, f *function, alias string) (stage.Result, error) {
	want, ok, err := readEventSources(t.Context)
	if err != nil {
		return stage.Result{}, err
	}
	if !ok {
		return stage.Result{Status: stage.Skipped}, nil
	}
	fn, found, err := getFunction(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	if !found {
		return stage.Result{}, fail("%s does not exist; check functionName and account", f)
	}
	aliasARN := unqualifiedARN(aws.ToString(fn.Configuration.FunctionArn)) + ":" + alias
	have, err := reconcileEventSources(ctx, f, aliasARN, want)
	if err != nil {
		return stage.Result{}, err
	}
	return stage.Result{Outputs: map[string]any{"eventSourceMappings": jsonValue(have)}}, nil
}
