package lambda

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// savePipeline saves doc (application fixtureApp) and returns the saved
// revision.
func (r *engineRun) savePipeline(t *testing.T, doc map[string]any) *store.Pipeline {
	t.Helper()
	doc = withFields(doc, map[string]any{"application": fixtureApp})
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Parse(b)
	if err != nil {
		t.Fatalf("parse pipeline: %v", err)
	}
	if err := p.Validate(pipeline.ValidateOptions{}); err != nil {
		t.Fatalf("validate pipeline: %v", err)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := r.st.PipelineSave(context.Background(), &store.PipelineSaveParams{Application: p.Application, Name: p.Name, Document: raw, User: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

// triggerOf decodes an execution's trigger.
func triggerOf(t *testing.T, ex *store.Execution) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ex.Trigger, &m); err != nil {
		t.Fatalf("trigger %s: %v", ex.Trigger, err)
	}
	return m
}

// boundReference is the reference of the artifact bound to expected id
// in the execution's trigger.resolvedExpectedArtifacts.
func boundReference(t *testing.T, ex *store.Execution, id string) string {
	t.Helper()
	list, _ := triggerOf(t, ex)["resolvedExpectedArtifacts"].([]any)
	for _, item := range list {
		m, _ := item.(map[string]any)
		if m["id"] == id {
			b, _ := m["boundArtifact"].(map[string]any)
			s, _ := b["reference"].(string)
			return s
		}
	}
	t.Fatalf("no expected artifact %q in trigger.resolvedExpectedArtifacts: %s", id, ex.Trigger)
	return ""
}

func codeSha(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestArtifactsDeployCode: a manual trigger brings an s3/object artifact
// (uploaded to the local Lambda's S3); it binds to the pipeline's
// expected artifact, and a Deploy stage whose codeArtifact names that
// expected artifact deploys that zip. A run without an artifact binds
// the last execution's (usePriorArtifact); an expected artifact nothing
// binds refuses the run, naming it.
func TestArtifactsDeployCode(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			env := newLocalEnv(t)
			zip1, zip2, zip3 := variantZip(t, helloZip(t), 1), variantZip(t, helloZip(t), 2), variantZip(t, helloZip(t), 3)
			env.put(t, "builds/orders-1.zip", zip1)
			env.put(t, "builds/orders-2.zip", zip2)
			r := startEngineRun(t, openStore(t, dialect), Options{Accounts: env.accounts})
			fn := "artdeploy-" + dialect
			deploy := deployFields(fn, "", map[string]any{"refId": "1", "name": "Deploy", "prefixApplicationNameToFunction": false,
				"codeArtifact": map[string]any{"artifactId": "code"}})
			delete(deploy, "s3bucket")
			delete(deploy, "s3key")
			saved := r.savePipeline(t, map[string]any{"name": "release", "stages": []any{deploy},
				"expectedArtifacts": []any{map[string]any{
					"id": "code", "displayName": "orders zip", "usePriorArtifact": true,
					"matchArtifact": map[string]any{"type": "s3/object", "name": "orders", "reference": `s3://artifacts/builds/orders-\d+\.zip`},
				}}})
			ctx := context.Background()
			run := func(artifacts ...pipeline.Artifact) *store.Execution {
				t.Helper()
				ex, err := r.e.Trigger(ctx, &engine.TriggerParams{Pipeline: saved, User: "tester", Artifacts: artifacts})
				if err != nil {
					t.Fatalf("trigger: %v", err)
				}
				done := r.waitDone(t, ex.ID)
				if done.Status != status.Succeeded {
					t.Fatalf("execution ended %s: %s", done.Status, done.Stages[0].Context)
				}
				return done
			}
			sha := func() string {
				t.Helper()
				out, err := env.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
				if err != nil {
					t.Fatal(err)
				}
				return aws.ToString(out.Configuration.CodeSha256)
			}

			ex := run(pipeline.Artifact{"type": "s3/object", "name": "orders", "reference": "s3://artifacts/builds/orders-1.zip"},
				pipeline.Artifact{"type": "embedded/base64", "name": "notes", "reference": "e30="})
			if got := boundReference(t, ex, "code"); got != "s3://artifacts/builds/orders-1.zip" {
				t.Errorf("bound %q, want orders-1.zip", got)
			}
			if arts, _ := triggerOf(t, ex)["artifacts"].([]any); len(arts) != 2 {
				t.Errorf("trigger.artifacts = %v, want the 2 received", arts)
			}
			if got, want := sha(), codeSha(zip1); got != want {
				t.Fatalf("CodeSha256 after run 1 = %s, want orders-1.zip's %s", got, want)
			}

			run(pipeline.Artifact{"type": "s3/object", "name": "orders", "reference": "s3://artifacts/builds/orders-2.zip"})
			if got, want := sha(), codeSha(zip2); got != want {
				t.Fatalf("CodeSha256 after run 2 = %s, want orders-2.zip's %s", got, want)
			}
			// Someone deploys other code by hand; a run with no artifact
			// binds the last execution's (orders-2) and deploys it again.
			if _, err := env.c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(fn), ZipFile: zip3}); err != nil {
				t.Fatal(err)
			}
			waitCodeUpdated(t, env, fn)
			ex = run()
			if got := boundReference(t, ex, "code"); got != "s3://artifacts/builds/orders-2.zip" {
				t.Errorf("prior run bound %q, want the last execution's orders-2.zip", got)
			}
			if got, want := sha(), codeSha(zip2); got != want {
				t.Fatalf("CodeSha256 after the prior run = %s, want orders-2.zip's %s", got, want)
			}

			// Without usePriorArtifact nothing binds a run without artifacts.
			strict := r.savePipeline(t, map[string]any{"name": "strict", "stages": []any{deploy},
				"expectedArtifacts": []any{map[string]any{"id": "code", "matchArtifact": map[string]any{"type": "s3/object"}}}})
			_, err := r.e.Trigger(ctx, &engine.TriggerParams{Pipeline: strict, User: "tester",
				Artifacts: []pipeline.Artifact{{"type": "http/file", "reference": "http://127.0.0.1/x"}}})
			var ve *pipeline.ValidationError
			if !errors.As(err, &ve) || ve.Problems[0].Path != "artifacts" || !strings.Contains(err.Error(), `unmatched expected artifact "code"`) {
				t.Fatalf("trigger without a matching artifact = %v, want a ValidationError at artifacts naming \"code\"", err)
			}
			page, err := r.st.ExecutionList(ctx, &store.ExecutionListParams{Application: fixtureApp, PipelineName: "strict"})
			if err != nil || len(page.Executions) != 0 {
				t.Errorf("executions of strict = %d, %v; want none created", len(page.Executions), err)
			}
		})
	}
}

