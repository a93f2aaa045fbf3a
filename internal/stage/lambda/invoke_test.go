package lambda

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
)

func TestInvokeCountAndPayloadSources(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx := newFixture(t, env, "hello", helloZip(t), map[string]string{"HELLO_VERSION": "v1"})
	typ := typeOf(t, env.accounts, InvokeTypeName)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/payload.json" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"from": "http"}`))
	}))
	t.Cleanup(srv.Close)
	env.put(t, "payloads/event.json", []byte(`{"from": "s3"}`))

	tests := []struct {
		name   string
		fields map[string]any
		count  int
		from   string
	}{
		{"inline object, three times", map[string]any{"payload": map[string]any{"from": "inline"}, "executionCount": 3}, 3, "inline"},
		{"inline JSON string", map[string]any{"payload": `{"from":"string"}`}, 1, "string"},
		{"embedded/base64 artifact", map[string]any{"payloadArtifact": map[string]any{"account": "embedded-artifact",
			"artifact": map[string]any{"type": "embedded/base64", "name": "payload",
				"reference": base64.StdEncoding.EncodeToString([]byte(`{"from":"base64"}`))}}}, 1, "base64"},
		{"http/file artifact", map[string]any{"payloadArtifact": map[string]any{
			"artifact": map[string]any{"type": "http/file", "reference": srv.URL + "/payload.json"}}}, 1, "http"},
		{"s3 artifact by reference alone", map[string]any{"payloadArtifact": map[string]any{
			"artifact": map[string]any{"reference": "s3://artifacts/payloads/event.json"}}}, 1, "s3"},
		{"s3/object artifact without the wrapper", map[string]any{"payloadArtifact": map[string]any{
			"type": "s3/object", "reference": "s3://artifacts/payloads/event.json"}, "executionCount": "2"}, 2, "s3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newStageRun(t, typ, fixtureApp, invokeFields(fx, tc.fields))
			out := r.mustSucceed()
			list := results(t, out)
			if len(list) != tc.count {
				t.Fatalf("invokeResultsList has %d entries, want %d: %+v", len(list), tc.count, list)
			}
			if r.runs["lambdaInvoke"] != tc.count {
				t.Errorf("lambdaInvoke ran %d times, want one run per invocation (%d)", r.runs["lambdaInvoke"], tc.count)
			}
			for i, inv := range list {
				if inv.StatusCode != 200 || inv.Errors != "" || inv.FunctionError != "" {
					t.Errorf("invocation %d: status %d, errors %q, functionError %q", i, inv.StatusCode, inv.Errors, inv.FunctionError)
				}
				if inv.ExecutedVersion != "$LATEST" {
					t.Errorf("invocation %d: executedVersion %q, want $LATEST", i, inv.ExecutedVersion)
				}
				if got := event(t, inv)["from"]; got != tc.from {
					t.Errorf("invocation %d: the function got event.from %v, want %q (response %s)", i, got, tc.from, inv.Response)
				}
				if inv.Body != inv.Response {
					t.Errorf("invocation %d: body %q differs from response %q, but the response has no body field", i, inv.Body, inv.Response)
				}
				if !strings.Contains(inv.LogText, "START RequestId:") || !strings.Contains(inv.LogText, "REPORT RequestId:") {
					t.Errorf("invocation %d: logText is not the decoded log tail: %q", i, inv.LogText)
				}
				if b, err := base64.StdEncoding.DecodeString(inv.Logs); err != nil || string(b) != inv.LogText {
					t.Errorf("invocation %d: logs %q are not the base64 of logText (%v)", i, inv.Logs, err)
				}
			}
		})
	}
}

