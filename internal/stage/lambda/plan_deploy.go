package lambda

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/stage"
)

// The plans of Aws.LambdaDeploymentStage and Aws.LambdaUpdateCodeStage
// (see plan.go).

// planDeploy plans an Aws.LambdaDeploymentStage.
func planDeploy(ctx context.Context, in *stage.PlanInput, f *function, s *deploySpec, p *apitype.StagePlan) error {
	if err := s.refuseImageOnLocal(f); err != nil {
		return err
	}
	// A run's bound artifacts exist only once it is triggered: code
	// named by an expected artifact's id cannot be planned.
	code, err := s.source(nil)
	if err != nil {
		return err
	}
	if err := code.prepare(ctx, f); err != nil {
		return err
	}
	out, found, err := getFunction(ctx, f)
	if err != nil {
		return err
	}
	if !found {
		return planCreate(ctx, f, s, code, p)
	}
	c := out.Configuration
	codeChanged, codeCertain, err := planCode(ctx, f, p, out, code, &s.Architectures)
	if err != nil {
		return err
	}
	_, fields := s.configUpdate(f.name, c)
	published := false // a field a published version copies changes
	for _, fc := range fields {
		change(p, apitype.ChangeModify, fc.Field, fc.Old, fc.New, "")
		published = published || fc.Field != "description"
	}
	set, remove := s.tagChanges(out.Tags)
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if old, ok := out.Tags[k]; ok {
			change(p, apitype.ChangeModify, "tags."+k, old, set[k], "")
		} else {
			change(p, apitype.ChangeAdd, "tags."+k, nil, set[k], "")
		}
	}
	for _, k := range remove {
		change(p, apitype.ChangeRemove, "tags."+k, out.Tags[k], nil, "")
	}
	var have *int32
	if out.Concurrency != nil {
		have = out.Concurrency.ReservedConcurrentExecutions
	}
	if ch, want := s.concurrencyChange(have); ch {
		if want == nil {
			change(p, apitype.ChangeRemove, "reservedConcurrentExecutions", *have, nil, "the reservation is deleted (the stage leaves the field out; leaveAbsent keeps it)")
		} else {
			change(p, apitype.ChangeModify, "reservedConcurrentExecutions", orUnset(have), *want, "")
		}
	}
	if s.TriggerArns.Expr() {
		p.Notes = append(p.Notes, "event source mappings: triggerArns is known only at run time")
	} else if want := s.eventSources(); want != nil && s.manageEventSources() {
		if err := planMappings(ctx, f, p, unqualifiedARN(aws.ToString(c.FunctionArn)), want, ""); err != nil {
			return err
		}
	}
	if err := planSubscriptions(ctx, f, p, unqualifiedARN(aws.ToString(c.FunctionArn)), &s.subscriptionFields, ""); err != nil {
		return err
	}
	versions, _, err := publishedVersions(ctx, f)
	if err != nil {
		return err
	}
	next := ""
	if s.publishes() {
		next, err = planPublish(ctx, f, p, c, versions, codeChanged || published, codeCertain)
		if err != nil {
			return err
		}
		if pc := s.ProvisionedConcurrentExecutions; pc.Set() {
			change(p, apitype.ChangeModify, "provisionedConcurrentExecutions", nil, pc.Value, "on the published version")
		}
	} else if s.Publish.Expr() {
		p.Notes = append(p.Notes, "whether a version is published (publish) is known only at run time")
	}
	if s.Aliases.Present() {
		if err := planDeployAliases(ctx, f, s, p, next); err != nil {
			return err
		}
	}
	if s.RetainVersions.Set() {
		all := slices.Clone(versions)
		if n, err := strconv.Atoi(next); err == nil && !slices.Contains(all, n) {
			all = append(all, n)
		}
		if err := planRetain(ctx, f, p, all, int(s.RetainVersions.Value)); err != nil {
			return err
		}
	}
	settle(p, fmt.Sprintf("%d change(s) to %s", len(p.Changes), f))
	if p.Action == apitype.PlanNoChange {
		p.Summary = fmt.Sprintf("%s is already as the stage asks", f)
	}
	return nil
}

