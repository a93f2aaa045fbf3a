package lambda

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/stage"
)

// deploySpec is the fields of an Aws.LambdaDeploymentStage: create the
// function, or bring its code and configuration to the stage's fields;
// then optionally publish a version, create aliases, reconcile event
// source mappings and prune old versions.
type deploySpec struct {
	target
	codeFields
	functionFields
	eventSourceFields
	subscriptionFields
	Publish stage.BoolField    `json:"publish" hint:"publish a version after the update"`
	Aliases stage.StringsField `json:"aliases" hint:"each alias is created or updated to $LATEST, its weights cleared (as Clouddriver does)"`
	// AliasesCreateOnly is Sluice's safer meaning of aliases, opt-in:
	// create a missing alias on the version this stage publishes, and
	// never move an existing one.
	AliasesCreateOnly               stage.BoolField   `json:"aliasesCreateOnly" hint:"Sluice: create missing aliases on the published version and never move existing ones"`
	ProvisionedConcurrentExecutions stage.IntField    `json:"provisionedConcurrentExecutions" hint:"on the published version; AWS accounts only"`
	RetainVersions                  stage.IntField    `json:"retainVersions" hint:"after publishing, keep the newest N versions (and those an alias uses)"`
	TargetGroups                    stage.StringField `json:"targetGroups"`
	EnableLambdaAtEdge              stage.BoolField   `json:"enableLambdaAtEdge"`
}

// newDeployType is Aws.LambdaDeploymentStage. Its tasks, in order (those
// in brackets only when their fields ask):
//
//	createFunction            GetFunction; CreateFunction when missing (never publishing)
//	waitActive                State Active
//	updateCode                UpdateFunctionCode when the code differs (skipped after a create)
//	waitCodeUpdated           LastUpdateStatus Successful
//	updateConfiguration       UpdateFunctionConfiguration of the fields that differ; tags; reserved concurrency
//	waitConfigurationUpdated  LastUpdateStatus Successful
//	[publishVersion]          publish: true — at most one version (publishOnce)
//	[waitPublished]           the version is Active
//	[provisionedConcurrency]  provisionedConcurrentExecutions on the published version, until READY
//	[aliases]                 each alias created or updated to $LATEST, weights cleared
//	                          (aliasesCreateOnly: created when missing on the published version, never moved)
//	[eventSources]            triggerArns on the unqualified function, by UUID (absent: none, as Orca;
//	                          skipped with leaveAbsent)
//	[snsSubscriptions]        snsTopicArns (Sluice): the function's SNS subscriptions and their permissions
//	[retainVersions]          keep the newest N versions (and any an alias uses)
//	lambdaOutput              lambdaObject: the function as Clouddriver caches it
func newDeployType(b base) stage.Type {
	publishes := (*deploySpec).publishes
	return &stageType[deploySpec, *deploySpec]{base: b, name: DeployTypeName, plan: planDeploy, tasks: []task[deploySpec]{
		{name: taskCreate, run: createFunction},
		{name: taskWaitActive, run: onFunction[deploySpec](waitActiveTask)},
		{name: taskUpdateCode, run: deployCode},
		{name: taskWaitCode, run: onFunction[deploySpec](waitUpdatedTask)},
		{name: taskUpdateConfig, run: updateConfiguration},
		{name: taskWaitConfig, run: onFunction[deploySpec](waitUpdatedTask)},
		{name: taskPublish, run: publishDeploy, when: publishes},
		{name: taskWaitPublished, run: onFunction[deploySpec](waitPublished), when: publishes},
		{name: taskProvisioned, run: provisionedConcurrency, when: func(s *deploySpec) bool {
			return s.publishes() && s.ProvisionedConcurrentExecutions.Present()
		}},
		{name: taskAliases, run: deployAliases, when: func(s *deploySpec) bool { return s.Aliases.Present() }},
		{name: taskEventSources, run: deployEventSources, when: func(s *deploySpec) bool { return s.manageEventSources() }},
		{name: taskSubscriptions, run: deploySubscriptions, when: func(s *deploySpec) bool { return s.manageSubscriptions() }},
		{name: taskRetain, run: retainVersions, when: func(s *deploySpec) bool { return s.RetainVersions.Present() }},
		{name: taskOutput, run: deployOutput},
	}}
}

