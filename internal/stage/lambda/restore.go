package lambda

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/stage"
)

// RestoreTypeName is the rollback stage type: it puts an alias back to a
// routing a Route stage recorded.
const RestoreTypeName = "sluice.LambdaRestoreRouting"

// taskRestoreRouting is the restore stage's one task.
const taskRestoreRouting = "lambdaRestoreRouting"

// restoreSpec is the fields of a sluice.LambdaRestoreRouting stage,
// Sluice's own: a Route stage's rollback:previousRouting record.
//
//	account, region   the account (and its region) the alias is in
//	functionName      the function's full name as the Route stage used it
//	                  (the application prefix is not applied again)
//	alias             the alias
//	functionVersion   the version it routed to
//	additionalVersionWeights  {version: weight} of its additional version, or {}
//	existed           false when the alias did not exist: restoring deletes it
//
// The task reads the alias and acts only when it differs from the record,
// so running it twice changes nothing the second time. It updates on the
// RevisionId it read, creates the alias if it is gone, and verifies the
// result on a fresh read. If a recorded version no longer exists it fails
// naming the alias, what it routes now and the versions there are.
//
// Outputs: restoredRouting (the record) and restoreChanged (whether this
// run changed the alias; false when it already matched).
type restoreSpec struct {
	target
	Alias                    stage.StringField `json:"alias"`
	FunctionVersion          stage.StringField `json:"functionVersion" hint:"the version the alias routed to: a number or $LATEST"`
	AdditionalVersionWeights stage.JSONField   `json:"additionalVersionWeights"`
	Existed                  stage.BoolField   `json:"existed" hint:"false when the alias did not exist and restoring deletes it"`
}

func (s *restoreSpec) Check(c *stage.Checker) {
	s.target.check(c)
	c.Required(&s.Alias)
	c.Valid(&s.Alias, aliasNamePattern().MatchString)
	c.Required(&s.Existed)
	if s.Existed.Value && known(&s.FunctionVersion.Field) {
		switch v := s.FunctionVersion.Value; {
		case v == "":
			c.Errorf(&s.FunctionVersion, "is required when existed is true: the version the alias routed to")
		case v != "$LATEST" && !isVersionNumber(v):
			c.Errorf(&s.FunctionVersion, "must be a version number or $LATEST, not %q", v)
		}
	}
	_, errs := s.weights()
	c.Add(errs...)
}

// weights reads additionalVersionWeights: {version: weight from 0 to 1}.
func (s *restoreSpec) weights() (map[string]float64, []stage.FieldError) {
	w := map[string]float64{}
	f := &s.AdditionalVersionWeights
	if !f.Set() {
		return w, nil
	}
	m, ok := f.Value.(map[string]any)
	if !ok {
		return w, []stage.FieldError{{Field: f.Path(), Msg: "must be an object of version to weight (0 to 1), not " + stage.JSONKind(f.Value)}}
	}
	var errs []stage.FieldError
	for _, ver := range slices.Sorted(maps.Keys(m)) {
		n, _, err := stage.Number(m, ver)
		if err != nil || math.IsNaN(n) || n < 0 || n > 1 || !isVersionNumber(ver) {
			errs = append(errs, stage.FieldError{Field: f.Path() + "." + ver,
				Msg: fmt.Sprintf("must map a version number to a weight from 0 to 1, not %v", m[ver])})
			continue
		}
		w[ver] = n
	}
	return w, errs
}

// functionTarget implements spec: the record holds the full function
// name, which takes no application prefix.
func (s *restoreSpec) functionTarget() *target {
	t := s.target
	t.fullName = true
	return &t
}

// newRestoreType is sluice.LambdaRestoreRouting, the rollback stage of a
// Route stage: it puts the alias back to the routing the Route stage
// recorded.
func newRestoreType(b base) stage.Type {
	return &stageType[restoreSpec, *restoreSpec]{base: b, name: RestoreTypeName, tasks: []task[restoreSpec]{
		{name: taskRestoreRouting, run: restoreRouting},
	}}
}

