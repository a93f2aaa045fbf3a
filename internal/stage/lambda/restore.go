package lambda

import (
	"context"
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/stage"
)

// RestoreTypeName is the rollback stage type: it puts an alias back to a
// routing a Route stage recorded.
const RestoreTypeName = "sluice.LambdaRestoreRouting"

// RestoreType is the sluice.LambdaRestoreRouting stage type, Sluice's own.
// Its context is a Route stage's rollback:previousRouting record:
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
type RestoreType struct{ base }

func (*RestoreType) Name() string { return RestoreTypeName }

var restoreSpecs = []fieldSpec{
	{name: "account", kind: kindString, hint: "the account from the accounts config; empty or absent means the local Lambda"},
	{name: "region", kind: kindString, valid: awsclient.ValidRegion},
	{name: "functionName", kind: kindString, required: true, valid: functionNamePattern.MatchString},
	{name: "alias", kind: kindString, required: true, valid: aliasNamePattern.MatchString},
	{name: "functionVersion", kind: kindString, hint: "the version the alias routed to: a number or $LATEST"},
	{name: "existed", kind: kindBool, required: true, hint: "false when the alias did not exist and restoring deletes it"},
	{name: "waitTimeoutSeconds", kind: kindInt, min: 1, max: 86400},
}

func (*RestoreType) Validate(fields map[string]any) []stage.FieldError {
	errs := validateSpecs(fields, restoreSpecs, "")
	if containsExpression(fields["existed"]) || containsExpression(fields["functionVersion"]) ||
		containsExpression(fields["additionalVersionWeights"]) {
		return errs
	}
	if _, err := readRestoreRecord(fields); err != nil {
		if fe, ok := err.(stage.FieldError); ok {
			errs = append(errs, fe)
		}
	}
	return errs
}

func (*RestoreType) Tasks(map[string]any) []string { return []string{"lambdaRestoreRouting"} }

func (rt *RestoreType) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
	res, err := rt.restore(ctx, t)
	return result(ctx, t, res, err)
}

// readRestoreRecord reads the record from a stage context. Errors are
// stage.FieldErrors.
func readRestoreRecord(fields map[string]any) (previousRouting, error) {
	var rec previousRouting
	var err error
	if rec.Alias, _, err = str(fields, "alias"); err != nil {
		return rec, stage.FieldError{Field: "alias", Msg: err.Error()}
	}
	existed, ok, err := stage.Bool(fields, "existed")
	if err != nil {
		return rec, stage.FieldError{Field: "existed", Msg: err.Error()}
	}
	if !ok {
		return rec, stage.FieldError{Field: "existed", Msg: "is required: whether the alias existed before the Route stage"}
	}
	rec.Existed = existed
	if rec.FunctionVersion, _, err = str(fields, "functionVersion"); err != nil {
		return rec, stage.FieldError{Field: "functionVersion", Msg: err.Error()}
	}
	rec.AdditionalVersionWeights = map[string]float64{}
	if v, ok := fields["additionalVersionWeights"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return rec, stage.FieldError{Field: "additionalVersionWeights", Msg: "must be an object of version to weight (0 to 1), not " + jsonKind(v)}
		}
		for ver, w := range m {
			n, _, err := stage.Number(m, ver)
			if err != nil || math.IsNaN(n) || n < 0 || n > 1 || !isVersionNumber(ver) {
				return rec, stage.FieldError{Field: "additionalVersionWeights." + ver,
					Msg: fmt.Sprintf("must map a version number to a weight from 0 to 1, not %v", w)}
			}
			rec.AdditionalVersionWeights[ver] = n
		}
	}
	if existed {
		v := rec.FunctionVersion
		if v == "" {
			return rec, stage.FieldError{Field: "functionVersion", Msg: "is required when existed is true: the version the alias routed to"}
		}
		if v != "$LATEST" && !isVersionNumber(v) {
			return rec, stage.FieldError{Field: "functionVersion", Msg: fmt.Sprintf("must be a version number or $LATEST, not %q", v)}
		}
	}
	return rec, nil
}

func (rt *RestoreType) restore(ctx context.Context, t *stage.Task) (stage.Result, error) {
	rec, err := readRestoreRecord(t.Context)
	if err != nil {
		return stage.Result{}, fail("%v", err)
	}
	// The record holds the full function name: do not prefix it again.
	fields := maps.Clone(t.Context)
	fields["prefixApplicationNameToFunction"] = false
	tt := *t
	tt.Context = fields
	f, err := rt.function(&tt)
	if err != nil {
		return stage.Result{}, err
	}
	rec.FunctionName, rec.Account, rec.Region = f.name, f.acct.Name, f.acct.Region
	alias := rec.Alias
	if alias == "" {
		return stage.Result{}, fail("alias is required: the alias to restore")
	}
	done := func(changed bool) (stage.Result, error) {
		return stage.Result{Outputs: map[string]any{"restoredRouting": jsonValue(rec), "restoreChanged": changed}}, nil
	}
	cur, err := readAlias(ctx, f, alias)
	if err != nil {
		return stage.Result{}, err
	}

	if !rec.Existed {
		if !cur.found {
			return done(false)
		}
		if _, err := f.c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String(f.name), Name: aws.String(alias)}); err != nil && !isNotFound(err) {
			return stage.Result{}, apiError(f, "DeleteAlias "+alias, err)
		}
		cur, err = readAlias(ctx, f, alias)
		if err != nil {
			return stage.Result{}, err
		}
		if cur.found {
			return stage.Result{}, fail("alias %s of %s still exists after DeleteAlias and %s; delete it by hand", alias, f.name, cur)
		}
		return done(true)
	}

	want := rec.AdditionalVersionWeights
	if cur.routes(rec.FunctionVersion, want) {
		return done(false)
	}
	if missing, versions, err := missingVersions(ctx, f, rec); err != nil {
		return stage.Result{}, err
	} else if len(missing) > 0 {
		return stage.Result{}, fail("cannot restore alias %s of %s to %s: version %s no longer exists; the alias %s (%s). Route it by hand with a Route stage",
			alias, f.name, describeRouting(rec.FunctionVersion, want), strings.Join(missing, " and "), cur, describeVersions(versions))
	}
	routing := &types.AliasRoutingConfiguration{AdditionalVersionWeights: want}
	if !cur.found {
		if _, err := f.c.CreateAlias(ctx, &lambda.CreateAliasInput{
			FunctionName: aws.String(f.name), Name: aws.String(alias),
			FunctionVersion: aws.String(rec.FunctionVersion), RoutingConfig: routing,
		}); err != nil {
			return stage.Result{}, apiError(f, "CreateAlias "+alias, err)
		}
	} else if _, err := f.c.UpdateAlias(ctx, &lambda.UpdateAliasInput{
		FunctionName: aws.String(f.name), Name: aws.String(alias),
		FunctionVersion: aws.String(rec.FunctionVersion), RoutingConfig: routing,
		RevisionId: aws.String(cur.revision),
	}); err != nil {
		return stage.Result{}, apiError(f, "UpdateAlias "+alias, err)
	}
	cur, err = readAlias(ctx, f, alias)
	if err != nil {
		return stage.Result{}, err
	}
	if !cur.routes(rec.FunctionVersion, want) {
		return stage.Result{}, fail("alias %s of %s %s after restoring, not %s; another change may have raced with the restore",
			alias, f.name, cur, describeRouting(rec.FunctionVersion, want))
	}
	return done(true)
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