// Deploy's task names.
const (
	taskCreate        = "createFunction"
	taskWaitActive    = "waitActive"
	taskUpdateCode    = "updateCode"
	taskWaitCode      = "waitCodeUpdated"
	taskUpdateConfig  = "updateConfiguration"
	taskWaitConfig    = "waitConfigurationUpdated"
	taskPublish       = "publishVersion"
	taskWaitPublished = "waitPublished"
	taskProvisioned   = "provisionedConcurrency"
	taskAliases       = "aliases"
	taskEventSources  = "eventSources"
	taskSubscriptions = "snsSubscriptions"
	taskRetain        = "retainVersions"
	ctxCreated        = "deploy:created"       // bool: createFunction created the function
	ctxVersion        = "deploy:version"       // the version publishVersion published or found
	ctxRetainDeleted  = "deploy:retainDeleted" // versions retainVersions deleted, to verify
	aliasDescription  = "Created by Sluice"
)

func (s *deploySpec) Check(c *stage.Checker) {
	s.target.check(c)
	s.codeFields.check(c)
	s.functionFields.check(c)
	s.eventSourceFields.check(c)
	s.subscriptionFields.check(c)
	checkAliasNames(c, &s.Aliases)
	c.AtLeast(&s.ProvisionedConcurrentExecutions, 0)
	c.AtLeast(&s.RetainVersions, 1)
	if pc := s.ProvisionedConcurrentExecutions; pc.Set() && pc.Value > 0 && !s.Publish.Expr() && !s.publishes() {
		c.Errorf(&s.ProvisionedConcurrentExecutions, "applies to the version this stage publishes: set publish to true")
	}
	s.checkUnsupported(c)
}

// publishes reports whether the stage publishes a version.
func (s *deploySpec) publishes() bool { return s.Publish.Value }

// checkUnsupported reports the plugin fields Sluice does not carry out,
// rather than ignoring them, and checks enableLambdaAtEdge as the plugin
// does (it only validates).
func (s *deploySpec) checkUnsupported(c *stage.Checker) {
	if strings.TrimSpace(s.TargetGroups.Value) != "" {
		c.Errorf(&s.TargetGroups, "registering the function with an ALB target group is not supported by Sluice; leave targetGroups empty and register it outside the pipeline")
	}
	if !s.EnableLambdaAtEdge.Value {
		return
	}
	const edge = "(enableLambdaAtEdge is true)"
	if len(s.EnvVariables.Value) > 0 {
		c.Errorf(&s.EnvVariables, "Lambda@Edge functions cannot have environment variables %s", edge)
	}
	if n := s.Timeout.Value; n > 5 {
		c.Errorf(&s.Timeout, "Lambda@Edge viewer functions allow at most 5 seconds, not %d %s", n, edge)
	}
	if n := s.MemorySize.Value; n > 128 {
		c.Errorf(&s.MemorySize, "Lambda@Edge viewer functions allow at most 128 MB, not %d %s", n, edge)
	}
	if r := s.Region.Value; r != "" && r != "us-east-1" {
		c.Errorf(&s.Region, "Lambda@Edge functions are created in us-east-1, not %s %s", r, edge)
	}
	for _, f := range []*stage.StringsField{&s.SubnetIDs, &s.SecurityGroupIDs} {
		if len(f.Value) > 0 {
			c.Errorf(f, "Lambda@Edge functions cannot be in a VPC %s", edge)
		}
	}
}

// checkAliasNames checks a list of alias names.
func checkAliasNames(c *stage.Checker, f *stage.StringsField) {
	for i, n := range f.Value {
		if !aliasNamePattern().MatchString(n) || isVersionNumber(n) || n == "$LATEST" {
			c.Add(stage.FieldError{Field: fmt.Sprintf("%s[%d]", f.Path(), i),
				Msg: fmt.Sprintf("%q is not an alias name: use letters, digits, '-' and '_' (not only digits), at most 128", n)})
		}
	}
}

