package invoke

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func writeFiles(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// interpreterTest runs the shared checks of a shipped bootstrap: a handler
// that returns the event and context fields, one that raises, one that
// cannot be loaded, and the logs of all three.
func interpreterTest(t *testing.T, runtime string, files map[string]string, handler, failing string) {
	te := newTestEnv(t, Config{})
	dir := t.TempDir()
	writeFiles(t, dir, files)
	if err := CheckRuntime(runtime, dir); err != nil {
		t.Fatalf("CheckRuntime(%s): %v", runtime, err)
	}
	te.resolver.add(FunctionSpec{Name: "ok", Runtime: runtime, Handler: handler, CodeDir: dir, CodeSha256: "x", Timeout: 10 * time.Second, Env: map[string]string{"GREETING": "hi"}})
	te.resolver.add(FunctionSpec{Name: "fails", Runtime: runtime, Handler: failing, CodeDir: dir, CodeSha256: "x", Timeout: 10 * time.Second})
	te.resolver.add(FunctionSpec{Name: "missing", Runtime: runtime, Handler: "nosuchmodule.handler", CodeDir: dir, CodeSha256: "x", Timeout: 10 * time.Second})
	te.resolver.alias("ok", "live", "$LATEST", "", 0)

	var pid float64
	for i := range 2 {
		out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("ok"), Qualifier: aws.String("live"), Payload: []byte(`{"n":7}`), LogType: types.LogTypeTail})
		if out.FunctionError != nil {
			t.Fatalf("invoke: function error %s: %s\nlog:\n%s", *out.FunctionError, out.Payload, decodeTail(t, out))
		}
		var got map[string]any
		if err := json.Unmarshal(out.Payload, &got); err != nil {
			t.Fatalf("decode %s: %v", out.Payload, err)
		}
		want := map[string]any{
			"event": map[string]any{"n": float64(7)}, "functionName": "ok", "greeting": "hi",
			"invokedArn": functionARN("ok") + ":live", "execEnv": "AWS_Lambda_" + runtime,
		}
		for k, v := range want {
			if b1, _ := json.Marshal(got[k]); string(b1) != mustJSON(v) {
				t.Errorf("%s = %s, want %s", k, b1, mustJSON(v))
			}
		}
		if rem, _ := got["remaining"].(float64); rem <= 0 || rem > 10000 {
			t.Errorf("remaining time = %v ms, want within the 10 s timeout", got["remaining"])
		}
		if id, _ := got["requestId"].(string); len(id) != 36 {
			t.Errorf("request ID = %q", id)
		}
		logs := decodeTail(t, out)
		if !strings.Contains(logs, "handling "+got["requestId"].(string)) || !strings.Contains(logs, "START RequestId: "+got["requestId"].(string)) {
			t.Errorf("log tail lacks the handler's output:\n%s", logs)
		}
		if i == 1 && got["pid"] != pid {
			t.Errorf("second invoke ran in pid %v, want the warm %v", got["pid"], pid)
		}
		pid, _ = got["pid"].(float64)
	}

	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("fails"), LogType: types.LogTypeTail})
	var fe struct{ ErrorType, ErrorMessage string }
	_ = json.Unmarshal(out.Payload, &fe)
	if aws.ToString(out.FunctionError) != "Unhandled" || fe.ErrorMessage != "nope" || fe.ErrorType == "" {
		t.Errorf("raising handler: FunctionError %v, body %s; want Unhandled with message nope", out.FunctionError, out.Payload)
	}
	if logs := decodeTail(t, out); !strings.Contains(logs, "nope") {
		t.Errorf("raising handler's log tail lacks the error:\n%s", logs)
	}

	out = te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("missing")})
	_ = json.Unmarshal(out.Payload, &fe)
	if out.FunctionError == nil || fe.ErrorType != "Runtime.ImportModuleError" {
		t.Errorf("missing module: FunctionError %v, body %s; want Runtime.ImportModuleError", out.FunctionError, out.Payload)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestPythonRuntime(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed; the python runtime cannot be tested here")
	}
	interpreterTest(t, "python3.12", map[string]string{
		"app.py": `import os

def handler(event, context):
    print("handling", context.aws_request_id)
    return {
        "event": event,
        "functionName": context.function_name,
        "requestId": context.aws_request_id,
        "invokedArn": context.invoked_function_arn,
        "remaining": context.get_remaining_time_in_millis(),
        "greeting": os.environ.get("GREETING"),
        "execEnv": os.environ.get("AWS_EXECUTION_ENV"),
        "pid": os.getpid(),
    }

def fail(event, context):
    raise ValueError("nope")
`,
	}, "app.handler", "app.fail")
}

func TestNodeRuntime(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed; the nodejs runtime cannot be tested here")
	}
	interpreterTest(t, "nodejs20.x", map[string]string{
		"index.js": `exports.handler = async (event, context) => {
  console.log("handling", context.awsRequestId);
  return {
    event,
    functionName: context.functionName,
    requestId: context.awsRequestId,
    invokedArn: context.invokedFunctionArn,
    remaining: context.getRemainingTimeInMillis(),
    greeting: process.env.GREETING,
    execEnv: process.env.AWS_EXECUTION_ENV,
    pid: process.pid,
  };
};
exports.fail = (event, context, callback) => callback(new Error("nope"));
`,
	}, "index.handler", "index.fail")
}