func waitCodeUpdated(t *testing.T, env *localEnv, fn string) {
	t.Helper()
	w := lambda.NewFunctionUpdatedV2Waiter(env.c, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 5*time.Millisecond, 50*time.Millisecond
	})
	if err := w.Wait(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(fn)}, time.Minute); err != nil {
		t.Fatalf("FunctionUpdatedV2 %s: %v", fn, err)
	}
}

// TestArtifactsInvokePayload: Invoke stages whose payloadArtifact names
// an expected artifact by id send the bound artifact's content:
// embedded/base64, http/file from a local server, github/file from a
// local server that answers as GitHub's contents API does and checks the
// token; trigger.artifacts is reachable from expressions.
func TestArtifactsInvokePayload(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			env := newLocalEnv(t)
			fx := newFixture(t, env, "artinv-"+dialect, probeZip(t), nil)
			files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/events/order.json" {
					http.NotFound(w, r)
					return
				}
				w.Write([]byte(`{"from":"http"}`))
			}))
			t.Cleanup(files.Close)
			gh := githubContents(t, "gh-token", map[string]string{"events/order.json@main": `{"from":"github"}`})
			r := startEngineRun(t, openStore(t, dialect), Options{Accounts: env.accounts,
				Artifacts: ArtifactOptions{GitHubToken: "gh-token", GitHubAPIURL: gh.URL}})
			invoke := func(ref, name string, more map[string]any) map[string]any {
				return invokeFields(fx, withFields(map[string]any{"type": InvokeTypeName, "refId": ref, "name": name}, more))
			}
			saved := r.savePipeline(t, map[string]any{"name": "events", "stages": []any{
				invoke("1", "embedded", map[string]any{"payloadArtifact": map[string]any{"id": "event", "account": "embedded-artifact"}}),
				invoke("2", "http", map[string]any{"payloadArtifact": map[string]any{"id": "remote"}}),
				invoke("3", "github", map[string]any{"payloadArtifact": map[string]any{"id": "repo"}}),
				invoke("4", "expression", map[string]any{"payload": map[string]any{
					"from": "${trigger.artifacts[0].name}", "bound": "${trigger.resolvedExpectedArtifacts[1].boundArtifact.reference}"}}),
			}, "expectedArtifacts": []any{
				map[string]any{"id": "event", "matchArtifact": map[string]any{"type": "embedded/base64", "name": "event"}},
				map[string]any{"id": "remote", "matchArtifact": map[string]any{"type": "http/file"}},
				map[string]any{"id": "repo", "matchArtifact": map[string]any{"type": "github/file"}},
			}})
			ex, err := r.e.Trigger(context.Background(), &engine.TriggerParams{Pipeline: saved, User: "tester", Artifacts: []pipeline.Artifact{
				{"type": "embedded/base64", "name": "event", "reference": base64.StdEncoding.EncodeToString([]byte(`{"from":"embedded"}`))},
				{"type": "http/file", "name": "order", "reference": files.URL + "/events/order.json"},
				{"type": "github/file", "name": "events/order.json", "version": "main", "reference": gh.URL + "/repos/acme/orders/contents/events/order.json"},
			}})
			if err != nil {
				t.Fatalf("trigger: %v", err)
			}
			done := r.waitDone(t, ex.ID)
			if done.Status != status.Succeeded {
				for _, s := range done.Stages {
					t.Logf("stage %s %s: %s", s.Name, s.Status, s.Context)
				}
				t.Fatalf("execution ended %s", done.Status)
			}
			want := map[string]map[string]any{
				"embedded":   {"from": "embedded"},
				"http":       {"from": "http"},
				"github":     {"from": "github"},
				"expression": {"from": "event", "bound": files.URL + "/events/order.json"},
			}
			for _, s := range done.Stages {
				var out map[string]any
				if err := json.Unmarshal(s.Outputs, &out); err != nil {
					t.Fatal(err)
				}
				list := results(t, out)
				if len(list) != 1 {
					t.Fatalf("stage %s: %d invocations, want 1", s.Name, len(list))
				}
				got := event(t, list[0])
				for k, v := range want[s.Name] {
					if fmt.Sprint(got[k]) != fmt.Sprint(v) {
						t.Errorf("stage %s: the function got event.%s = %v, want %v (event %v)", s.Name, k, got[k], v, got)
					}
				}
			}
		})
	}
}

