package lambda

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/stage"
)

// DeployType is Aws.LambdaDeploymentStage: create the function, or bring
// its code and configuration to the stage's fields; then optionally
// publish a version, create aliases, reconcile event source mappings and
// prune old versions.
//
// Tasks, in order (those in brackets only when their fields ask):
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
//	[aliases]                 aliases created when missing, never moved
//	[eventSources]            triggerArns on the unqualified function, by UUID
//	[retainVersions]          keep the newest N versions (and any an alias uses)
type DeployType struct{ base }

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
	taskRetain        = "retainVersions"
	ctxCreated        = "deploy:created"       // bool: createFunction created the function
	ctxVersion        = "deploy:version"       // the version publishVersion published or found
	ctxRetainDeleted  = "deploy:retainDeleted" // versions retainVersions deleted, to verify
	aliasDescription  = "Created by Sluice"
)

func (*DeployType) Name() string { return DeployTypeName }

var deploySpecs = []fieldSpec{
	{name: "publish", kind: kindBool, hint: "publish a version after the update"},
	{name: "aliases", kind: kindStringList, hint: "aliases to create when missing; existing aliases are never moved"},
	{name: "provisionedConcurrentExecutions", kind: kindInt, min: 0, hint: "on the published version; AWS accounts only"},
	{name: "retainVersions", kind: kindInt, min: 1, hint: "after publishing, keep the newest N versions (and those an alias uses)"},
	{name: "targetGroups", kind: kindString},
	{name: "enableLambdaAtEdge", kind: kindBool},
}

func (*DeployType) Validate(fields map[string]any) []stage.FieldError {
	var errs []stage.FieldError
	for _, specs := range [][]fieldSpec{commonSpecs, codeFieldSpecs, functionSpecs, eventSourceSpecs, deploySpecs} {
		errs = append(errs, validateSpecs(fields, specs, "")...)
	}
	errs = append(errs, validateArtifact(fields, "codeArtifact")...)
	errs = append(errs, validateEventSources(fields)...)
	errs = append(errs, validateAliases(fields, "aliases")...)
	errs = append(errs, validateCodeSource(fields)...)
	errs = append(errs, validateUnsupported(fields)...)
	if n, ok, err := integer(fields, "provisionedConcurrentExecutions"); err == nil && ok && n > 0 && !containsExpression(fields["publish"]) {
		if p, _ := boolean(fields, "publish", false); !p {
			errs = append(errs, stage.FieldError{Field: "provisionedConcurrentExecutions",
				Msg: "applies to the version this stage publishes: set publish to true"})
		}
	}
	return errs
}

// validateUnsupported reports the plugin fields Sluice does not carry out,
// rather than ignoring them, and checks enableLambdaAtEdge as the plugin
// does (it only validates).
func validateUnsupported(fields map[string]any) []stage.FieldError {
	var errs []stage.FieldError
	if tg, _, _ := str(fields, "targetGroups"); strings.TrimSpace(tg) != "" && !containsExpression(tg) {
		errs = append(errs, stage.FieldError{Field: "targetGroups",
			Msg: "registering the function with an ALB target group is not supported by Sluice; leave targetGroups empty and register it outside the pipeline"})
	}
	if edge, _ := boolean(fields, "enableLambdaAtEdge", false); edge {
		if env, _, _ := stringMap(fields, "envVariables"); len(env) > 0 {
			errs = append(errs, stage.FieldError{Field: "envVariables", Msg: "Lambda@Edge functions cannot have environment variables (enableLambdaAtEdge is true)"})
		}
		if n, ok, _ := integer(fields, "timeout"); ok && n > 5 {
			errs = append(errs, stage.FieldError{Field: "timeout", Msg: fmt.Sprintf("Lambda@Edge viewer functions allow at most 5 seconds, not %d (enableLambdaAtEdge is true)", n)})
		}
		if n, ok, _ := integer(fields, "memorySize"); ok && n > 128 {
			errs = append(errs, stage.FieldError{Field: "memorySize", Msg: fmt.Sprintf("Lambda@Edge viewer functions allow at most 128 MB, not %d (enableLambdaAtEdge is true)", n)})
		}
		if r, _, _ := str(fields, "region"); r != "" && r != "us-east-1" {
			errs = append(errs, stage.FieldError{Field: "region", Msg: fmt.Sprintf("Lambda@Edge functions are created in us-east-1, not %s (enableLambdaAtEdge is true)", r)})
		}
		for _, k := range []string{"subnetIds", "securityGroupIds"} {
			if l, _, _ := stringList(fields, k); len(l) > 0 {
				errs = append(errs, stage.FieldError{Field: k, Msg: "Lambda@Edge functions cannot be in a VPC (enableLambdaAtEdge is true)"})
			}
		}
	}
	return errs
}