// planCreate plans the creation of a function that does not exist.
func planCreate(ctx context.Context, f *function, s *deploySpec, code *codeSource, p *apitype.StagePlan) error {
	ci, err := s.createInput(f.name, code)
	if err != nil {
		return err
	}
	p.Action = apitype.PlanCreate
	p.Summary = fmt.Sprintf("%s does not exist and would be created", f)
	change(p, apitype.ChangeAdd, "function", nil, f.name, "")
	change(p, apitype.ChangeAdd, "code", nil, code.String(), "")
	add := func(field string, v any) {
		change(p, apitype.ChangeAdd, field, nil, v, "")
	}
	if ci.Runtime != "" {
		add("runtime", string(ci.Runtime))
	}
	if h := aws.ToString(ci.Handler); h != "" {
		add("handler", h)
	}
	add("role", aws.ToString(ci.Role))
	if ci.MemorySize != nil {
		add("memorySize", *ci.MemorySize)
	}
	if ci.Timeout != nil {
		add("timeout", *ci.Timeout)
	}
	if ci.Environment != nil {
		add("envVariables", ci.Environment.Variables)
	}
	if len(ci.Layers) > 0 {
		add("layers", ci.Layers)
	}
	if len(ci.Tags) > 0 {
		add("tags", ci.Tags)
	}
	if rc := s.ReservedConcurrentExecutions; rc.Set() && !rc.cleared() {
		add("reservedConcurrentExecutions", rc.Value)
	}
	if want := s.eventSources(); want != nil && !s.TriggerArns.Expr() {
		for _, src := range want.arns {
			add("eventSourceMapping", src)
		}
	}
	if err := planSubscriptions(ctx, f, p, "", &s.subscriptionFields, ""); err != nil {
		return err
	}
	next := ""
	if s.publishes() {
		next = "1"
		p.Publishes = &apitype.PlanPublish{Function: f.name, Account: f.acct.Name, Region: f.acct.Region, Certain: true, Version: next}
		change(p, apitype.ChangeAdd, "version", nil, next, "published after the create")
	}
	for _, a := range dedupe(s.Aliases.Value) {
		target := "$LATEST"
		if s.AliasesCreateOnly.Value && next != "" {
			target = "version " + next
		}
		change(p, apitype.ChangeAdd, "alias "+a, nil, target, "")
	}
	return nil
}

// planCode says whether the code a stage gives differs from the
// function's (out), as updateCode decides. certain is false when only
// Lambda can tell (an S3 object).
func planCode(ctx context.Context, f *function, p *apitype.StagePlan, out *lambda.GetFunctionOutput, code *codeSource, arch *stage.StringsField) (changed, certain bool, err error) {
	if code == nil {
		return false, true, nil
	}
	_, sha, err := code.load()
	if err != nil {
		return false, false, err
	}
	if sha == "" && code.s3Key != "" {
		sha = s3Digest(ctx, f, code)
	}
	c := out.Configuration
	if codeMatches(out, code, sha, architectures(arch)) {
		change(p, apitype.ChangeSame, "code", nil, aws.ToString(c.CodeSha256), "CodeSha256 matches "+code.String())
		return false, true, nil
	}
	switch {
	case sha != "" && sha == aws.ToString(c.CodeSha256):
		// The same code for another architecture: only that changes.
	case sha != "":
		change(p, apitype.ChangeModify, "code", aws.ToString(c.CodeSha256), sha, "CodeSha256 of "+code.String())
	case code.imageURI != "":
		old := ""
		if out.Code != nil {
			old = aws.ToString(out.Code.ImageUri)
		}
		change(p, apitype.ChangeModify, "code", old, code.imageURI, "image URI")
	default:
		change(p, apitype.ChangeModify, "code", aws.ToString(c.CodeSha256), code.String(),
			"sent again: the digest of an S3 object is known only to Lambda, so whether the code differs is known at run time")
		return true, false, nil
	}
	if arch.Set() && len(arch.Value) > 0 {
		old := []types.Architecture{types.ArchitectureX8664}
		if len(c.Architectures) > 0 {
			old = c.Architectures
		}
		if !slices.Equal(old, architectures(arch)) {
			change(p, apitype.ChangeModify, "architectures", old[0], arch.Value[0], "")
		}
	}
	return true, true, nil
}

