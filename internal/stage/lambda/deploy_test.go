package lambda

import (
	"archive/zip"
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/expr"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
)

const testRole = "arn:aws:iam::000000000000:role/sluice-test"

// deployFields is a Deploy stage of function fn from s3://artifacts/key,
// with extra fields on top.
func deployFields(fn, key string, extra map[string]any) map[string]any {
	f := map[string]any{
		"type": DeployTypeName, "account": "local", "region": "us-east-1",
		"functionName": fn, "runtime": "provided.al2023", "handler": "bootstrap",
		"role": testRole, "s3bucket": testBucket, "s3key": key,
		"architectures": []any{fnbuild.Architecture()},
		"memorySize":    128, "timeout": 3,
	}
	maps.Copy(f, extra)
	return f
}

// versionsOf lists fn's published versions.
func versionsOf(t *testing.T, e *localEnv, fn string) []int {
	t.Helper()
	f := &function{acct: e.acct, c: e.c, name: fn}
	vs, found, err := publishedVersions(context.Background(), f)
	if err != nil || !found {
		t.Fatalf("list versions of %s: found %v, %v", fn, found, err)
	}
	return vs
}

func getConfig(t *testing.T, e *localEnv, fn string) *lambda.GetFunctionOutput {
	t.Helper()
	out, err := e.c.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
	if err != nil {
		t.Fatalf("GetFunction %s: %v", fn, err)
	}
	return out
}

func TestDeployCreatesAndUpdates(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	zip := helloZip(t)
	e.put(t, "hello/1.zip", zip)
	e.put(t, "hello/2.zip", variantZip(t, zip, 2))
	deploy := typeOf(t, e.accounts, DeployTypeName)

	// Create, with the application prefix applied to the name.
	out := newStageRun(t, deploy, "shop", deployFields("orders", "hello/1.zip", map[string]any{
		"publish": true, "envVariables": map[string]any{"HELLO_VERSION": "v1"}, "tags": map[string]any{"team": "a"},
		"description": "first"})).mustSucceed()
	if out["functionName"] != "shop-orders" || out["versionId"] != "1" || out["lambdaCreated"] != true {
		t.Fatalf("outputs after create = %v", out)
	}
	if arn, _ := out["functionARN"].(string); !strings.HasSuffix(arn, ":function:shop-orders") {
		t.Errorf("functionARN = %q", arn)
	}
	got := getConfig(t, e, "shop-orders")
	if v := got.Configuration.Environment.Variables["HELLO_VERSION"]; v != "v1" {
		t.Errorf("HELLO_VERSION = %q, want v1", v)
	}
	if got.Tags["team"] != "a" {
		t.Errorf("tags = %v", got.Tags)
	}

	// Update code and configuration: one new version.
	out = newStageRun(t, deploy, "shop", deployFields("shop-orders", "hello/2.zip", map[string]any{
		"publish": true, "memorySize": 256, "envVariables": map[string]any{"HELLO_VERSION": "v2"}})).mustSucceed()
	if out["versionId"] != "2" || out["lambdaCreated"] != false || out["lambdaVersionPublished"] != true {
		t.Fatalf("outputs after update = %v", out)
	}
	if got := getConfig(t, e, "shop-orders").Configuration; aws.ToInt32(got.MemorySize) != 256 {
		t.Errorf("memorySize = %d, want 256", aws.ToInt32(got.MemorySize))
	}

	// The same deployment again publishes nothing, and says so.
	again := newStageRun(t, deploy, "shop", deployFields("shop-orders", "hello/2.zip", map[string]any{
		"publish": true, "memorySize": 256, "envVariables": map[string]any{"HELLO_VERSION": "v2"}}))
	out = again.mustSucceed()
	if got := again.ctx[stage.ProgressKey]; got != "published no new version: the code and configuration are those of version 2" {
		t.Errorf("progress of an unchanged deploy = %v", got)
	}
	if out["versionId"] != "2" || out["lambdaVersionPublished"] != false {
		t.Fatalf("outputs of an unchanged deploy = %v", out)
	}
	if vs := versionsOf(t, e, "shop-orders"); !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("versions = %v, want [1 2]", vs)
	}

	// The published version runs the new configuration.
	inv, err := e.c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("shop-orders"), Qualifier: aws.String("2"), Payload: []byte(`{}`)})
	if err != nil || inv.FunctionError != nil || !strings.Contains(string(inv.Payload), "hello from v2") {
		t.Fatalf("invoke version 2: %v %v %s", err, aws.ToString(inv.FunctionError), inv.Payload)
	}
}