// validateCodeSource reports code fields that cannot work together.
func validateCodeSource(fields map[string]any) []stage.FieldError {
	for _, k := range []string{"s3bucket", "s3key", "zipFile", "imageUri", "ImageUri", "codeArtifact"} {
		if containsExpression(fields[k]) {
			return nil
		}
	}
	if _, err := readCode(fields); err != nil {
		field := "s3key"
		switch {
		case strings.Contains(err.Error(), "one way"):
			field = "s3bucket"
		case strings.HasPrefix(err.Error(), "codeArtifact"):
			field = "codeArtifact"
		}
		return []stage.FieldError{{Field: field, Msg: err.Error()}}
	}
	return nil
}

// validateAliases checks alias names.
func validateAliases(fields map[string]any, key string) []stage.FieldError {
	names, _, err := stringList(fields, key)
	if err != nil || containsExpression(fields[key]) {
		return nil
	}
	var errs []stage.FieldError
	for i, n := range names {
		if !aliasNamePattern.MatchString(n) || isVersionNumber(n) || n == "$LATEST" {
			errs = append(errs, stage.FieldError{Field: fmt.Sprintf("%s[%d]", key, i),
				Msg: fmt.Sprintf("%q is not an alias name: use letters, digits, '-' and '_' (not only digits), at most 128", n)})
		}
	}
	return errs
}

func (*DeployType) Tasks(ctx map[string]any) []string {
	tasks := []string{taskCreate, taskWaitActive, taskUpdateCode, taskWaitCode, taskUpdateConfig, taskWaitConfig}
	if p, _ := boolean(ctx, "publish", false); p {
		tasks = append(tasks, taskPublish, taskWaitPublished)
		if _, ok := ctx["provisionedConcurrentExecutions"]; ok {
			tasks = append(tasks, taskProvisioned)
		}
	}
	if _, ok := ctx["aliases"]; ok {
		tasks = append(tasks, taskAliases)
	}
	if _, ok := ctx["triggerArns"]; ok {
		tasks = append(tasks, taskEventSources)
	}
	if _, ok := ctx["retainVersions"]; ok {
		tasks = append(tasks, taskRetain)
	}
	return tasks
}

func (d *DeployType) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	res := stage.Result{Context: map[string]any{}, Outputs: map[string]any{}}
	err := d.run(ctx, t, &res)
	return result(ctx, t, res, err)
}

func (d *DeployType) run(ctx context.Context, t *stage.Task, res *stage.Result) error {
	f, err := d.function(t)
	if err != nil {
		return err
	}
	spec, err := readFunctionSpec(t.Context)
	if err != nil {
		return err
	}
	if errs := validateUnsupported(t.Context); len(errs) > 0 {
		return fail("%s", errs[0])
	}
	if spec.code != nil && spec.code.imageURI != "" && f.acct.Local {
		return fail("imageUri: container images are not supported by the local Lambda (account local); deploy a .zip with s3bucket/s3key, or use an AWS account")
	}
	switch t.Name {
	case taskCreate:
		return createFunction(ctx, f, spec, res)
	case taskWaitActive:
		c, err := waitActive(ctx, f)
		if err != nil {
			return err
		}
		maps.Copy(res.Outputs, functionOutputs(c))
		return nil
	case taskUpdateCode:
		if created, _ := t.Context[ctxCreated].(bool); created {
			return nil // CreateFunction took the code
		}
		if spec.code == nil {
			if spec.archSet {
				return fail("architectures changes only together with new code: set s3bucket and s3key (or codeArtifact, zipFile, imageUri)")
			}
			return nil
		}
		sent, err := updateCode(ctx, f, spec.code, spec.arch)
		res.Outputs["lambdaCodeUpdated"] = sent
		return err
	case taskWaitCode, taskWaitConfig:
		c, err := waitUpdated(ctx, f)
		if err != nil {
			return err
		}
		res.Outputs["revisionId"] = aws.ToString(c.RevisionId)
		return nil
	case taskUpdateConfig:
		return updateConfiguration(ctx, f, spec, res)
	case taskPublish:
		v, published, err := publishOnce(ctx, f, spec.description)
		if err != nil {
			return err
		}
		res.Context[ctxVersion] = v
		res.Outputs["versionId"] = v
		res.Outputs["lambdaVersionPublished"] = published
		return nil
	case taskWaitPublished:
		v := ctxString(t, ctxVersion)
		if v == "" {
			return fail("task %s found no version recorded by %s; restart the stage", taskWaitPublished, taskPublish)
		}
		c, err := waitVersionActive(ctx, f, v)
		if err != nil {
			return err
		}
		maps.Copy(res.Outputs, functionOutputs(c))
		res.Outputs["versionId"] = v
		return nil
	case taskProvisioned:
		return provisionedConcurrency(ctx, t, f, res)
	case taskAliases:
		return createAliases(ctx, t, f, res)
	case taskEventSources:
		want, ok, err := readEventSources(t.Context)
		if err != nil || !ok {
			return err
		}
		out, found, err := getFunction(ctx, f)
		if err != nil {
			return err
		}
		if !found {
			return fail("%s does not exist (was it deleted while the stage ran?)", f)
		}
		target := unqualifiedARN(aws.ToString(out.Configuration.FunctionArn))
		mappings, err := reconcileEventSources(ctx, f, target, want)
		if err != nil {
			return err
		}
		res.Outputs["eventSourceMappings"] = toAnyMap(mappings)
		return nil
	case taskRetain:
		return retainVersions(ctx, t, f, res)
	}
	return fail("%s has no task %q", DeployTypeName, t.Name)
}

