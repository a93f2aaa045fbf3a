package lambda

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/status"
)

// withVersions deploys fn and publishes n versions of it.
func withVersions(t *testing.T, e *localEnv, fn string, n int) {
	t.Helper()
	zip := helloZip(t)
	deploy := typeOf(t, e.accounts, DeployTypeName)
	for i := 1; i <= n; i++ {
		key := fmt.Sprintf("%s/%d.zip", fn, i)
		e.put(t, key, variantZip(t, zip, i))
		newStageRun(t, deploy, "", deployFields(fn, key, map[string]any{"publish": true})).mustSucceed()
	}
}

func deleteFields(fn string, extra map[string]any) map[string]any {
	f := map[string]any{"type": DeleteTypeName, "account": "local", "functionName": fn}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

func TestSelectorResolve(t *testing.T) {
	t.Parallel()
	versions := []int{2, 3, 5, 9}
	for _, tc := range []struct {
		sel, provided string
		retention     int64
		mustExist     bool
		want          []string
		wantErr       string
	}{
		{sel: "$LATEST", want: []string{"9"}},
		{sel: "$latest", want: []string{"9"}},
		{sel: "$PREVIOUS", want: []string{"5"}},
		{sel: "$OLDEST", want: []string{"2"}},
		{sel: "$MOVING", retention: 2, want: []string{"3", "2"}},
		{sel: "$MOVING", retention: 4, want: nil},
		{sel: "$PROVIDED", provided: "5", want: []string{"5"}},
		{sel: "$PROVIDED", provided: "4", mustExist: true, wantErr: "$PROVIDED (version 4) names no version of fn: its published versions are 2, 3, 5, 9"},
		{sel: "4", want: []string{"4"}},
		{sel: "007", mustExist: true, wantErr: "version 7 names no version of fn: its published versions are 2, 3, 5, 9"},
		{sel: "$ALL", want: []string{"$ALL"}},
	} {
		s, err := ParseSelector(tc.sel, tc.provided, tc.retention)
		if err != nil {
			t.Errorf("ParseSelector(%q): %v", tc.sel, err)
			continue
		}
		got, err := s.Resolve("fn", versions, tc.mustExist)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: error %v, want %q", s, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", s, got, err, tc.want)
		}
	}
	// Unresolvable relative selectors name the versions there are.
	for _, tc := range []struct {
		sel      string
		versions []int
		want     string
	}{
		{"$LATEST", nil, "$LATEST names no version of fn: it has no published versions (publish one first)"},
		{"$PREVIOUS", []int{4}, "$PREVIOUS names no version of fn: its published versions are 4"},
		{"$OLDEST", nil, "$OLDEST names no version of fn: it has no published versions (publish one first)"},
	} {
		s, _ := ParseSelector(tc.sel, "", 0)
		if _, err := s.Resolve("fn", tc.versions, true); err == nil || err.Error() != tc.want {
			t.Errorf("%s on %v: %v, want %q", tc.sel, tc.versions, err, tc.want)
		}
	}
	for _, tc := range []struct {
		sel, provided string
		retention     int64
		want          string
	}{
		{"", "", 0, "is required"},
		{"$NEWEST", "", 0, `"$NEWEST" is not a version selector`},
		{"$MOVING", "", 0, "$MOVING needs retentionNumber"},
		{"$PROVIDED", "", 0, "$PROVIDED needs the version number"},
		{"$PROVIDED", "x", 0, `$PROVIDED needs a published version number, not "x"`},
		{"0", "", 0, `"0" is not a version selector`},
	} {
		if _, err := ParseSelector(tc.sel, tc.provided, tc.retention); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSelector(%q, %q, %d) = %v, want %q", tc.sel, tc.provided, tc.retention, err, tc.want)
		}
	}
}

func TestDeleteSelectors(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	withVersions(t, e, "del", 5)
	del := typeOf(t, e.accounts, DeleteTypeName)

	out := newStageRun(t, del, "", deleteFields("del", map[string]any{"version": "$LATEST"})).mustSucceed()
	if out[outDeleteVer] != "5" || out["deleteTask"] != "done" {
		t.Fatalf("$LATEST: outputs %v", out)
	}
	out = newStageRun(t, del, "", deleteFields("del", map[string]any{"version": "$PREVIOUS"})).mustSucceed()
	if out[outDeleteVer] != "3" {
		t.Fatalf("$PREVIOUS: outputs %v", out)
	}
	out = newStageRun(t, del, "", deleteFields("del", map[string]any{"version": "$OLDEST"})).mustSucceed()
	if out[outDeleteVer] != "1" {
		t.Fatalf("$OLDEST: outputs %v", out)
	}
	out = newStageRun(t, del, "", deleteFields("del", map[string]any{"version": "$PROVIDED", "versionNumber": "4"})).mustSucceed()
	if out[outDeleteVer] != "4" {
		t.Fatalf("$PROVIDED: outputs %v", out)
	}
	if vs := versionsOf(t, e, "del"); !slices.Equal(vs, []int{2}) {
		t.Fatalf("versions = %v, want [2]", vs)
	}
	msg := newStageRun(t, del, "", deleteFields("del", map[string]any{"version": "$PREVIOUS"})).mustFail()
	if !strings.Contains(msg, "$PREVIOUS names no version of del: its published versions are 2") || !strings.Contains(msg, noVersionFound) {
		t.Fatalf("unresolvable $PREVIOUS: %q", msg)
	}
	out = newStageRun(t, del, "", deleteFields("del", map[string]any{"version": 2})).mustSucceed()
	if d := anyStrings(out["deleteTask:deleted"]); !slices.Equal(d, []string{"2"}) {
		t.Fatalf("literal 2: outputs %v", out)
	}
	// No published version left: nothing to delete, as Orca (it succeeds
	// with its failureMessage).
	out = newStageRun(t, del, "", deleteFields("del", map[string]any{"version": "$LATEST"})).mustSucceed()
	if out[failureMessageKey] != noVersionFound || !strings.Contains(fmt.Sprint(out["deleteTask:message"]), "it has no published versions") {
		t.Fatalf("$LATEST with none: outputs %v", out)
	}
	out = newStageRun(t, del, "", deleteFields("del", map[string]any{"version": "$ALL"})).mustSucceed()
	if out[outDeleteVer] != "$ALL" || out["deleteTask"] != "done" {
		t.Fatalf("$ALL: outputs %v", out)
	}
	if _, err := e.c.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("del")}); !isNotFound(err) {
		t.Fatalf("function after $ALL: %v", err)
	}
}