// A crash between UpdateFunctionCode and PublishVersion, and a crash
// between PublishVersion and the recording of its result: either way the
// re-run publishes exactly one new version.
func TestDeployPublishesOnceAcrossCrashes(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	zip := helloZip(t)
	for i := 1; i <= 3; i++ {
		e.put(t, "v.zip"+string(rune('0'+i)), variantZip(t, zip, i))
	}
	deploy := typeOf(t, e.accounts, DeployTypeName)
	newStageRun(t, deploy, "", deployFields("crash", "v.zip1", map[string]any{"publish": true})).mustSucceed()

	// Crash after the update, before publishing: the engine runs the stage
	// again from the first task with the context as it was.
	r := newStageRun(t, deploy, "", deployFields("crash", "v.zip2", map[string]any{"publish": true}))
	tasks := deploy.Tasks(r.ctx)
	publishAt := slices.Index(tasks, taskPublish)
	for _, name := range tasks[:publishAt] {
		if res := r.task(name); res.Status != status.Succeeded {
			t.Fatalf("%s: %s", name, res.Error)
		}
	}
	if res := r.from(0); res.Status != status.Succeeded {
		t.Fatalf("re-run: %s", res.Error)
	}
	if vs := versionsOf(t, e, "crash"); !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("versions after re-run = %v, want [1 2]", vs)
	}
	if r.outputs["versionId"] != "2" {
		t.Errorf("versionId = %v, want 2", r.outputs["versionId"])
	}

	// Crash after PublishVersion, before its result was recorded: the
	// publish task runs again with the context it had.
	r = newStageRun(t, deploy, "", deployFields("crash", "v.zip3", map[string]any{"publish": true}))
	for _, name := range tasks[:publishAt] {
		if res := r.task(name); res.Status != status.Succeeded {
			t.Fatalf("%s: %s", name, res.Error)
		}
	}
	before := maps.Clone(r.ctx)
	if res := r.task(taskPublish); res.Status != status.Succeeded || r.outputs["versionId"] != "3" {
		t.Fatalf("publish: %s %v", res.Error, r.outputs)
	}
	r.ctx = before // the result was lost
	if res := r.from(0); res.Status != status.Succeeded {
		t.Fatalf("re-run: %s", res.Error)
	}
	if vs := versionsOf(t, e, "crash"); !slices.Equal(vs, []int{1, 2, 3}) {
		t.Fatalf("versions = %v, want [1 2 3]", vs)
	}
	if r.outputs["versionId"] != "3" || r.outputs["lambdaVersionPublished"] != false {
		t.Errorf("outputs of the re-run = %v, want versionId 3 found, not published", r.outputs)
	}
}