func createFunction(ctx context.Context, f *function, spec *functionSpec, res *stage.Result) error {
	out, found, err := getFunction(ctx, f)
	if err != nil {
		return err
	}
	if found {
		res.Context[ctxCreated] = false
		maps.Copy(res.Outputs, functionOutputs(out.Configuration))
		res.Outputs["lambdaCreated"] = false
		res.Outputs["originalRevisionId"] = aws.ToString(out.Configuration.RevisionId)
		return nil
	}
	in, err := spec.createInput(f.name)
	if err != nil {
		return err
	}
	c, err := f.c.CreateFunction(ctx, in)
	if err != nil {
		return apiError(f, "CreateFunction", err)
	}
	res.Context[ctxCreated] = true
	maps.Copy(res.Outputs, functionOutputs(&types.FunctionConfiguration{
		FunctionName: c.FunctionName, FunctionArn: c.FunctionArn}))
	res.Outputs["lambdaCreated"] = true
	return nil
}

// updateConfiguration sends the configuration fields that differ, then
// reconciles tags and reserved concurrency. Run again, it finds nothing
// left to do.
func updateConfiguration(ctx context.Context, f *function, spec *functionSpec, res *stage.Result) error {
	out, err := readyForUpdate(ctx, f)
	if err != nil {
		return err
	}
	c := out.Configuration
	arn := unqualifiedARN(aws.ToString(c.FunctionArn))
	changed := []string{}
	if in, fields := spec.configUpdate(f.name, c); in != nil {
		if _, err := f.c.UpdateFunctionConfiguration(ctx, in); err != nil {
			return apiError(f, fmt.Sprintf("UpdateFunctionConfiguration (%s)", strings.Join(fields, ", ")), err)
		}
		changed = append(changed, fields...)
	}
	if spec.tagsSet {
		var remove []string
		for k := range out.Tags {
			if _, keep := spec.tags[k]; !keep && !strings.HasPrefix(k, "aws:") {
				remove = append(remove, k)
			}
		}
		set := map[string]string{}
		for k, v := range spec.tags {
			if have, ok := out.Tags[k]; !ok || have != v {
				set[k] = v
			}
		}
		if len(remove) > 0 {
			slices.Sort(remove)
			if _, err := f.c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(arn), TagKeys: remove}); err != nil {
				return apiError(f, "UntagResource", err)
			}
		}
		if len(set) > 0 {
			if _, err := f.c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn), Tags: set}); err != nil {
				return apiError(f, "TagResource", err)
			}
		}
		if len(remove)+len(set) > 0 {
			changed = append(changed, "tags")
		}
	}
	if spec.reservedSet {
		var have *int32
		if out.Concurrency != nil {
			have = out.Concurrency.ReservedConcurrentExecutions
		}
		switch {
		case spec.reserved == nil && have != nil:
			if _, err := f.c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String(f.name)}); err != nil {
				return apiError(f, "DeleteFunctionConcurrency", err)
			}
			changed = append(changed, "reservedConcurrentExecutions")
		case spec.reserved != nil && (have == nil || *have != *spec.reserved):
			if _, err := f.c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
				FunctionName: aws.String(f.name), ReservedConcurrentExecutions: spec.reserved}); err != nil {
				return apiError(f, fmt.Sprintf("PutFunctionConcurrency (reservedConcurrentExecutions %d)", *spec.reserved), err)
			}
			changed = append(changed, "reservedConcurrentExecutions")
		}
	}
	res.Outputs["lambdaConfigurationChanged"] = toAnyList(changed)
	return nil
}

