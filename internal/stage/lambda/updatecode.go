package lambda

import (
	"context"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluice-cd/sluice/internal/stage"
)

// UpdateCodeType is Aws.LambdaUpdateCodeStage: update an existing
// function's code only (its configuration belongs to someone else, e.g.
// Terraform), and optionally publish a version — at most one per change,
// as Deploy does.
//
//	updateCode       UpdateFunctionCode when the code differs
//	waitCodeUpdated  LastUpdateStatus Successful
//	[publishVersion] publish: true
//	[waitPublished]  the version is Active
type UpdateCodeType struct{ base }

func (*UpdateCodeType) Name() string { return UpdateCodeTypeName }

var updateCodeSpecs = []fieldSpec{
	{name: "publish", kind: kindBool, hint: "publish a version after the update"},
	{name: "architectures", kind: kindStringList, hint: "[\"x86_64\"] or [\"arm64\"]"},
}

func (*UpdateCodeType) Validate(fields map[string]any) []stage.FieldError {
	var errs []stage.FieldError
	for _, specs := range [][]fieldSpec{commonSpecs, codeFieldSpecs, updateCodeSpecs} {
		errs = append(errs, validateSpecs(fields, specs, "")...)
	}
	errs = append(errs, validateArtifact(fields, "codeArtifact")...)
	if v := validateCodeSource(fields); len(v) > 0 {
		errs = append(errs, v...)
	} else if c, err := readCode(fields); err == nil && c == nil && !anyExpression(fields, "s3bucket", "s3key", "codeArtifact", "zipFile", "imageUri", "ImageUri") {
		errs = append(errs, stage.FieldError{Field: "s3key", Msg: "is required: the code to deploy, as s3bucket and s3key (or codeArtifact, zipFile, imageUri)"})
	}
	return errs
}

func anyExpression(fields map[string]any, keys ...string) bool {
	for _, k := range keys {
		if containsExpression(fields[k]) {
			return true
		}
	}
	return false
}

func (*UpdateCodeType) Tasks(ctx map[string]any) []string {
	tasks := []string{taskUpdateCode, taskWaitCode}
	if p, _ := boolean(ctx, "publish", false); p {
		tasks = append(tasks, taskPublish, taskWaitPublished)
	}
	return tasks
}

func (u *UpdateCodeType) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	res := stage.Result{Context: map[string]any{}, Outputs: map[string]any{}}
	err := u.run(ctx, t, &res)
	return result(ctx, t, res, err)
}

func (u *UpdateCodeType) run(ctx context.Context, t *stage.Task, res *stage.Result) error {
	f, err := u.function(t)
	if err != nil {
		return err
	}
	code, err := readCode(t.Context)
	if err != nil {
		return err
	}
	switch t.Name {
	case taskUpdateCode:
		if code == nil {
			return fail("no code to deploy: set s3bucket and s3key (or codeArtifact, zipFile, imageUri)")
		}
		if code.imageURI != "" && f.acct.Local {
			return fail("imageUri: container images are not supported by the local Lambda (account local); use s3bucket/s3key, or an AWS account")
		}
		spec, err := readFunctionSpec(t.Context)
		if err != nil {
			return err
		}
		sent, err := updateCode(ctx, f, code, spec.arch)
		if err != nil {
			return err
		}
		res.Outputs["lambdaCodeUpdated"] = sent
		return nil
	case taskWaitCode:
		c, err := waitUpdated(ctx, f)
		if err != nil {
			return err
		}
		maps.Copy(res.Outputs, functionOutputs(c))
		res.Outputs["revisionId"] = aws.ToString(c.RevisionId)
		return nil
	case taskPublish:
		v, published, err := publishOnce(ctx, f, nil)
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
		if _, err := waitVersionActive(ctx, f, v); err != nil {
			return err
		}
		res.Outputs["versionId"] = v
		return nil
	}
	return fail("%s has no task %q", UpdateCodeTypeName, t.Name)
}