// An absent field leaves AWS unchanged; an explicit empty value clears,
// except tags.
func TestDeployAbsentFieldsKeepEmptyFieldsClear(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	e.put(t, "a.zip", helloZip(t))
	deploy := typeOf(t, e.accounts, DeployTypeName)
	newStageRun(t, deploy, "", deployFields("fields", "a.zip", map[string]any{
		"envVariables": map[string]any{"AA": "1"}, "tags": map[string]any{"t": "1"}, "reservedConcurrentExecutions": 5,
	})).mustSucceed()

	check := func(step string, wantEnv, wantTags map[string]string, wantReserved int32) {
		t.Helper()
		got := getConfig(t, e, "fields")
		var env map[string]string
		if got.Configuration.Environment != nil {
			env = got.Configuration.Environment.Variables
		}
		if !maps.Equal(emptyIfNil(env), wantEnv) {
			t.Errorf("%s: env = %v, want %v", step, env, wantEnv)
		}
		if !maps.Equal(emptyIfNil(got.Tags), wantTags) {
			t.Errorf("%s: tags = %v, want %v", step, got.Tags, wantTags)
		}
		var reserved int32 = -1
		if got.Concurrency != nil && got.Concurrency.ReservedConcurrentExecutions != nil {
			reserved = *got.Concurrency.ReservedConcurrentExecutions
		}
		if reserved != wantReserved {
			t.Errorf("%s: reserved concurrency = %d, want %d (-1: none)", step, reserved, wantReserved)
		}
	}
	check("created", map[string]string{"AA": "1"}, map[string]string{"t": "1"}, 5)

	// Absent with leaveAbsent: unchanged.
	newStageRun(t, deploy, "", deployFields("fields", "a.zip", map[string]any{"leaveAbsent": true})).mustSucceed()
	check("absent, leaveAbsent", map[string]string{"AA": "1"}, map[string]string{"t": "1"}, 5)
	// Absent: the reserved concurrency is deleted, as Orca's
	// LambdaDeleteConcurrencyTask does; variables and tags are left.
	newStageRun(t, deploy, "", deployFields("fields", "a.zip", nil)).mustSucceed()
	check("absent", map[string]string{"AA": "1"}, map[string]string{"t": "1"}, -1)
	newStageRun(t, deploy, "", deployFields("fields", "a.zip", map[string]any{"reservedConcurrentExecutions": 5})).mustSucceed()

	// Explicitly empty: cleared — except tags: {} (Deck's default) leaves
	// them, as Clouddriver does.
	out := newStageRun(t, deploy, "", deployFields("fields", "a.zip", map[string]any{
		"envVariables": map[string]any{}, "tags": map[string]any{}, "reservedConcurrentExecutions": "",
	})).mustSucceed()
	check("empty", map[string]string{}, map[string]string{"t": "1"}, -1)
	if ch := anyStrings(out["lambdaConfigurationChanged"]); !slices.Equal(ch, []string{"envVariables", "reservedConcurrentExecutions"}) {
		t.Errorf("lambdaConfigurationChanged = %v", ch)
	}
	// clearTags removes them.
	out = newStageRun(t, deploy, "", deployFields("fields", "a.zip", map[string]any{"tags": map[string]any{}, "clearTags": true})).mustSucceed()
	check("clearTags", map[string]string{}, map[string]string{}, -1)
	if ch := anyStrings(out["lambdaConfigurationChanged"]); !slices.Equal(ch, []string{"tags"}) {
		t.Errorf("lambdaConfigurationChanged = %v", ch)
	}

	// Changed tags: one replaced, one added, one removed.
	newStageRun(t, deploy, "", deployFields("fields", "a.zip", map[string]any{"tags": map[string]any{"x": "1", "y": "2"}})).mustSucceed()
	newStageRun(t, deploy, "", deployFields("fields", "a.zip", map[string]any{"tags": map[string]any{"x": "9", "z": 3}})).mustSucceed()
	check("retagged", map[string]string{}, map[string]string{"x": "9", "z": "3"}, -1)
}