// provisionedConcurrency sets provisionedConcurrentExecutions on the
// published version and waits until it is READY; 0 removes it.
func provisionedConcurrency(ctx context.Context, t *stage.Task, f *function, res *stage.Result) error {
	v := ctxString(t, ctxVersion)
	if v == "" {
		return fail("provisionedConcurrentExecutions applies to the version this stage publishes: set publish to true")
	}
	n, _, err := integer(t.Context, "provisionedConcurrentExecutions")
	if err != nil {
		return fail("provisionedConcurrentExecutions %v", err)
	}
	q := aws.String(v)
	if n == 0 {
		_, err := f.c.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{FunctionName: aws.String(f.name), Qualifier: q})
		if err != nil && !isNotFound(err) && !isNoPCConfig(err) {
			return apiError(f, "DeleteProvisionedConcurrencyConfig", err)
		}
		return nil
	}
	cur, err := f.c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String(f.name), Qualifier: q})
	if err != nil && !isNoPCConfig(err) {
		return apiError(f, "GetProvisionedConcurrencyConfig", err)
	}
	if err != nil || aws.ToInt32(cur.RequestedProvisionedConcurrentExecutions) != int32(n) {
		if _, err := f.c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(f.name), Qualifier: q, ProvisionedConcurrentExecutions: aws.Int32(int32(n))}); err != nil {
			return apiError(f, fmt.Sprintf("PutProvisionedConcurrencyConfig (version %s, %d)", v, n), err)
		}
		return retry("waiting for provisioned concurrency %d on version %s of %s", n, v, f)
	}
	switch cur.Status {
	case types.ProvisionedConcurrencyStatusEnumReady:
		res.Outputs["provisionedConcurrentExecutions"] = n
		return nil
	case types.ProvisionedConcurrencyStatusEnumFailed:
		return fail("provisioned concurrency %d on version %s of %s failed: %s", n, v, f, orNone(aws.ToString(cur.StatusReason)))
	}
	return retry("waiting for provisioned concurrency %d on version %s of %s: status %s", n, v, f, cur.Status)
}

// isNoPCConfig reports AWS's "no provisioned concurrency configuration"
// (a ProvisionedConcurrencyConfigNotFoundException).
func isNoPCConfig(err error) bool {
	var nf *types.ProvisionedConcurrencyConfigNotFoundException
	return isNotFound(err) || errors.As(err, &nf)
}

// createAliases creates each missing alias on the published version (or
// $LATEST without publish, as the plugin does). An alias that exists is
// never moved: it is reported as unchanged when it already routes there,
// else as left alone with the version it routes to.
func createAliases(ctx context.Context, t *stage.Task, f *function, res *stage.Result) error {
	names, _, err := stringList(t.Context, "aliases")
	if err != nil {
		return fail("%v", err)
	}
	target := ctxString(t, ctxVersion)
	if target == "" {
		target = "$LATEST"
	}
	created, unchanged, leftAlone := []any{}, []any{}, []any{}
	for _, name := range dedupe(names) {
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
				return apiError(f, fmt.Sprintf("CreateAlias %s → %s", name, target), err)
			}
			created = append(created, name)
		default:
			return apiError(f, "GetAlias "+name, err)
		}
	}
	res.Outputs["aliasesCreated"] = created
	res.Outputs["aliasesUnchanged"] = unchanged
	res.Outputs["aliasesLeftAlone"] = leftAlone
	return nil
}

// retainVersions deletes published versions older than the newest
// retainVersions, except versions an alias routes to, and verifies each
// deletion before it succeeds.
func retainVersions(ctx context.Context, t *stage.Task, f *function, res *stage.Result) error {
	keep, _, err := integer(t.Context, "retainVersions")
	if err != nil {
		return fail("retainVersions %v", err)
	}
	if keep < 1 {
		return fail("retainVersions must be at least 1, not %d", keep)
	}
	versions, found, err := publishedVersions(ctx, f)
	if err != nil {
		return err
	}
	if !found {
		return fail("%s does not exist (was it deleted while the stage ran?)", f)
	}
	use, err := aliasUsage(ctx, f)
	if err != nil {
		return err
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
			res.Context[ctxRetainDeleted] = toAnyList(append(deleted, now...))
			return err
		}
		now = append(now, v)
	}
	deleted = append(deleted, now...)
	res.Context[ctxRetainDeleted] = toAnyList(deleted)
	res.Outputs["versionsDeleted"] = toAnyList(deleted)
	res.Outputs["versionsKeptForAliases"] = kept
	if len(now) > 0 {
		return retry("deleted versions %s of %s; verifying", strings.Join(now, ", "), f)
	}
	for _, v := range deleted {
		gone, err := versionGone(ctx, f, v)
		if err != nil {
			return err
		}
		if !gone {
			return retry("version %s of %s still exists after its deletion", v, f)
		}
	}
	return nil
}

func toAnyList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func toAnyFloatMap(m map[string]float64) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// anyStrings reads a list of strings a task recorded in the context.
func anyStrings(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = append(out, x...)
	}
	return out
}
