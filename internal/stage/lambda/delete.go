package lambda

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/stage"
)

// deleteSpec is the fields of an Aws.LambdaDeleteStage: delete published
// versions chosen by a selector, or the whole function ($ALL).
type deleteSpec struct {
	target
	// Version and VersionNumber are often numbers in YAML.
	Version         stage.WeakStringField `json:"version" hint:"$ALL, $LATEST (newest published), $PREVIOUS, $OLDEST, $MOVING, $PROVIDED or a version number"`
	VersionNumber   stage.WeakStringField `json:"versionNumber"`
	RetentionNumber stage.IntField        `json:"retentionNumber" hint:"how many of the newest versions $MOVING keeps"`
}

func (s *deleteSpec) Check(c *stage.Checker) {
	s.target.check(c)
	c.Required(&s.Version)
	c.AtLeast(&s.RetentionNumber, 1)
	retention := &s.RetentionNumber
	if !s.Version.Set() || strings.TrimSpace(s.Version.Value) == "" || !known(&s.VersionNumber.Field) || !(retention.Missing() || retention.Set() && retention.Value >= 1) {
		return
	}
	if _, err := s.selector(); err != nil {
		f := &s.Version.Field
		switch strings.ToUpper(strings.TrimSpace(s.Version.Value)) {
		case SelectorMoving:
			f = &s.RetentionNumber.Field
		case SelectorProvided:
			f = &s.VersionNumber.Field
		}
		c.Errorf(f, "%v", err)
	}
}

// selector is the versions the stage deletes: version, with its
// $PROVIDED versionNumber and $MOVING's retentionNumber.
func (s *deleteSpec) selector() (Selector, error) {
	sel, err := ParseSelector(s.Version.Value, s.VersionNumber.Value, s.RetentionNumber.Value)
	if err != nil {
		return Selector{}, fmt.Errorf("version %w", err)
	}
	return sel, nil
}

// newDeleteType is Aws.LambdaDeleteStage. Its tasks:
//
//	resolveVersions  resolve "version" on a fresh version list and record
//	                 the result, so that a re-run deletes the same versions
//	deleteVersions   refuse any version an alias routes to (naming the
//	                 alias); delete the rest; a version already gone is
//	                 reported, not an error
//	verifyDeleted    every deleted version (and $ALL's function) answers 404
func newDeleteType(b base) stage.Type {
	return &stageType[deleteSpec, *deleteSpec]{base: b, name: DeleteTypeName, plan: planDelete, tasks: []task[deleteSpec]{
		{name: taskResolve, run: resolveDeletion},
		{name: taskDelete, run: onFunction[deleteSpec](deleteVersions)},
		{name: taskVerify, run: onFunction[deleteSpec](verifyDeleted)},
	}, kept: []string{ctxDeletePlan}}
}

// Delete's task names and context keys.
const (
	taskResolve    = "resolveVersions"
	taskDelete     = "deleteVersions"
	taskVerify     = "verifyDeleted"
	ctxDeletePlan  = "deleteTask:plan"    // the resolved versions, or ["$ALL"]
	ctxDeleteDone  = "deleteTask:deleted" // versions this stage deleted
	outDeleteVer   = "deleteTask:deleteVersion"
	outAlreadyGone = "deleteTask:alreadyGone"
	// noVersionFound is Orca's failureMessage when a selector names no
	// version (LambdaDeleteTask).
	noVersionFound = "No version found for Lambda function. Unable to perform delete operation."
)

// resolveDeletion resolves the selector, once: a re-run finds the plan
// recorded and leaves it.
func resolveDeletion(ctx context.Context, t *stage.Task, f *function, s *deleteSpec) (stage.Result, error) {
	if _, done := t.Context[ctxDeletePlan]; done {
		return stage.Succeed(), nil // resolved by an earlier run: never resolve twice
	}
	sel, err := s.selector()
	if err != nil {
		return stage.Result{}, fail("%v", err)
	}
	var versions []string
	switch sel.Name {
	case SelectorAll:
		versions = []string{SelectorAll}
	case "", SelectorProvided:
		versions = []string{sel.Version} // a version that is gone is reported, not an error
	default:
		published, found, err := publishedVersions(ctx, f)
		if err != nil {
			return stage.Result{}, err
		}
		if !found {
			return stage.Result{}, fail("%s does not exist, so %s names nothing; check functionName and account", f, sel)
		}
		versions, err = sel.Resolve(f.name, published, false)
		var unresolved *UnresolvedError
		switch {
		case errors.As(err, &unresolved) && len(published) == 0:
			// Nothing published, nothing to delete: Orca succeeds here with
			// its failureMessage (the plugin's Scenario 7 deletes $LATEST
			// twice and expects the second to succeed).
			return stage.Succeed().
				WithContext(map[string]any{ctxDeletePlan: []any{}}).
				WithOutputs(map[string]any{outDeleteVer: "", failureMessageKey: noVersionFound,
					"deleteTask:message": fmt.Sprintf("%v: nothing to delete", err)}), nil
		case err != nil:
			// Versions exist but none is the one named: the plugin's
			// Scenario 8 expects the stage to fail (Orca succeeds).
			return stage.Result{}.WithOutputs(map[string]any{failureMessageKey: noVersionFound}), fail("%s: %v", noVersionFound, err)
		}
	}
	res := stage.Succeed().
		WithContext(map[string]any{ctxDeletePlan: toAnyList(versions)}).
		WithOutputs(map[string]any{outDeleteVer: strings.Join(versions, ",")})
	if len(versions) == 0 {
		res = res.WithOutputs(map[string]any{"deleteTask:message": fmt.Sprintf("%s names no version to delete: nothing to do", sel)})
	}
	return res, nil
}