func TestInvokeQualifier(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx := newFixture(t, env, "hello", helloZip(t), map[string]string{"HELLO_VERSION": "v0"})
	v1 := fx.publish(map[string]string{"HELLO_VERSION": "v1"}, "")
	v2 := fx.publish(map[string]string{"HELLO_VERSION": "v2"}, "")
	fx.setAlias("live", v1, nil)
	typ := typeOf(t, env.accounts, InvokeTypeName)

	for _, tc := range []struct {
		fields   map[string]any
		executed string
	}{
		{map[string]any{"aliasName": "live"}, v1},
		{map[string]any{"version": v2}, v2},
		{map[string]any{"aliasName": "", "version": 1.0}, v1},
		{map[string]any{"aliasName": ""}, "$LATEST"},
	} {
		r := newStageRun(t, typ, fixtureApp, invokeFields(fx, tc.fields))
		list := results(t, r.mustSucceed())
		if got := list[0].ExecutedVersion; got != tc.executed {
			t.Errorf("%v: executedVersion %q, want %q", tc.fields, got, tc.executed)
		}
	}

	r := newStageRun(t, typ, fixtureApp, invokeFields(fx, map[string]any{"aliasName": "nosuch"}))
	msg := r.mustFail()
	for _, want := range []string{"demo-hello:nosuch", "does not exist"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}

func TestInvokeTimeout(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx := newFixture(t, env, "probe", probeZip(t), map[string]string{"PROBE_VERSION": "p"})
	typ := typeOf(t, env.accounts, InvokeTypeName)

	start := time.Now()
	r := newStageRun(t, typ, fixtureApp, invokeFields(fx, map[string]any{"payload": map[string]any{"sleepMs": 4000}, "timeout": 1}))
	msg := r.mustFail()
	if elapsed := time.Since(start); elapsed >= 4*time.Second {
		t.Errorf("the stage took %s: the 1 s timeout did not end the invocation", elapsed)
	}
	if !strings.Contains(msg, "did not answer within the timeout of 1s") {
		t.Errorf("error %q does not say the invocation timed out", msg)
	}
	if list := results(t, r.outputs); len(list) != 1 || list[0].Errors == "" {
		t.Errorf("invokeResultsList = %+v, want one failed invocation", list)
	}

	// Within the timeout it passes.
	r = newStageRun(t, typ, fixtureApp, invokeFields(fx, map[string]any{"payload": map[string]any{"sleepMs": 100}, "timeout": 5}))
	r.mustSucceed()
}

func TestInvokeFunctionError(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx := newFixture(t, env, "hello", helloZip(t), map[string]string{"HELLO_VERSION": "v9", "FAILURE_RATE": "1"})
	typ := typeOf(t, env.accounts, InvokeTypeName)

	r := newStageRun(t, typ, fixtureApp, invokeFields(fx, map[string]any{"executionCount": 2}))
	msg := r.mustFail()
	want := "invocations 1, 2: hello v9 failed on purpose (FAILURE_RATE=1)"
	if !strings.Contains(msg, want) || !strings.Contains(msg, "2 of 2 invocations of demo-hello:$LATEST") {
		t.Errorf("error %q does not carry the function's own message %q", msg, want)
	}
	list := results(t, r.outputs)
	if len(list) != 2 {
		t.Fatalf("invokeResultsList has %d entries, want 2", len(list))
	}
	if list[0].FunctionError == "" || list[0].ErrorMessage != "hello v9 failed on purpose (FAILURE_RATE=1)" || list[0].ErrorType == "" {
		t.Errorf("recorded function error = %+v", list[0])
	}
}

func TestInvokeExpectations(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx := newFixture(t, env, "probe", probeZip(t), map[string]string{"PROBE_VERSION": "p1"})
	typ := typeOf(t, env.accounts, InvokeTypeName)
	payload := map[string]any{"n": 1, "list": []any{"a", "b"}}

	tests := []struct {
		name    string
		fields  map[string]any
		wantErr string // "" passes
	}{
		{"expectedOutput equal, other key order and spacing", map[string]any{
			"expectedOutput": "{ \"event\": {\"list\": [\"a\",\"b\"], \"n\": 1.0},\n  \"version\": \"p1\" }"}, ""},
		{"expectedOutput as a document value", map[string]any{
			"expectedOutput": map[string]any{"version": "p1", "event": payload}}, ""},
		{"expectedOutput differs", map[string]any{
			"expectedOutput": map[string]any{"version": "p2", "event": payload}}, `expectedOutput: at $.version: want "p2", got "p1"`},
		{"expectedOutput misses a key", map[string]any{
			"expectedOutput": map[string]any{"version": "p1"}}, `expectedOutput: at $: unexpected key "event"`},
		{"expectedSubset holds", map[string]any{"expectedSubset": `{"event": {"n": 1}}`}, ""},
		{"expectedSubset fails", map[string]any{"expectedSubset": map[string]any{"event": map[string]any{"list": []any{"a"}}}},
			"expectedSubset: at $.event.list: want 1 elements, got 2"},
		{"expectedRegex matches", map[string]any{"expectedRegex": `"version":\s*"p\d"`}, ""},
		{"expectedRegex fails", map[string]any{"expectedRegex": `"version":"q`}, `expectedRegex: "\"version\":\"q" does not match the response`},
		{"all three hold", map[string]any{"expectedOutput": map[string]any{"version": "p1", "event": payload},
			"expectedSubset": map[string]any{"version": "p1"}, "expectedRegex": "p1"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields := invokeFields(fx, tc.fields)
			fields["payload"] = payload
			r := newStageRun(t, typ, fixtureApp, fields)
			if tc.wantErr == "" {
				r.mustSucceed()
				return
			}
			msg := r.mustFail()
			if !strings.Contains(msg, tc.wantErr) {
				t.Errorf("error %q does not contain %q", msg, tc.wantErr)
			}
		})
	}
}

// A re-run after a crash continues with the invocations not yet recorded.
func TestInvokeContinuesRecordedInvocations(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx := newFixture(t, env, "hello", helloZip(t), nil)
	typ := typeOf(t, env.accounts, InvokeTypeName)

	recorded := jsonValue([]invocation{{Body: "earlier", Response: "earlier", StatusCode: 200, ExecutedVersion: "$LATEST"}})
	r := newStageRun(t, typ, fixtureApp, invokeFields(fx, map[string]any{"executionCount": 3, invokeResultsKey: recorded}))
	list := results(t, r.mustSucceed())
	if len(list) != 3 || list[0].Body != "earlier" {
		t.Fatalf("invokeResultsList = %+v, want the recorded invocation and two new ones", list)
	}
	if r.runs["lambdaInvoke"] != 2 {
		t.Errorf("lambdaInvoke ran %d times, want 2 (one per missing invocation)", r.runs["lambdaInvoke"])
	}
}

func TestInvokeErrorsBeforeInvoking(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	typ := typeOf(t, env.accounts, InvokeTypeName)
	fx := &fnFixture{t: t, env: env, short: "ghost", name: "demo-ghost"}

	r := newStageRun(t, typ, fixtureApp, invokeFields(fx, nil))
	if msg := r.mustFail(); !strings.Contains(msg, "demo-ghost:$LATEST (account local)") || !strings.Contains(msg, "does not exist") {
		t.Errorf("error %q does not name the missing function", msg)
	}
	r = newStageRun(t, typ, fixtureApp, invokeFields(fx, map[string]any{"payloadArtifact": map[string]any{
		"artifact": map[string]any{"reference": "s3://artifacts/missing.json"}}}))
	if msg := r.mustFail(); !strings.Contains(msg, "payloadArtifact: read s3://artifacts/missing.json") {
		t.Errorf("error %q does not name the missing artifact", msg)
	}
}

func TestInvokeValidate(t *testing.T) {
	t.Parallel()
	typ := newInvokeType(base{})
	tests := []struct {
		fields map[string]any
		field  string // "" when valid
		msg    string
	}{
		{map[string]any{"functionName": "f"}, "", ""},
		{map[string]any{"functionName": "f", "executionCount": 0}, "", ""},
		{map[string]any{"functionName": "f", "executionCount": -1}, "executionCount", "at least 0"},
		{map[string]any{"functionName": "f", "executionCount": 101}, "executionCount", "at most 100"},
		{map[string]any{"functionName": "f", "executionCount": "${parameters.n}"}, "", ""},
		{map[string]any{"functionName": "f", "timeout": 0}, "", ""},
		{map[string]any{"functionName": "f", "timeout": -1}, "timeout", "at least 0"},
		{map[string]any{"functionName": "f", "timeout": "ten"}, "timeout", "number"},
		{map[string]any{"functionName": "f", "version": "$PREVIOUS"}, "version", "version number or $LATEST"},
		{map[string]any{"functionName": "f", "payload": `{"a":`}, "payload", "not valid JSON"},
		{map[string]any{"functionName": "f", "payload": "plain text"}, "", ""},
		{map[string]any{"functionName": "f", "payloadArtifact": map[string]any{"artifact": map[string]any{"type": "gitlab/file", "reference": "x"}}},
			"payloadArtifact", `type "gitlab/file" is not supported: use embedded/base64, http/file, s3/object or github/file`},
		{map[string]any{"functionName": "f", "payloadArtifact": map[string]any{"artifact": map[string]any{"type": "github/file", "reference": "x"}}},
			"payloadArtifact", "must be a GitHub contents API URL"},
		{map[string]any{"functionName": "f", "payloadArtifact": map[string]any{"artifact": map[string]any{"type": "embedded/base64", "reference": "%%%"}}},
			"payloadArtifact", "not valid base64"},
		{map[string]any{"functionName": "f", "expectedRegex": "("}, "expectedRegex", "not a valid regular expression"},
		{map[string]any{"functionName": "f", "expectedSubset": "not json"}, "expectedSubset", "must be JSON"},
		{map[string]any{"functionName": "f", "expectedOutput": "not json is fine"}, "", ""},
		{map[string]any{}, "functionName", "required"},
	}
	for _, tc := range tests {
		errs := fieldErrors(typ.Validate(tc.fields))
		if tc.field == "" {
			if len(errs) > 0 {
				t.Errorf("Validate(%v) = %v, want no errors", tc.fields, errs)
			}
			continue
		}
		if msg, ok := errs[tc.field]; !ok || !strings.Contains(msg, tc.msg) {
			t.Errorf("Validate(%v) = %v, want %s: …%s…", tc.fields, errs, tc.field, tc.msg)
		}
	}
}

func TestInvokeTasks(t *testing.T) {
	t.Parallel()
	typ := newInvokeType(base{})
	if got := typ.Tasks(nil); len(got) != 1 || got[0] != "lambdaInvoke" {
		t.Errorf("Tasks = %v", got)
	}
	var _ stage.Type = typ
}

// invokeFields is an Invoke stage of fx that invokes once, with more on
// top: the stage's default executionCount is Orca's 0.
func invokeFields(fx *fnFixture, more map[string]any) map[string]any {
	return fx.fields(withFields(map[string]any{"executionCount": 1}, more))
}

// Without executionCount nothing is invoked and the stage succeeds, as in
// Orca; without timeout an invocation has Clouddriver's 50 s.
func TestInvokeOrcaDefaults(t *testing.T) {
	t.Parallel()
	env := newLocalEnv(t)
	fx := newFixture(t, env, "defaults", probeZip(t), nil)
	typ := typeOf(t, env.accounts, InvokeTypeName)
	out := newStageRun(t, typ, fixtureApp, fx.fields(nil)).mustSucceed()
	if l, ok := out[invokeResultsKey].([]any); !ok || len(l) != 0 || !strings.Contains(fmt.Sprint(out["invokeTask:message"]), "nothing was invoked") {
		t.Fatalf("outputs = %v, want no invocations and the message", out)
	}
	var s invokeSpec
	if err := stage.Decode(map[string]any{"functionName": "f", "timeout": 0}, &s); err != nil {
		t.Fatal(err)
	}
	if n, d := s.invocations(); n != 0 || d != 50*time.Second {
		t.Errorf("invocations() = %d, %v; want 0, 50s", n, d)
	}
}