// createFunction creates the function when it does not exist yet,
// without publishing: publishVersion publishes, once.
func createFunction(ctx context.Context, t *stage.Task, f *function, s *deploySpec) (stage.Result, error) {
	if err := s.refuseImageOnLocal(f); err != nil {
		return stage.Result{}, err
	}
	out, found, err := getFunction(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	if found {
		return stage.Succeed().
			WithContext(map[string]any{ctxCreated: false}).
			WithOutputs(functionOutputs(out.Configuration)).
			WithOutputs(map[string]any{"lambdaCreated": false, "originalRevisionId": aws.ToString(out.Configuration.RevisionId),
				"lambdaAliasesUpdated": false}), nil
	}
	code, err := s.source(boundOrEmpty(t.Artifacts))
	if err != nil {
		return stage.Result{}, err
	}
	if err := code.prepare(ctx, f); err != nil {
		return stage.Result{}, err
	}
	in, err := s.createInput(f.name, code)
	if err != nil {
		return stage.Result{}, err
	}
	c, err := f.c.CreateFunction(ctx, in)
	if err != nil {
		return stage.Result{}, apiError(f, "CreateFunction", err)
	}
	return stage.Succeed().
		WithContext(map[string]any{ctxCreated: true}).
		WithOutputs(functionOutputs(&types.FunctionConfiguration{FunctionName: c.FunctionName, FunctionArn: c.FunctionArn})).
		WithOutputs(map[string]any{"lambdaCreated": true, "lambdaAliasesUpdated": false}), nil
}

// waitActiveTask waits until the function is Active.
func waitActiveTask(ctx context.Context, _ *stage.Task, f *function) (stage.Result, error) {
	c, err := waitActive(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	return stage.Succeed().WithOutputs(functionOutputs(c)), nil
}

// deployCode brings the function's code to the stage's, unless
// createFunction just created it with that code.
func deployCode(ctx context.Context, t *stage.Task, f *function, s *deploySpec) (stage.Result, error) {
	if created, _ := t.Context[ctxCreated].(bool); created {
		return stage.Succeed(), nil // CreateFunction took the code
	}
	if err := s.refuseImageOnLocal(f); err != nil {
		return stage.Result{}, err
	}
	code, err := s.source(boundOrEmpty(t.Artifacts))
	if err != nil {
		return stage.Result{}, err
	}
	if err := code.prepare(ctx, f); err != nil {
		return stage.Result{}, err
	}
	if code == nil {
		if s.Architectures.Present() {
			return stage.Result{}, fail("architectures changes only together with new code: set s3bucket and s3key (or codeArtifact, zipFile, imageUri)")
		}
		return stage.Succeed(), nil
	}
	sent, err := updateCode(ctx, f, code, architectures(&s.Architectures))
	return stage.Succeed().WithOutputs(map[string]any{"lambdaCodeUpdated": sent}), err
}

// waitUpdatedTask waits until the function's last update is done.
func waitUpdatedTask(ctx context.Context, _ *stage.Task, f *function) (stage.Result, error) {
	c, err := waitUpdated(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	return stage.Succeed().WithOutputs(functionOutputs(c)).WithOutputs(map[string]any{"revisionId": aws.ToString(c.RevisionId)}), nil
}

// publishDeploy publishes a version with the stage's description.
func publishDeploy(ctx context.Context, t *stage.Task, f *function, s *deploySpec) (stage.Result, error) {
	return publishVersion(ctx, f, optString(&s.Description))
}

// publishVersion publishes $LATEST, at most once per change (publishOnce),
// and records the version for the tasks after it.
func publishVersion(ctx context.Context, f *function, description *string) (stage.Result, error) {
	v, published, err := publishOnce(ctx, f, description)
	if err != nil {
		return stage.Result{}, err
	}
	// Said where people look, not only in the outputs: a deploy that
	// published nothing succeeded without a new version.
	progress := "published version " + v
	if !published {
		progress = "published no new version: the code and configuration are those of version " + v
	}
	return stage.Succeed().
		WithContext(map[string]any{ctxVersion: v, stage.ProgressKey: progress}).
		WithOutputs(map[string]any{"versionId": v, "lambdaVersionPublished": published}), nil
}

// waitPublished waits until the version publishVersion recorded is Active.
func waitPublished(ctx context.Context, t *stage.Task, f *function) (stage.Result, error) {
	v := ctxString(t, ctxVersion)
	if v == "" {
		return stage.Result{}, fail("task %s found no version recorded by %s; restart the stage", taskWaitPublished, taskPublish)
	}
	c, err := waitVersionActive(ctx, f, v)
	if err != nil {
		return stage.Result{}, err
	}
	return stage.Succeed().WithOutputs(functionOutputs(c)).WithOutputs(map[string]any{"versionId": v}), nil
}

// updateConfiguration sends the configuration fields that differ, then
// reconciles tags and reserved concurrency. Run again, it finds nothing
// left to do.
func updateConfiguration(ctx context.Context, t *stage.Task, f *function, s *deploySpec) (stage.Result, error) {
	out, err := readyForUpdate(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	c := out.Configuration
	arn := unqualifiedARN(aws.ToString(c.FunctionArn))
	changed := []string{}
	if in, fields := s.configUpdate(f.name, c); in != nil {
		names := fieldNames(fields)
		if _, err := f.c.UpdateFunctionConfiguration(ctx, in); err != nil {
			return stage.Result{}, apiError(f, fmt.Sprintf("UpdateFunctionConfiguration (%s)", strings.Join(names, ", ")), err)
		}
		changed = append(changed, names...)
	}
	set, remove := s.tagChanges(out.Tags)
	if len(remove) > 0 {
		if _, err := f.c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(arn), TagKeys: remove}); err != nil {
			return stage.Result{}, apiError(f, "UntagResource", err)
		}
	}
	if len(set) > 0 {
		if _, err := f.c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn), Tags: set}); err != nil {
			return stage.Result{}, apiError(f, "TagResource", err)
		}
	}
	if len(remove)+len(set) > 0 {
		changed = append(changed, "tags")
	}
	var have *int32
	if out.Concurrency != nil {
		have = out.Concurrency.ReservedConcurrentExecutions
	}
	if change, want := s.concurrencyChange(have); change {
		if want == nil {
			if _, err := f.c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String(f.name)}); err != nil {
				return stage.Result{}, apiError(f, "DeleteFunctionConcurrency", err)
			}
		} else if _, err := f.c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
			FunctionName: aws.String(f.name), ReservedConcurrentExecutions: want}); err != nil {
			return stage.Result{}, apiError(f, fmt.Sprintf("PutFunctionConcurrency (reservedConcurrentExecutions %d)", *want), err)
		}
		changed = append(changed, "reservedConcurrentExecutions")
	}
	// lambdaConfigUpdated is Orca's: true when the stage updated an existing
	// function's configuration (Orca sends the update on every such
	// deploy), false when it created the function.
	created, _ := t.Context[ctxCreated].(bool)
	return stage.Succeed().WithOutputs(map[string]any{"lambdaConfigurationChanged": toAnyList(changed), "lambdaConfigUpdated": !created}), nil
}