// s3Digest reads an S3 object of code through the account's S3 client
// and returns its CodeSha256, as Lambda would compute it; "" when it
// cannot be read (no permission, too large), and the plan then says only
// Lambda knows.
func s3Digest(ctx context.Context, f *function, code *codeSource) string {
	if f.acct.S3 == nil {
		return ""
	}
	in := &s3.GetObjectInput{Bucket: aws.String(code.s3Bucket), Key: aws.String(code.s3Key)}
	if code.s3Version != "" {
		in.VersionId = aws.String(code.s3Version)
	}
	obj, err := f.acct.S3.GetObject(ctx, in)
	if err != nil {
		return ""
	}
	defer obj.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(obj.Body, maxS3Code+1))
	if err != nil || n > maxS3Code {
		return ""
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// maxS3Code is the largest S3 object a plan reads to learn its digest:
// Lambda's limit on unzipped code.
const maxS3Code = 250 * 1024 * 1024

// planPublish says whether publishVersion would publish a version, as
// publishOnce decides: when the code or a configuration field a version
// copies changes, or when $LATEST already differs from the newest
// version. It returns the version the stage would route its aliases to:
// the new version's number, or the newest version's when none would be
// published.
func planPublish(ctx context.Context, f *function, p *apitype.StagePlan, latest *types.FunctionConfiguration,
	versions []int, changes, certain bool) (string, error) {
	next := "1"
	newest := ""
	if n := len(versions); n > 0 {
		next, newest = strconv.Itoa(versions[n-1]+1), strconv.Itoa(versions[n-1])
	}
	if !changes && newest != "" {
		nc, err := f.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{
			FunctionName: aws.String(f.name), Qualifier: aws.String(newest)})
		if err != nil {
			return "", apiError(f, "GetFunctionConfiguration", err)
		}
		if fingerprint(functionConfiguration(nc)) == fingerprint(latest) {
			change(p, apitype.ChangeSame, "version", nil, newest,
				"no new version would be published: the code and configuration are those of version "+newest)
			return newest, nil
		}
	}
	note := "would publish version " + next
	if !certain {
		note = "would publish version " + next + " if Lambda finds the code differs (else version " + orNone(newest) + " stays the newest)"
	}
	change(p, apitype.ChangeAdd, "version", nil, next, note)
	p.Publishes = &apitype.PlanPublish{Function: f.name, Account: f.acct.Name, Region: f.acct.Region, Certain: certain, Version: next}
	return next, nil
}

// planDeployAliases plans a Deploy stage's aliases as deployAliases
// applies them.
func planDeployAliases(ctx context.Context, f *function, s *deploySpec, p *apitype.StagePlan, published string) error {
	target := "$LATEST"
	if s.AliasesCreateOnly.Value && published != "" {
		target = published
	}
	for _, name := range dedupe(s.Aliases.Value) {
		a, err := f.c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(f.name), Name: aws.String(name)})
		switch {
		case isNotFound(err):
			change(p, apitype.ChangeAdd, "alias "+name, nil, routingText(target, nil), "")
			continue
		case err != nil:
			return apiError(f, "GetAlias "+name, err)
		}
		weights := map[string]float64{}
		if a.RoutingConfig != nil {
			weights = a.RoutingConfig.AdditionalVersionWeights
		}
		routed := aws.ToString(a.FunctionVersion)
		switch {
		case routed == target && len(weights) == 0:
			change(p, apitype.ChangeSame, "alias "+name, nil, routingText(target, nil), "")
		case s.AliasesCreateOnly.Value:
			change(p, apitype.ChangeSame, "alias "+name, nil, routingText(routed, weights), "left alone (aliasesCreateOnly)")
		default:
			change(p, apitype.ChangeModify, "alias "+name, routingText(routed, weights), routingText(target, nil), "weights cleared, as Clouddriver does")
		}
	}
	return nil
}