// restoreRouting puts the alias back to the recorded routing.
func restoreRouting(ctx context.Context, _ *stage.Task, f *function, s *restoreSpec) (stage.Result, error) {
	weights, _ := s.weights()
	rec := previousRouting{
		Account:                  f.acct.Name,
		Region:                   f.acct.Region,
		FunctionName:             f.name,
		Alias:                    s.Alias.Value,
		FunctionVersion:          s.FunctionVersion.Value,
		AdditionalVersionWeights: weights,
		Existed:                  s.Existed.Value,
	}
	changed, err := putBack(ctx, f, rec)
	if err != nil {
		return stage.Result{}, err
	}
	return stage.Succeed().WithOutputs(map[string]any{"restoredRouting": jsonValue(rec), "restoreChanged": changed}), nil
}

// putBack makes alias rec.Alias route as rec records, deleting it when it
// did not exist, and verifies on a fresh read. It acts only when the alias
// differs from the record, and reports whether it changed it.
func putBack(ctx context.Context, f *function, rec previousRouting) (changed bool, err error) {
	alias := rec.Alias
	cur, err := readAlias(ctx, f, alias)
	if err != nil {
		return false, err
	}

	if !rec.Existed {
		if !cur.found {
			return false, nil
		}
		if _, err := f.c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String(f.name), Name: aws.String(alias)}); err != nil && !isNotFound(err) {
			return false, apiError(f, "DeleteAlias "+alias, err)
		}
		cur, err = readAlias(ctx, f, alias)
		if err != nil {
			return false, err
		}
		if cur.found {
			return false, fail("alias %s of %s still exists after DeleteAlias and %s; delete it by hand", alias, f.name, cur)
		}
		return true, nil
	}

	want := rec.AdditionalVersionWeights
	if cur.routes(rec.FunctionVersion, want) {
		return false, nil
	}
	if missing, versions, err := missingVersions(ctx, f, rec); err != nil {
		return false, err
	} else if len(missing) > 0 {
		return false, fail("cannot restore alias %s of %s to %s: version %s no longer exists; the alias %s (%s). Route it by hand with a Route stage",
			alias, f.name, describeRouting(rec.FunctionVersion, want), strings.Join(missing, " and "), cur, describeVersions(versions))
	}
	routing := &types.AliasRoutingConfiguration{AdditionalVersionWeights: want}
	if !cur.found {
		if _, err := f.c.CreateAlias(ctx, &lambda.CreateAliasInput{
			FunctionName: aws.String(f.name), Name: aws.String(alias),
			FunctionVersion: aws.String(rec.FunctionVersion), RoutingConfig: routing,
		}); err != nil {
			return false, apiError(f, "CreateAlias "+alias, err)
		}
	} else if _, err := f.c.UpdateAlias(ctx, &lambda.UpdateAliasInput{
		FunctionName: aws.String(f.name), Name: aws.String(alias),
		FunctionVersion: aws.String(rec.FunctionVersion), RoutingConfig: routing,
		RevisionId: aws.String(cur.revision),
	}); err != nil {
		return false, apiError(f, "UpdateAlias "+alias, err)
	}
	cur, err = readAlias(ctx, f, alias)
	if err != nil {
		return false, err
	}
	if !cur.routes(rec.FunctionVersion, want) {
		return false, fail("alias %s of %s %s after restoring, not %s; another change may have raced with the restore",
			alias, f.name, cur, describeRouting(rec.FunctionVersion, want))
	}
	return true, nil
}

// missingVersions returns the recorded versions that no longer exist, and
// the published versions there are.
func missingVersions(ctx context.Context, f *function, rec previousRouting) ([]string, []int, error) {
	versions, found, err := publishedVersions(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	if !found {
		return nil, nil, fail("cannot restore alias %s: %s does not exist any more", rec.Alias, f)
	}
	have := map[string]bool{"$LATEST": true}
	for _, v := range versions {
		have[strconv.Itoa(v)] = true
	}
	var missing []string
	for _, v := range append([]string{rec.FunctionVersion}, sortedVersionKeys(rec.AdditionalVersionWeights)...) {
		if !have[v] {
			missing = append(missing, v)
		}
	}
	return missing, versions, nil
}

func sortedVersionKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