func TestNodeRuntimeESM(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	te := newTestEnv(t, Config{})
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"lib/handler.mjs": "export const main = async (event) => ({ doubled: event.n * 2 });\n"})
	te.resolver.add(FunctionSpec{Name: "esm", Runtime: "nodejs22.x", Handler: "lib/handler.main", CodeDir: dir, CodeSha256: "x", Timeout: 10 * time.Second})
	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("esm"), Payload: []byte(`{"n":21}`)})
	if out.FunctionError != nil || string(out.Payload) != `{"doubled":42}` {
		t.Errorf("ES module handler: FunctionError %v, body %s; want {\"doubled\":42}", out.FunctionError, out.Payload)
	}
}

func TestCheckRuntime(t *testing.T) {
	t.Parallel()
	withBootstrap := t.TempDir()
	writeFiles(t, withBootstrap, map[string]string{"bootstrap": "#!/bin/sh\n"})
	if err := os.Chmod(filepath.Join(withBootstrap, "bootstrap"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExecutable := t.TempDir()
	writeFiles(t, notExecutable, map[string]string{"bootstrap": "#!/bin/sh\n"})
	empty := t.TempDir()

	tests := []struct {
		runtime, dir string
		wantErr      string // "" for success
		unsupported  bool
	}{
		{"provided.al2023", withBootstrap, "", false},
		{"provided.al2", withBootstrap, "", false},
		{"provided", withBootstrap, "", false},
		{"go1.x", withBootstrap, "", false},
		{"provided.al2023", empty, "needs an executable file named bootstrap", false},
		{"provided.al2023", notExecutable, "no execute permission", false},
		{"python3.12", empty, "", false},
		{"nodejs20.x", empty, "", false},
		{"java21", empty, "supported runtimes: provided.al2023", true},
		{"ruby3.3", empty, "not supported by the local Lambda", true},
		{"", empty, "container image", true},
	}
	for _, tt := range tests {
		err := CheckRuntime(tt.runtime, tt.dir)
		switch {
		case tt.wantErr == "" && err != nil:
			if _, lerr := exec.LookPath(map[string]string{"python3.12": "python3", "nodejs20.x": "node"}[tt.runtime]); lerr != nil {
				continue // the interpreter is not installed here
			}
			t.Errorf("CheckRuntime(%q): %v", tt.runtime, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("CheckRuntime(%q) = %v, want an error containing %q", tt.runtime, err, tt.wantErr)
		case tt.wantErr != "" && errors.Is(err, ErrUnsupportedRuntime) != tt.unsupported:
			t.Errorf("CheckRuntime(%q): errors.Is(ErrUnsupportedRuntime) = %v, want %v", tt.runtime, !tt.unsupported, tt.unsupported)
		}
	}
}

func TestShippedBootstrapsAreWrittenOnce(t *testing.T) {
	t.Parallel()
	rt := runtimeFiles{dir: filepath.Join(t.TempDir(), "runtime")}
	dir, err := rt.write()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"python_bootstrap.py", "node_bootstrap.js"} {
		want, _ := bootstraps.ReadFile("bootstrap/" + name)
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s not written as embedded (err %v)", name, err)
		}
	}
}

// TestShellRuntime runs the custom runtime of AWS's tutorial: a shell
// bootstrap that speaks the Runtime API with curl, one connection per
// request.
func TestShellRuntime(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	te := newTestEnv(t, Config{})
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"bootstrap": `#!/bin/sh
set -eu
echo "init $_HANDLER"
while true; do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  echo "handling $REQUEST_ID"
  if [ "$EVENT_DATA" = '{"fail":true}' ]; then
    curl -sS -H "Lambda-Runtime-Function-Error-Type: Shell.Failure" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/error" -d "not json" >/dev/null
  else
    curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" -d "{\"got\":$EVENT_DATA}" >/dev/null
  fi
done
`})
	if err := os.Chmod(filepath.Join(dir, "bootstrap"), 0o755); err != nil {
		t.Fatal(err)
	}
	te.resolver.add(FunctionSpec{Name: "sh", Runtime: "provided.al2", Handler: "function.handler", CodeDir: dir, CodeSha256: "x", Timeout: 10 * time.Second})
	for i := range 3 {
		out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("sh"), Payload: []byte(fmt.Sprintf(`{"n":%d}`, i)), LogType: types.LogTypeTail})
		if want := fmt.Sprintf(`{"got":{"n":%d}}`, i); out.FunctionError != nil || string(out.Payload) != want {
			t.Fatalf("invoke %d: FunctionError %v, body %s; want %s", i, out.FunctionError, out.Payload, want)
		}
		if logs := decodeTail(t, out); !strings.Contains(logs, "handling ") {
			t.Errorf("invoke %d: log tail lacks the bootstrap's output:\n%s", i, logs)
		}
	}
	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("sh"), Payload: []byte(`{"fail":true}`)})
	if aws.ToString(out.FunctionError) != "Unhandled" || string(out.Payload) != `{"errorType":"Shell.Failure","errorMessage":"not json"}` {
		t.Errorf("error with a non-JSON body: FunctionError %v, body %s", out.FunctionError, out.Payload)
	}
}