// Deleting what is already gone succeeds and says so.
func TestDeleteAlreadyGone(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	withVersions(t, e, "gone", 1)
	del := typeOf(t, e.accounts, DeleteTypeName)
	out := newStageRun(t, del, "", deleteFields("gone", map[string]any{"version": "7"})).mustSucceed()
	if g := anyStrings(out[outAlreadyGone]); !slices.Equal(g, []string{"7"}) || !strings.Contains(fmt.Sprint(out["deleteTask:message"]), "already gone") {
		t.Fatalf("outputs %v", out)
	}
	out = newStageRun(t, del, "", deleteFields("nosuch", map[string]any{"version": "$ALL"})).mustSucceed()
	if g := anyStrings(out[outAlreadyGone]); !slices.Equal(g, []string{"$ALL"}) {
		t.Fatalf("$ALL of a missing function: outputs %v", out)
	}
	msg := newStageRun(t, del, "", deleteFields("nosuch", map[string]any{"version": "$LATEST"})).mustFail()
	if !strings.Contains(msg, "nosuch") || !strings.Contains(msg, "does not exist") {
		t.Fatalf("$LATEST of a missing function: %q", msg)
	}
}

func TestDeleteRefusesAliasedVersion(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	withVersions(t, e, "al", 3)
	ctx := context.Background()
	if _, err := e.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"), FunctionVersion: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("canary"), FunctionVersion: aws.String("3"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"1": 0.1}}}); err != nil {
		t.Fatal(err)
	}
	del := typeOf(t, e.accounts, DeleteTypeName)
	msg := newStageRun(t, del, "", deleteFields("al", map[string]any{"version": "$PREVIOUS"})).mustFail()
	if !strings.Contains(msg, "version 2 is used by alias live") {
		t.Errorf("$PREVIOUS: %q", msg)
	}
	msg = newStageRun(t, del, "", deleteFields("al", map[string]any{"version": "$MOVING", "retentionNumber": 1})).mustFail()
	if !strings.Contains(msg, "version 2 is used by alias live") || !strings.Contains(msg, "version 1 is used by alias canary") {
		t.Errorf("$MOVING: %q", msg)
	}
	if vs := versionsOf(t, e, "al"); !slices.Equal(vs, []int{1, 2, 3}) {
		t.Fatalf("versions = %v: a refused delete deleted something", vs)
	}
}

// $MOVING deletes all but the newest retentionNumber, each verified; a
// re-run after a crash deletes the same versions, never the next ones.
func TestDeleteMoving(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	withVersions(t, e, "mv", 5)
	del := typeOf(t, e.accounts, DeleteTypeName)
	r := newStageRun(t, del, "", deleteFields("mv", map[string]any{"version": "$MOVING", "retentionNumber": 2}))
	out := r.mustSucceed()
	if out[outDeleteVer] != "3,2,1" || !slices.Equal(anyStrings(out["deleteTask:deleted"]), []string{"3", "2", "1"}) {
		t.Fatalf("outputs %v", out)
	}
	if r.runs[taskVerify] != 1 {
		t.Errorf("verifyDeleted ran %d times", r.runs[taskVerify])
	}
	for _, v := range []string{"1", "2", "3"} {
		if _, err := e.c.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("mv"), Qualifier: aws.String(v)}); !isNotFound(err) {
			t.Errorf("version %s: %v", v, err)
		}
	}
	// A re-run of the whole stage with its context: the recorded plan is
	// used again, and the versions it named are already gone.
	if res := r.from(0); res.Status != status.Succeeded {
		t.Fatal(res.Error)
	}
	if vs := versionsOf(t, e, "mv"); !slices.Equal(vs, []int{4, 5}) {
		t.Fatalf("versions = %v, want [4 5]", vs)
	}
	if g := anyStrings(r.outputs[outAlreadyGone]); !slices.Equal(g, []string{"3", "2", "1"}) {
		t.Errorf("already gone on re-run = %v", g)
	}
	// Nothing beyond the retention: nothing to do, not an error.
	out = newStageRun(t, del, "", deleteFields("mv", map[string]any{"version": "$MOVING", "retentionNumber": 5})).mustSucceed()
	if out[outDeleteVer] != "" || !strings.Contains(fmt.Sprint(out["deleteTask:message"]), "nothing to do") {
		t.Errorf("outputs %v", out)
	}
}
