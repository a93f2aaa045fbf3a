package lambda

import (
	"context"

	"github.com/sluice-cd/sluice/internal/stage"
)

// updateCodeSpec is the fields of an Aws.LambdaUpdateCodeStage: update an
// existing function's code only (its configuration belongs to someone
// else, e.g. Terraform), and optionally publish a version — at most one
// per change, as Deploy does.
type updateCodeSpec struct {
	target
	codeFields
	Publish       stage.BoolField    `json:"publish" hint:"publish a version after the update"`
	Architectures stage.StringsField `json:"architectures" hint:"[\"x86_64\"] or [\"arm64\"]"`
}

func (s *updateCodeSpec) Check(c *stage.Checker) {
	s.target.check(c)
	s.codeFields.check(c)
	checkArchitectures(c, &s.Architectures)
	if !s.hasCode() {
		c.Errorf(&s.S3Key, "is required: the code to deploy, as s3bucket and s3key (or codeArtifact, zipFile, imageUri)")
	}
}

// newUpdateCodeType is Aws.LambdaUpdateCodeStage. Its tasks:
//
//	updateCode       UpdateFunctionCode when the code differs
//	waitCodeUpdated  LastUpdateStatus Successful
//	[publishVersion] publish: true
//	[waitPublished]  the version is Active
func newUpdateCodeType(b base) stage.Type {
	publishes := func(s *updateCodeSpec) bool { return s.Publish.Value }
	return &stageType[updateCodeSpec, *updateCodeSpec]{base: b, name: UpdateCodeTypeName, plan: planUpdateCode, tasks: []task[updateCodeSpec]{
		{name: taskUpdateCode, run: updateCodeOnly},
		{name: taskWaitCode, run: onFunction[updateCodeSpec](waitUpdatedTask)},
		{name: taskPublish, run: onFunction[updateCodeSpec](publishWithoutDescription), when: publishes},
		{name: taskWaitPublished, run: onFunction[updateCodeSpec](waitPublished), when: publishes},
	}}
}

// updateCodeOnly brings the function's code to the stage's.
func updateCodeOnly(ctx context.Context, t *stage.Task, f *function, s *updateCodeSpec) (stage.Result, error) {
	code, err := s.source(boundOrEmpty(t.Artifacts))
	if err != nil {
		return stage.Result{}, err
	}
	if err := code.prepare(ctx, f); err != nil {
		return stage.Result{}, err
	}
	if code == nil {
		return stage.Result{}, fail("no code to deploy: set s3bucket and s3key (or codeArtifact, zipFile, imageUri)")
	}
	if err := s.refuseImageOnLocal(f); err != nil {
		return stage.Result{}, err
	}
	sent, err := updateCode(ctx, f, code, architectures(&s.Architectures))
	if err != nil {
		return stage.Result{}, err
	}
	return stage.Succeed().WithOutputs(map[string]any{"lambdaCodeUpdated": sent}), nil
}

// publishWithoutDescription publishes a version with Lambda's default
// description.
func publishWithoutDescription(ctx context.Context, _ *stage.Task, f *function) (stage.Result, error) {
	return publishVersion(ctx, f, nil)
}