// Aliases are created or updated to $LATEST with their weights cleared,
// as Clouddriver does, on every deploy.
func TestDeployAliasesPointAtLatest(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	zip := helloZip(t)
	e.put(t, "1.zip", zip)
	e.put(t, "2.zip", variantZip(t, zip, 2))
	deploy := typeOf(t, e.accounts, DeployTypeName)
	alias := func(name string) *lambda.GetAliasOutput {
		t.Helper()
		a, err := e.c.GetAlias(context.Background(), &lambda.GetAliasInput{FunctionName: aws.String("aliased"), Name: aws.String(name)})
		if err != nil {
			t.Fatalf("GetAlias %s: %v", name, err)
		}
		return a
	}
	out := newStageRun(t, deploy, "", deployFields("aliased", "1.zip", map[string]any{"publish": true, "aliases": "live"})).mustSucceed()
	if c := anyStrings(out["aliasesCreated"]); !slices.Equal(c, []string{"live"}) || out["lambdaAliasesUpdated"] != true {
		t.Fatalf("aliasesCreated = %v, lambdaAliasesUpdated = %v", out["aliasesCreated"], out["lambdaAliasesUpdated"])
	}
	if v := aws.ToString(alias("live").FunctionVersion); v != "$LATEST" {
		t.Fatalf("alias live → %s, want $LATEST", v)
	}
	// Someone routes live to version 1; the next deploy resets it to $LATEST.
	if _, err := e.c.UpdateAlias(context.Background(), &lambda.UpdateAliasInput{FunctionName: aws.String("aliased"), Name: aws.String("live"),
		FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	out = newStageRun(t, deploy, "", deployFields("aliased", "2.zip", map[string]any{"publish": true, "aliases": []any{"live", "beta"}})).mustSucceed()
	for _, name := range []string{"live", "beta"} {
		a := alias(name)
		if v := aws.ToString(a.FunctionVersion); v != "$LATEST" || a.RoutingConfig != nil && len(a.RoutingConfig.AdditionalVersionWeights) > 0 {
			t.Errorf("alias %s → %s %v, want $LATEST without weights", name, v, a.RoutingConfig)
		}
	}
	upd, _ := out["aliasesUpdated"].([]any)
	if len(upd) != 1 || upd[0].(map[string]any)["alias"] != "live" || upd[0].(map[string]any)["functionVersion"] != "1" {
		t.Errorf("aliasesUpdated = %v, want live moved from 1", out["aliasesUpdated"])
	}
	if c := anyStrings(out["aliasesCreated"]); !slices.Equal(c, []string{"beta"}) {
		t.Errorf("aliasesCreated = %v, want [beta]", c)
	}
	out = newStageRun(t, deploy, "", deployFields("aliased", "2.zip", map[string]any{"aliases": []any{"live"}})).mustSucceed()
	if c := anyStrings(out["aliasesUnchanged"]); !slices.Equal(c, []string{"live"}) {
		t.Errorf("aliasesUnchanged = %v, want [live]", c)
	}
}

// With aliasesCreateOnly, aliases are created on the published version
// when missing and never moved afterwards.
func TestDeployAliasesCreateOnly(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	zip := helloZip(t)
	e.put(t, "1.zip", zip)
	e.put(t, "2.zip", variantZip(t, zip, 2))
	deploy := typeOf(t, e.accounts, DeployTypeName)
	out := newStageRun(t, deploy, "", deployFields("aliased", "1.zip", map[string]any{"publish": true, "aliases": "live", "aliasesCreateOnly": true})).mustSucceed()
	if c := anyStrings(out["aliasesCreated"]); !slices.Equal(c, []string{"live"}) {
		t.Fatalf("aliasesCreated = %v", out["aliasesCreated"])
	}
	out = newStageRun(t, deploy, "", deployFields("aliased", "2.zip", map[string]any{"publish": true, "aliases": []any{"live", "beta"}, "aliasesCreateOnly": true})).mustSucceed()
	a, err := e.c.GetAlias(context.Background(), &lambda.GetAliasInput{FunctionName: aws.String("aliased"), Name: aws.String("live")})
	if err != nil || aws.ToString(a.FunctionVersion) != "1" {
		t.Fatalf("alias live = %v, %v; want it left on version 1", aws.ToString(a.FunctionVersion), err)
	}
	left, _ := out["aliasesLeftAlone"].([]any)
	if len(left) != 1 || left[0].(map[string]any)["alias"] != "live" || left[0].(map[string]any)["functionVersion"] != "1" || left[0].(map[string]any)["wanted"] != "2" {
		t.Errorf("aliasesLeftAlone = %v", out["aliasesLeftAlone"])
	}
	if c := anyStrings(out["aliasesCreated"]); !slices.Equal(c, []string{"beta"}) {
		t.Errorf("aliasesCreated = %v, want [beta]", c)
	}
}

func TestDeployRetainVersions(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	zip := helloZip(t)
	deploy := typeOf(t, e.accounts, DeployTypeName)
	for i := 1; i <= 4; i++ {
		key := "r" + string(rune('0'+i)) + ".zip"
		e.put(t, key, variantZip(t, zip, i))
		newStageRun(t, deploy, "", deployFields("retain", key, map[string]any{"publish": true})).mustSucceed()
		if i == 1 {
			if _, err := e.c.CreateAlias(context.Background(), &lambda.CreateAliasInput{FunctionName: aws.String("retain"),
				Name: aws.String("pinned"), FunctionVersion: aws.String("1")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.put(t, "r5.zip", variantZip(t, zip, 5))
	out := newStageRun(t, deploy, "", deployFields("retain", "r5.zip", map[string]any{"publish": true, "retainVersions": 2})).mustSucceed()
	if vs := versionsOf(t, e, "retain"); !slices.Equal(vs, []int{1, 4, 5}) {
		t.Fatalf("versions = %v, want [1 4 5] (1 kept for alias pinned)", vs)
	}
	if d := anyStrings(out["versionsDeleted"]); !slices.Equal(d, []string{"3", "2"}) {
		t.Errorf("versionsDeleted = %v", d)
	}
}

// A function whose package cannot run fails the stage with AWS's reason,
// not by waiting forever.
func TestDeployFailedStateFailsWithReason(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("README.txt")
	w.Write([]byte("no bootstrap here"))
	zw.Close()
	e.put(t, "bad.zip", buf.Bytes())
	deploy := typeOf(t, e.accounts, DeployTypeName)
	msg := newStageRun(t, deploy, "", deployFields("broken", "bad.zip", nil)).mustFail()
	if !strings.Contains(msg, "broken") || !strings.Contains(msg, "Failed") {
		t.Fatalf("error = %q; want it to name the function and its Failed state with the reason", msg)
	}
	t.Log(msg)
}

func TestDeployLocalRefusals(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	e.put(t, "a.zip", helloZip(t))
	deploy := typeOf(t, e.accounts, DeployTypeName)

	msg := newStageRun(t, deploy, "", map[string]any{"functionName": "img", "role": testRole,
		"imageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"}).mustFail()
	if !strings.Contains(msg, "imageUri") || !strings.Contains(msg, "local Lambda") {
		t.Errorf("imageUri on local: %q", msg)
	}

	msg = newStageRun(t, deploy, "", deployFields("pc", "a.zip", map[string]any{"publish": true, "provisionedConcurrentExecutions": 2})).mustFail()
	if !strings.Contains(msg, "Provisioned concurrency is not supported by the local Lambda") {
		t.Errorf("provisioned concurrency on local: %q", msg)
	}

	// A region the local account lacks, an empty account and an unknown
	// one are refused when the pipeline is saved and, given by an
	// expression, when the stage runs.
	eu := deployFields("r", "a.zip", map[string]any{"region": "eu-west-1"})
	mustRefuse(t, deploy, eu, "region", `account local (the local Lambda) has the regions us-east-1, not "eu-west-1"`)
	msg = newEvaluatedStageRun(t, deploy, "", eu).mustFail()
	if !strings.Contains(msg, `account local (the local Lambda) has the regions us-east-1, not "eu-west-1"`) {
		t.Errorf("region mismatch: %q", msg)
	}
	// "account": "" is not the local account: it fails naming the accounts.
	empty := deployFields("r", "a.zip", map[string]any{"account": ""})
	mustRefuse(t, deploy, empty, "account", "the account is empty", "(local)")
	msg = newEvaluatedStageRun(t, deploy, "", empty).mustFail()
	if !strings.Contains(msg, "the account is empty") || !strings.Contains(msg, "(local)") {
		t.Errorf(`"account": "": %q`, msg)
	}
	prod := deployFields("r", "a.zip", map[string]any{"account": "prod"})
	mustRefuse(t, deploy, prod, "account", `"prod"`, "local")
	msg = newEvaluatedStageRun(t, deploy, "", prod).mustFail()
	if !strings.Contains(msg, `"prod"`) || !strings.Contains(msg, "local") {
		t.Errorf("unknown account: %q", msg)
	}
	msg = newStageRun(t, deploy, "", map[string]any{"functionName": "nocode", "runtime": "provided.al2023"}).mustFail()
	if !strings.Contains(msg, "no code") {
		t.Errorf("create without code: %q", msg)
	}
	msg = newStageRun(t, deploy, "", map[string]any{"functionName": "norole", "s3bucket": testBucket, "s3key": "a.zip"}).mustFail()
	if !strings.Contains(msg, "role") || !strings.Contains(msg, "runtime") || !strings.Contains(msg, "handler") {
		t.Errorf("create without role/runtime/handler: %q", msg)
	}
}

func TestUpdateCodeStage(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	zip := helloZip(t)
	e.put(t, "1.zip", zip)
	e.put(t, "2.zip", variantZip(t, zip, 2))
	update := typeOf(t, e.accounts, UpdateCodeTypeName)
	fields := func(key string) map[string]any {
		return map[string]any{"functionName": "uc", "s3bucket": testBucket, "s3key": key, "publish": true}
	}
	msg := newStageRun(t, update, "", fields("1.zip")).mustFail()
	if !strings.Contains(msg, "does not exist") || !strings.Contains(msg, DeployTypeName) {
		t.Errorf("missing function: %q", msg)
	}
	newStageRun(t, typeOf(t, e.accounts, DeployTypeName), "", deployFields("uc", "1.zip", map[string]any{"publish": true})).mustSucceed()
	out := newStageRun(t, update, "", fields("2.zip")).mustSucceed()
	if out["versionId"] != "2" || out["lambdaVersionPublished"] != true {
		t.Fatalf("outputs = %v", out)
	}
	out = newStageRun(t, update, "", fields("2.zip")).mustSucceed()
	if out["versionId"] != "2" || out["lambdaVersionPublished"] != false {
		t.Fatalf("outputs of a repeated update = %v", out)
	}
	if vs := versionsOf(t, e, "uc"); !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("versions = %v", vs)
	}
}

func TestApplicationPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ app, name, want string }{
		{"shop", "orders", "shop-orders"},
		{"shop", "shop-orders", "shop-orders"},
		{"shop", "Shop-orders", "Shop-orders"},
		{"shop", "shop", "shop"},
		{"shop", "shopping", "shop-shopping"},
		{"", "orders", "orders"},
		{"shop", "arn:aws:lambda:us-east-1:123456789012:function:orders", "arn:aws:lambda:us-east-1:123456789012:function:orders"},
	} {
		if got := applicationPrefixed(tc.app, tc.name); got != tc.want {
			t.Errorf("applicationPrefixed(%q, %q) = %q, want %q", tc.app, tc.name, got, tc.want)
		}
	}
	// The opt-out.
	e := newLocalEnv(t)
	b := &base{accounts: e.accounts}
	var s deploySpec
	if err := stage.Decode(map[string]any{"functionName": "orders", "prefixApplicationNameToFunction": false}, &s); err != nil {
		t.Fatal(err)
	}
	f, err := b.function("shop", s.functionTarget())
	if err != nil || f.name != "orders" {
		t.Fatalf("opt-out: %v, %v", f, err)
	}
}

// Deploy writes Orca's outputs with Orca's meaning: lambdaObject (the
// function as Clouddriver caches it), lambdaConfigUpdated,
// lambdaAliasesUpdated; a failed task leaves failureMessage.
func TestDeployOrcaOutputs(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	zip := helloZip(t)
	e.put(t, "o1.zip", zip)
	e.put(t, "o2.zip", variantZip(t, zip, 2))
	deploy := typeOf(t, e.accounts, DeployTypeName)

	out := newStageRun(t, deploy, "", deployFields("orca-out", "o1.zip", map[string]any{
		"publish": true, "aliases": []any{"live"}, "tags": map[string]any{"team": "a"}})).mustSucceed()
	if out["lambdaConfigUpdated"] != false || out["lambdaAliasesUpdated"] != true {
		t.Errorf("on create: lambdaConfigUpdated %v, lambdaAliasesUpdated %v; want false, true", out["lambdaConfigUpdated"], out["lambdaAliasesUpdated"])
	}
	obj, _ := out["lambdaObject"].(map[string]any)
	if obj["functionName"] != "orca-out" || obj["memorySize"] != int64(128) || obj["account"] != "local" || obj["cloudProvider"] != "aws" {
		t.Fatalf("lambdaObject = %v", obj)
	}
	// Clouddriver caches every entry of ListVersionsByFunction, $LATEST too.
	if rev, _ := obj["revisions"].(map[string]any); len(rev) != 2 || !slices.Contains(slices.Collect(maps.Values(rev)), any("1")) {
		t.Errorf("lambdaObject.revisions = %v, want $LATEST and version 1", obj["revisions"])
	}
	if al, _ := obj["aliasConfigurations"].([]any); len(al) != 1 || al[0].(map[string]any)["name"] != "live" || al[0].(map[string]any)["functionVersion"] != "$LATEST" {
		t.Errorf("lambdaObject.aliasConfigurations = %v", obj["aliasConfigurations"])
	}
	if tags, _ := obj["tags"].(map[string]any); tags["team"] != "a" {
		t.Errorf("lambdaObject.tags = %v", obj["tags"])
	}
	// A pipeline reads it as it does in Spinnaker.
	env := &expr.Env{Stages: []expr.StageInfo{{ID: "1", RefID: "1", Name: "Deploy", Type: DeployTypeName, Status: "SUCCEEDED", Outputs: out}}}
	got, err := expr.Eval(context.Background(), `#stage('Deploy').outputs.lambdaObject.functionArn`, env)
	if err != nil || got != "arn:aws:lambda:us-east-1:000000000000:function:orca-out" {
		t.Errorf("#stage('Deploy').outputs.lambdaObject.functionArn = %v, %v", got, err)
	}

	out = newStageRun(t, deploy, "", deployFields("orca-out", "o2.zip", map[string]any{"publish": true})).mustSucceed()
	if out["lambdaConfigUpdated"] != true || out["lambdaAliasesUpdated"] != false {
		t.Errorf("on update: lambdaConfigUpdated %v, lambdaAliasesUpdated %v; want true, false", out["lambdaConfigUpdated"], out["lambdaAliasesUpdated"])
	}
	if obj, _ := out["lambdaObject"].(map[string]any); len(obj["revisions"].(map[string]any)) != 3 {
		t.Errorf("lambdaObject.revisions after the update = %v, want $LATEST, 1 and 2", obj["revisions"])
	}

	r := newStageRun(t, deploy, "", deployFields("orca-out", "missing.zip", nil))
	res := r.all()
	if res.Status != status.Terminal || r.outputs[failureMessageKey] != res.Error || res.Error == "" {
		t.Errorf("failed deploy: %s %q, failureMessage %v", res.Status, res.Error, r.outputs[failureMessageKey])
	}
}
