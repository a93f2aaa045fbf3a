package lambda

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/stage"
)

// DeleteType is Aws.LambdaDeleteStage: delete published versions chosen
// by a selector, or the whole function ($ALL).
//
//	resolveVersions  resolve "version" on a fresh version list and record
//	                 the result, so that a re-run deletes the same versions
//	deleteVersions   refuse any version an alias routes to (naming the
//	                 alias); delete the rest; a version already gone is
//	                 reported, not an error
//	verifyDeleted    every deleted version (and $ALL's function) answers 404
type DeleteType struct{ base }

// Delete's task names and context keys.
const (
	taskResolve    = "resolveVersions"
	taskDelete     = "deleteVersions"
	taskVerify     = "verifyDeleted"
	ctxDeletePlan  = "deleteTask:plan"    // the resolved versions, or ["$ALL"]
	ctxDeleteDone  = "deleteTask:deleted" // versions this stage deleted
	outDeleteVer   = "deleteTask:deleteVersion"
	outAlreadyGone = "deleteTask:alreadyGone"
)

func (*DeleteType) Name() string { return DeleteTypeName }

var deleteSpecs = []fieldSpec{
	{name: "version", kind: kindString, required: true,
		hint: "$ALL, $LATEST (newest published), $PREVIOUS, $OLDEST, $MOVING, $PROVIDED or a version number"},
	{name: "versionNumber", kind: kindString},
	{name: "retentionNumber", kind: kindInt, min: 1, hint: "how many of the newest versions $MOVING keeps"},
}

func (*DeleteType) Validate(fields map[string]any) []stage.FieldError {
	// version and versionNumber are often numbers in YAML.
	for _, k := range []string{"version", "versionNumber"} {
		if v, ok := fields[k]; ok && v != nil {
			if _, isString := v.(string); !isString {
				if n, ok := scalarString(v); ok {
					fields = cloneWith(fields, k, n)
				}
			}
		}
	}
	var errs []stage.FieldError
	for _, specs := range [][]fieldSpec{commonSpecs, deleteSpecs} {
		errs = append(errs, validateSpecs(fields, specs, "")...)
	}
	if len(errs) > 0 || anyExpression(fields, "version", "versionNumber", "retentionNumber") {
		return errs
	}
	if _, err := selectorOf(fields, "version", "versionNumber"); err != nil {
		field := "version"
		switch name, _ := scalarString(fields["version"]); strings.ToUpper(strings.TrimSpace(name)) {
		case SelectorMoving:
			field = "retentionNumber"
		case SelectorProvided:
			field = "versionNumber"
		}
		errs = append(errs, stage.FieldError{Field: field, Msg: err.Error()})
	}
	return errs
}

func cloneWith(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m))
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// scalarString reads a string or a number as a string; nil is "".
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

// selectorOf reads a selector from the field named selField, with its
// $PROVIDED version in providedField and $MOVING's retentionNumber.
func selectorOf(fields map[string]any, selField, providedField string) (Selector, error) {
	name, ok := scalarString(fields[selField])
	if !ok {
		return Selector{}, fmt.Errorf("%s must be a selector or a version number, not %s", selField, jsonKind(fields[selField]))
	}
	provided, ok := scalarString(fields[providedField])
	if !ok {
		return Selector{}, fmt.Errorf("%s must be a version number, not %s", providedField, jsonKind(fields[providedField]))
	}
	retention, _, err := integer(fields, "retentionNumber")
	if err != nil {
		return Selector{}, fmt.Errorf("retentionNumber %w", err)
	}
	s, err := ParseSelector(name, provided, retention)
	if err != nil {
		return Selector{}, fmt.Errorf("%s %w", selField, err)
	}
	return s, nil
}

func (*DeleteType) Tasks(map[string]any) []string {
	return []string{taskResolve, taskDelete, taskVerify}
}

func (d *DeleteType) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	res := stage.Result{Context: map[string]any{}, Outputs: map[string]any{}}
	err := d.run(ctx, t, &res)
	return result(ctx, t, res, err)
}