// provisionedConcurrency sets provisionedConcurrentExecutions on the
// published version and waits until it is READY; 0 removes it.
func provisionedConcurrency(ctx context.Context, t *stage.Task, f *function, s *deploySpec) (stage.Result, error) {
	v := ctxString(t, ctxVersion)
	if v == "" {
		return stage.Result{}, fail("provisionedConcurrentExecutions applies to the version this stage publishes: set publish to true")
	}
	n := s.ProvisionedConcurrentExecutions.Value
	q := aws.String(v)
	if n == 0 {
		_, err := f.c.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{FunctionName: aws.String(f.name), Qualifier: q})
		if err != nil && !isNotFound(err) && !isNoPCConfig(err) {
			return stage.Result{}, apiError(f, "DeleteProvisionedConcurrencyConfig", err)
		}
		return stage.Succeed(), nil
	}
	cur, err := f.c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String(f.name), Qualifier: q})
	if err != nil && !isNoPCConfig(err) {
		return stage.Result{}, apiError(f, "GetProvisionedConcurrencyConfig", err)
	}
	if err != nil || aws.ToInt32(cur.RequestedProvisionedConcurrentExecutions) != int32(n) {
		if _, err := f.c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(f.name), Qualifier: q, ProvisionedConcurrentExecutions: aws.Int32(int32(n))}); err != nil {
			return stage.Result{}, apiError(f, fmt.Sprintf("PutProvisionedConcurrencyConfig (version %s, %d)", v, n), err)
		}
		return stage.Result{}, retry("waiting for provisioned concurrency %d on version %s of %s", n, v, f)
	}
	switch cur.Status {
	case types.ProvisionedConcurrencyStatusEnumReady:
		return stage.Succeed().WithOutputs(map[string]any{"provisionedConcurrentExecutions": n}), nil
	case types.ProvisionedConcurrencyStatusEnumFailed:
		return stage.Result{}, fail("provisioned concurrency %d on version %s of %s failed: %s", n, v, f, orNone(aws.ToString(cur.StatusReason)))
	}
	return stage.Result{}, retry("waiting for provisioned concurrency %d on version %s of %s: status %s", n, v, f, cur.Status)
}