// routingText says what an alias routes, in words.
func routingText(version string, weights map[string]float64) string {
	if !isVersionNumber(version) {
		if len(weights) == 0 {
			return "100% to " + version
		}
	}
	return describeRouting(version, weights)
}

// planRetain lists the versions retainVersions would delete: all but the
// newest keep, and those an alias uses.
func planRetain(ctx context.Context, f *function, p *apitype.StagePlan, versions []int, keep int) error {
	use, err := aliasUsage(ctx, f)
	if err != nil {
		return err
	}
	for i := len(versions) - 1 - keep; i >= 0; i-- {
		v := strconv.Itoa(versions[i])
		if aliases := use[v]; len(aliases) > 0 {
			change(p, apitype.ChangeSame, "version "+v, nil, v, "kept by retainVersions: alias "+strings.Join(aliases, ", ")+" uses it")
			continue
		}
		change(p, apitype.ChangeRemove, "version "+v, v, nil, fmt.Sprintf("retainVersions keeps the newest %d", keep))
	}
	return nil
}

// planMappings plans the event source mappings of target (the function's
// or an alias's ARN) as reconcileEventSources applies them.
func planMappings(ctx context.Context, f *function, p *apitype.StagePlan, target string, want *eventSources, on string) error {
	mine, err := listMappings(ctx, f, target)
	if err != nil {
		return err
	}
	d := want.diff(mine)
	field := "eventSourceMapping"
	if on != "" {
		field += " on alias " + on
	}
	for _, m := range d.remove {
		change(p, apitype.ChangeRemove, field, aws.ToString(m.EventSourceArn), nil, "mapping "+aws.ToString(m.UUID))
	}
	for _, u := range d.update {
		id := aws.ToString(u.UUID)
		change(p, apitype.ChangeModify, field, d.have[id], d.have[id], "options of mapping "+id+" change")
	}
	for _, src := range d.create {
		change(p, apitype.ChangeAdd, field, nil, src, "")
	}
	return nil
}

// planUpdateCode plans an Aws.LambdaUpdateCodeStage.
func planUpdateCode(ctx context.Context, _ *stage.PlanInput, f *function, s *updateCodeSpec, p *apitype.StagePlan) error {
	if err := s.refuseImageOnLocal(f); err != nil {
		return err
	}
	// A run's bound artifacts exist only once it is triggered: code
	// named by an expected artifact's id cannot be planned.
	code, err := s.source(nil)
	if err != nil {
		return err
	}
	if err := code.prepare(ctx, f); err != nil {
		return err
	}
	out, err := mustExist(ctx, f)
	if err != nil {
		return err
	}
	changed, certain, err := planCode(ctx, f, p, out, code, &s.Architectures)
	if err != nil {
		return err
	}
	if s.Publish.Value {
		versions, _, err := publishedVersions(ctx, f)
		if err != nil {
			return err
		}
		if _, err := planPublish(ctx, f, p, out.Configuration, versions, changed, certain); err != nil {
			return err
		}
	}
	settle(p, fmt.Sprintf("new code for %s", f))
	if p.Action == apitype.PlanNoChange {
		p.Summary = fmt.Sprintf("%s already has this code", f)
	}
	return nil
}

// mustExist reads the function, which must exist.
func mustExist(ctx context.Context, f *function) (*lambda.GetFunctionOutput, error) {
	out, found, err := getFunction(ctx, f)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fail("%s does not exist; deploy it first with %s (which creates it)", f, DeployTypeName)
	}
	return out, nil
}

// orUnset is *v, or "unset".
func orUnset(v *int32) any {
	if v == nil {
		return "unset"
	}
	return *v
}