func (d *DeleteType) run(ctx context.Context, t *stage.Task, res *stage.Result) error {
	f, err := d.function(t)
	if err != nil {
		return err
	}
	plan := anyStrings(t.Context[ctxDeletePlan])
	switch t.Name {
	case taskResolve:
		if _, done := t.Context[ctxDeletePlan]; done {
			return nil // resolved by an earlier run: never resolve twice
		}
		sel, err := selectorOf(t.Context, "version", "versionNumber")
		if err != nil {
			return fail("%v", err)
		}
		var versions []string
		switch sel.Name {
		case SelectorAll:
			versions = []string{SelectorAll}
		case "", SelectorProvided:
			versions = []string{sel.Version} // a version that is gone is reported, not an error
		default:
			if versions, _, err = resolveVersions(ctx, f, sel, false); err != nil {
				return err
			}
		}
		res.Context[ctxDeletePlan] = toAnyList(versions)
		res.Outputs[outDeleteVer] = strings.Join(versions, ",")
		if len(versions) == 0 {
			res.Outputs["deleteTask:message"] = fmt.Sprintf("%s names no version to delete: nothing to do", sel)
		}
		return nil
	case taskDelete:
		if len(plan) == 1 && plan[0] == SelectorAll {
			return deleteFunction(ctx, f, res)
		}
		use, err := aliasUsage(ctx, f)
		if err != nil {
			return err
		}
		var refused []string
		for _, v := range plan {
			if aliases := use[v]; len(aliases) > 0 {
				refused = append(refused, fmt.Sprintf("version %s is used by alias %s", v, strings.Join(aliases, ", ")))
			}
		}
		if len(refused) > 0 {
			return fail("refusing to delete: %s; route the alias to another version first (e.g. with %s) or choose another version",
				strings.Join(refused, "; "), RouteTypeName)
		}
		deleted, gone := []string{}, []string{}
		for _, v := range plan {
			wasGone, err := deleteVersion(ctx, f, v)
			if err != nil {
				res.Context[ctxDeleteDone] = toAnyList(deleted)
				return err
			}
			if wasGone {
				gone = append(gone, v)
			} else {
				deleted = append(deleted, v)
			}
		}
		res.Context[ctxDeleteDone] = toAnyList(deleted)
		res.Outputs["deleteTask:deleted"] = toAnyList(deleted)
		res.Outputs[outAlreadyGone] = toAnyList(gone)
		res.Outputs[outDeleteVer] = strings.Join(plan, ",")
		if len(gone) > 0 {
			res.Outputs["deleteTask:message"] = fmt.Sprintf("already gone, nothing to delete: version %s of %s", strings.Join(gone, ", "), f)
		}
		return nil
	case taskVerify:
		if len(plan) == 1 && plan[0] == SelectorAll {
			_, found, err := getFunction(ctx, f)
			if err != nil {
				return err
			}
			if found {
				return retry("%s still exists after DeleteFunction", f)
			}
			res.Outputs["deleteTask"] = "done"
			return nil
		}
		var still []string
		for _, v := range anyStrings(t.Context[ctxDeleteDone]) {
			gone, err := versionGone(ctx, f, v)
			if err != nil {
				return err
			}
			if !gone {
				still = append(still, v)
			}
		}
		if len(still) > 0 {
			sort.Strings(still)
			return retry("version %s of %s still exist(s) after DeleteFunction", strings.Join(still, ", "), f)
		}
		res.Outputs["deleteTask"] = "done"
		return nil
	}
	return fail("%s has no task %q", DeleteTypeName, t.Name)
}

// deleteFunction deletes the whole function; a function already gone is
// reported in the outputs.
func deleteFunction(ctx context.Context, f *function, res *stage.Result) error {
	res.Outputs[outDeleteVer] = SelectorAll
	_, err := f.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(f.name)})
	switch {
	case err == nil:
		res.Outputs["deleteTask:deleted"] = []any{SelectorAll}
		res.Outputs[outAlreadyGone] = []any{}
		return nil
	case isNotFound(err):
		res.Outputs["deleteTask:deleted"] = []any{}
		res.Outputs[outAlreadyGone] = []any{SelectorAll}
		res.Outputs["deleteTask:message"] = fmt.Sprintf("already gone, nothing to delete: %s", f)
		return nil
	}
	return apiError(f, "DeleteFunction", err)
}
