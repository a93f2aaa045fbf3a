package lambda

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/stage"
)

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
func recordRouting(ctx context.Context, _ *stage.Task, f *function, s *routeSpec) (stage.Result, error) {
	alias := s.alias()
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
	return stage.Succeed().
		WithContext(map[string]any{routeSnapshotKey: jsonValue(snapshot{previousRouting: rec, RevisionID: cur.revision})}).
		WithOutputs(map[string]any{
			PreviousRoutingKey: jsonValue(rec),
			RollbackStageKey: map[string]any{
				"type":    RestoreTypeName,
				"name":    fmt.Sprintf("Restore %s:%s", f.name, alias),
				"context": jsonValue(rec),
			},
		}), nil
}

// noRollback withdraws the rollback record, returned with the error of a
// stage that fails without having changed the alias: restoring the record
// would undo someone else's change. (The outputs are merged, so the keys
// are set to null.)
func noRollback() stage.Result {
	return stage.Result{}.WithOutputs(map[string]any{PreviousRoutingKey: nil, RollbackStageKey: nil})
}

// updateAlias points the alias at the resolved target: creates it when it
// did not exist, else updates it on the revision recorded before. A re-run
// that finds the alias already routed as wanted only verifies.
func updateAlias(ctx context.Context, t *stage.Task, f *function, s *routeSpec) (stage.Result, error) {
	alias := s.alias()
	target, err := storedTarget(t)
	if err != nil {
		return stage.Result{}, err
	}
	var snap snapshot
	if err := fromContext(t.Context, routeSnapshotKey, &snap); err != nil {
		return stage.Result{}, fail("the stage context has no record of the alias before the change (%s); the %s task must run first", routeSnapshotKey, taskRecordRouting)
	}
	cur, err := readAlias(ctx, f, alias)
	if err != nil {
		return stage.Result{}, err
	}
	if !cur.routes(target.Version, target.Weights) {
		before := describeRouting(snap.FunctionVersion, snap.AdditionalVersionWeights)
		switch {
		case !cur.found && snap.Existed:
			return noRollback(), fail("alias %s of %s was deleted while the stage ran (it routed %s when the stage read it); nothing was changed — run the stage again",
				alias, f.name, before)
		case !cur.found:
			in := &lambda.CreateAliasInput{
				FunctionName:    aws.String(f.name),
				Name:            aws.String(alias),
				FunctionVersion: aws.String(target.Version),
				RoutingConfig:   &types.AliasRoutingConfiguration{AdditionalVersionWeights: target.Weights},
			}
			in.Description = optString(&s.AliasDescription)
			if _, err := f.c.CreateAlias(ctx, in); err != nil {
				return stage.Result{}, apiError(f, "CreateAlias "+alias, err)
			}
		case !snap.Existed || cur.revision != snap.RevisionID:
			was := "did not exist"
			if snap.Existed {
				was = "routed " + before
			}
			return noRollback(), fail("alias %s of %s was changed while the stage ran: it %s when the stage read it and now %s; Sluice did not overwrite that change — run the stage again to route %s",
				alias, f.name, was, cur, describeRouting(target.Version, target.Weights))
		default:
			in := &lambda.UpdateAliasInput{
				FunctionName:    aws.String(f.name),
				Name:            aws.String(alias),
				FunctionVersion: aws.String(target.Version),
				RoutingConfig:   &types.AliasRoutingConfiguration{AdditionalVersionWeights: target.Weights},
				RevisionId:      aws.String(cur.revision),
			}
			in.Description = optString(&s.AliasDescription)
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
	return stage.Succeed().WithOutputs(out), nil
}

// aliasProvisionedConcurrency sets provisionedConcurrentExecutions on the
// alias and waits until AWS reports it READY. 0, null or absent removes
// it, as Orca's LambdaDeleteConcurrencyTask does.
func aliasProvisionedConcurrency(ctx context.Context, _ *stage.Task, f *function, s *routeSpec) (stage.Result, error) {
	alias := s.alias()
	n := s.ProvisionedConcurrentExecutions.Value
	if !s.ProvisionedConcurrentExecutions.Set() {
		if s.LeaveAbsent.Value {
			return stage.Skip(), nil
		}
		n = 0
	}
	if n == 0 && f.acct.Local {
		// The local Lambda has no provisioned concurrency: none to remove.
		return stage.Succeed().WithOutputs(map[string]any{"provisionedConcurrentExecutions": 0}), nil
	}
	cur, err := f.c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(f.name), Qualifier: aws.String(alias)})
	exists := err == nil
	if err != nil && !isNoPCConfig(err) {
		return stage.Result{}, apiError(f, "GetProvisionedConcurrencyConfig "+alias, err)
	}
	if n == 0 {
		if !exists {
			return stage.Succeed().WithOutputs(map[string]any{"provisionedConcurrentExecutions": 0}), nil
		}
		if _, err := f.c.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(f.name), Qualifier: aws.String(alias)}); err != nil && !isNoPCConfig(err) {
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
		return stage.Succeed().WithOutputs(map[string]any{"provisionedConcurrentExecutions": n}), nil
	case types.ProvisionedConcurrencyStatusEnumFailed:
		return stage.Result{}, fail("provisioned concurrency of alias %s of %s failed: %s", alias, f.name, orNone(aws.ToString(cur.StatusReason)))
	}
	return stage.Result{}, retry("waiting for %d provisioned executions on alias %s (status %s)", n, alias, cur.Status)
}

// aliasEventSources reconciles triggerArns on the alias.
func aliasEventSources(ctx context.Context, _ *stage.Task, f *function, s *routeSpec) (stage.Result, error) {
	alias := s.alias()
	want := s.eventSources()
	if want == nil {
		return stage.Skip(), nil
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
	return stage.Succeed().WithOutputs(map[string]any{"eventSourceMappings": jsonValue(have)}), nil
}

// aliasSubscriptions reconciles snsTopicArns on the alias.
func aliasSubscriptions(ctx context.Context, _ *stage.Task, f *function, s *routeSpec) (stage.Result, error) {
	fn, found, err := getFunction(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	if !found {
		return stage.Result{}, fail("%s does not exist; check functionName and account", f)
	}
	aliasARN := unqualifiedARN(aws.ToString(fn.Configuration.FunctionArn)) + ":" + s.alias()
	subs, err := reconcileSubscriptions(ctx, f, aliasARN, dedupe(s.SNSTopicArns.Value))
	if err != nil {
		return stage.Result{}, err
	}
	return stage.Succeed().WithOutputs(map[string]any{"snsSubscriptions": toAnyMap(subs)}), nil
}