// TestCodeArtifactDownloaded: Update Code and Deploy take code from an
// http/file and a github/file artifact, downloaded and sent as the .zip.
func TestCodeArtifactDownloaded(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	zip1, zip2 := variantZip(t, helloZip(t), 11), variantZip(t, helloZip(t), 12)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/orders.zip" {
			http.NotFound(w, r)
			return
		}
		w.Write(zip1)
	}))
	t.Cleanup(files.Close)
	gh := githubContents(t, "tok", map[string]string{"dist/orders.zip@v2": string(zip2)})
	opts := Options{Accounts: env.accounts, Artifacts: ArtifactOptions{GitHubToken: "tok", GitHubAPIURL: gh.URL}}
	deploy := typeWith(t, DeployTypeName, opts)
	update := typeWith(t, UpdateCodeTypeName, opts)
	const fn = "dlcode"
	f := deployFields(fn, "", map[string]any{"prefixApplicationNameToFunction": false,
		"codeArtifact": map[string]any{"artifact": map[string]any{"type": "http/file", "reference": files.URL + "/orders.zip"}}})
	delete(f, "s3bucket")
	delete(f, "s3key")
	newStageRun(t, deploy, "", f).mustSucceed()
	ctx := context.Background()
	sha := func() string {
		out, err := env.c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Configuration.CodeSha256)
	}
	if got, want := sha(), codeSha(zip1); got != want {
		t.Fatalf("CodeSha256 after the http/file Deploy = %s, want %s", got, want)
	}
	newStageRun(t, update, "", map[string]any{"account": "local", "region": "us-east-1", "functionName": fn,
		"codeArtifact": map[string]any{"artifact": map[string]any{"type": "github/file", "version": "v2",
			"reference": gh.URL + "/repos/acme/orders/contents/dist/orders.zip"}}}).mustSucceed()
	if got, want := sha(), codeSha(zip2); got != want {
		t.Fatalf("CodeSha256 after the github/file Update Code = %s, want %s", got, want)
	}
	msg := newStageRun(t, update, "", map[string]any{"account": "local", "region": "us-east-1", "functionName": fn,
		"codeArtifact": map[string]any{"artifact": map[string]any{"type": "http/file", "reference": files.URL + "/missing.zip"}}}).mustFail()
	if !strings.Contains(msg, "codeArtifact: GET") || !strings.Contains(msg, "404") {
		t.Errorf("Update Code from a missing file: %q, want the GET's 404 named", msg)
	}
}