// deployAliases does what Clouddriver does with a Deploy stage's aliases
// (Orca's LambdaUpdateAliasesTask, Clouddriver's
// UpsertLambdaAliasAtomicOperation): each listed alias is created, or
// updated, to point at $LATEST with no routing weights. With
// aliasesCreateOnly it creates missing aliases instead (createAliases).
func deployAliases(ctx context.Context, t *stage.Task, f *function, s *deploySpec) (stage.Result, error) {
	if s.AliasesCreateOnly.Value {
		return createAliases(ctx, t, f, s)
	}
	created, updated, unchanged := []any{}, []any{}, []any{}
	for _, name := range dedupe(s.Aliases.Value) {
		a, err := f.c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(f.name), Name: aws.String(name)})
		switch {
		case err == nil:
			weighted := a.RoutingConfig != nil && len(a.RoutingConfig.AdditionalVersionWeights) > 0
			if aws.ToString(a.FunctionVersion) == "$LATEST" && !weighted {
				unchanged = append(unchanged, name)
				continue
			}
			if _, err := f.c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(f.name), Name: aws.String(name),
				FunctionVersion: aws.String("$LATEST"), RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}},
				RevisionId: a.RevisionId}); err != nil {
				return stage.Result{}, apiError(f, fmt.Sprintf("UpdateAlias %s → $LATEST", name), err)
			}
			entry := map[string]any{"alias": name, "functionVersion": aws.ToString(a.FunctionVersion)}
			if weighted {
				entry["additionalVersionWeights"] = toAnyFloatMap(a.RoutingConfig.AdditionalVersionWeights)
			}
			updated = append(updated, entry)
		case isNotFound(err):
			if _, err := f.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(f.name), Name: aws.String(name),
				FunctionVersion: aws.String("$LATEST"), Description: aws.String(aliasDescription)}); err != nil {
				return stage.Result{}, apiError(f, fmt.Sprintf("CreateAlias %s → $LATEST", name), err)
			}
			created = append(created, name)
		default:
			return stage.Result{}, apiError(f, "GetAlias "+name, err)
		}
	}
	return stage.Succeed().WithOutputs(map[string]any{
		"lambdaAliasesUpdated": true,
		"aliasesCreated":       created,
		"aliasesUpdated":       updated,
		"aliasesUnchanged":     unchanged,
	}), nil
}

// createAliases is aliases with aliasesCreateOnly: it creates each
// missing alias on the published version (or $LATEST without publish). An
// alias that exists is never moved: it is reported as unchanged when it
// already routes there, else as left alone with the version it routes to.
func createAliases(ctx context.Context, t *stage.Task, f *function, s *deploySpec) (stage.Result, error) {
	target := ctxString(t, ctxVersion)
	if target == "" {
		target = "$LATEST"
	}
	created, unchanged, leftAlone := []any{}, []any{}, []any{}
	for _, name := range dedupe(s.Aliases.Value) {
		a, err := f.c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(f.name), Name: aws.String(name)})
		switch {
		case err == nil:
			routed := aws.ToString(a.FunctionVersion)
			weighted := a.RoutingConfig != nil && len(a.RoutingConfig.AdditionalVersionWeights) > 0
			if routed == target && !weighted {
				unchanged = append(unchanged, name)
				continue
			}
			entry := map[string]any{"alias": name, "functionVersion": routed, "wanted": target}
			if weighted {
				entry["additionalVersionWeights"] = toAnyFloatMap(a.RoutingConfig.AdditionalVersionWeights)
			}
			leftAlone = append(leftAlone, entry)
		case isNotFound(err):
			if _, err := f.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(f.name), Name: aws.String(name),
				FunctionVersion: aws.String(target), Description: aws.String(aliasDescription)}); err != nil {
				return stage.Result{}, apiError(f, fmt.Sprintf("CreateAlias %s → %s", name, target), err)
			}
			created = append(created, name)
		default:
			return stage.Result{}, apiError(f, "GetAlias "+name, err)
		}
	}
	return stage.Succeed().WithOutputs(map[string]any{
		"lambdaAliasesUpdated": len(created) > 0,
		"aliasesCreated":       created,
		"aliasesUnchanged":     unchanged,
		"aliasesLeftAlone":     leftAlone,
	}), nil
}