// deleteVersions deletes the versions resolveVersions recorded, refusing
// any an alias routes to.
func deleteVersions(ctx context.Context, t *stage.Task, f *function) (stage.Result, error) {
	plan := anyStrings(t.Context[ctxDeletePlan])
	if len(plan) == 1 && plan[0] == SelectorAll {
		return deleteFunction(ctx, f)
	}
	use, err := aliasUsage(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	var refused []string
	for _, v := range plan {
		if aliases := use[v]; len(aliases) > 0 {
			refused = append(refused, fmt.Sprintf("version %s is used by alias %s", v, strings.Join(aliases, ", ")))
		}
	}
	if len(refused) > 0 {
		return stage.Result{}, fail("refusing to delete: %s; route the alias to another version first (e.g. with %s) or choose another version",
			strings.Join(refused, "; "), RouteTypeName)
	}
	deleted, gone := []string{}, []string{}
	for _, v := range plan {
		wasGone, err := deleteVersion(ctx, f, v)
		if err != nil {
			return stage.Result{}.WithContext(map[string]any{ctxDeleteDone: toAnyList(deleted)}), err
		}
		if wasGone {
			gone = append(gone, v)
		} else {
			deleted = append(deleted, v)
		}
	}
	res := stage.Succeed().
		WithContext(map[string]any{ctxDeleteDone: toAnyList(deleted)}).
		WithOutputs(map[string]any{
			"deleteTask:deleted": toAnyList(deleted),
			outAlreadyGone:       toAnyList(gone),
			outDeleteVer:         strings.Join(plan, ","),
		})
	if len(gone) > 0 {
		res = res.WithOutputs(map[string]any{"deleteTask:message": fmt.Sprintf("already gone, nothing to delete: version %s of %s", strings.Join(gone, ", "), f)})
	}
	return res, nil
}

// verifyDeleted checks that every deleted version (or $ALL's function) is
// gone.
func verifyDeleted(ctx context.Context, t *stage.Task, f *function) (stage.Result, error) {
	done := stage.Succeed().WithOutputs(map[string]any{"deleteTask": "done"})
	plan := anyStrings(t.Context[ctxDeletePlan])
	if len(plan) == 1 && plan[0] == SelectorAll {
		_, found, err := getFunction(ctx, f)
		if err != nil {
			return stage.Result{}, err
		}
		if found {
			return stage.Result{}, retry("%s still exists after DeleteFunction", f)
		}
		return done, nil
	}
	var still []string
	for _, v := range anyStrings(t.Context[ctxDeleteDone]) {
		gone, err := versionGone(ctx, f, v)
		if err != nil {
			return stage.Result{}, err
		}
		if !gone {
			still = append(still, v)
		}
	}
	if len(still) > 0 {
		sort.Strings(still)
		return stage.Result{}, retry("version %s of %s still exist(s) after DeleteFunction", strings.Join(still, ", "), f)
	}
	return done, nil
}

// deleteFunction deletes the whole function; a function already gone is
// reported in the outputs.
func deleteFunction(ctx context.Context, f *function) (stage.Result, error) {
	_, err := f.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(f.name)})
	switch {
	case err == nil:
		return stage.Succeed().WithOutputs(map[string]any{
			outDeleteVer: SelectorAll, "deleteTask:deleted": []any{SelectorAll}, outAlreadyGone: []any{},
		}), nil
	case isNotFound(err):
		return stage.Succeed().WithOutputs(map[string]any{
			outDeleteVer: SelectorAll, "deleteTask:deleted": []any{}, outAlreadyGone: []any{SelectorAll},
			"deleteTask:message": fmt.Sprintf("already gone, nothing to delete: %s", f),
		}), nil
	}
	return stage.Result{}.WithOutputs(map[string]any{outDeleteVer: SelectorAll}), apiError(f, "DeleteFunction", err)
}