// deployEventSources reconciles triggerArns on the unqualified function.
func deployEventSources(ctx context.Context, _ *stage.Task, f *function, s *deploySpec) (stage.Result, error) {
	want := s.eventSources()
	if want == nil {
		return stage.Succeed(), nil // triggerArns: null
	}
	out, found, err := getFunction(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	if !found {
		return stage.Result{}, fail("%s does not exist (was it deleted while the stage ran?)", f)
	}
	mappings, err := reconcileEventSources(ctx, f, unqualifiedARN(aws.ToString(out.Configuration.FunctionArn)), want)
	if err != nil {
		return stage.Result{}, err
	}
	return stage.Succeed().WithOutputs(map[string]any{"eventSourceMappings": toAnyMap(mappings)}), nil
}

// deploySubscriptions reconciles snsTopicArns on the unqualified function.
func deploySubscriptions(ctx context.Context, _ *stage.Task, f *function, s *deploySpec) (stage.Result, error) {
	out, found, err := getFunction(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	if !found {
		return stage.Result{}, fail("%s does not exist (was it deleted while the stage ran?)", f)
	}
	subs, err := reconcileSubscriptions(ctx, f, unqualifiedARN(aws.ToString(out.Configuration.FunctionArn)), dedupe(s.SNSTopicArns.Value))
	if err != nil {
		return stage.Result{}, err
	}
	return stage.Succeed().WithOutputs(map[string]any{"snsSubscriptions": toAnyMap(subs)}), nil
}

// retainVersions deletes published versions older than the newest
// retainVersions, except versions an alias routes to, and verifies each
// deletion before it succeeds.
func retainVersions(ctx context.Context, t *stage.Task, f *function, s *deploySpec) (stage.Result, error) {
	keep := s.RetainVersions.Value
	if !s.RetainVersions.Set() || keep < 1 {
		return stage.Result{}, fail("retainVersions must be at least 1, not %d", keep)
	}
	versions, found, err := publishedVersions(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	if !found {
		return stage.Result{}, fail("%s does not exist (was it deleted while the stage ran?)", f)
	}
	use, err := aliasUsage(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	deleted := anyStrings(t.Context[ctxRetainDeleted])
	var kept []any
	var now []string
	for i := len(versions) - 1 - int(keep); i >= 0; i-- {
		v := strconv.Itoa(versions[i])
		if aliases := use[v]; len(aliases) > 0 {
			kept = append(kept, map[string]any{"version": v, "aliases": toAnyList(aliases)})
			continue
		}
		if _, err := deleteVersion(ctx, f, v); err != nil {
			return stage.Result{}.WithContext(map[string]any{ctxRetainDeleted: toAnyList(append(deleted, now...))}), err
		}
		now = append(now, v)
	}
	deleted = append(deleted, now...)
	res := stage.Succeed().
		WithContext(map[string]any{ctxRetainDeleted: toAnyList(deleted)}).
		WithOutputs(map[string]any{"versionsDeleted": toAnyList(deleted), "versionsKeptForAliases": kept})
	if len(now) > 0 {
		return res, retry("deleted versions %s of %s; verifying", strings.Join(now, ", "), f)
	}
	for _, v := range deleted {
		gone, err := versionGone(ctx, f, v)
		if err != nil {
			return res, err
		}
		if !gone {
			return res, retry("version %s of %s still exists after its deletion", v, f)
		}
	}
	return res, nil
}
