package invoke

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// echoOut is what the test function's echo handler returns.
type echoOut struct {
	PID           int             `json:"pid"`
	Event         json.RawMessage `json:"event"`
	RequestID     string          `json:"requestId"`
	FunctionArn   string          `json:"functionArn"`
	Version       string          `json:"version"`
	RemainingMs   int64           `json:"remainingMs"`
	ClientContext map[string]any  `json:"clientContext"`
}

func decodeEcho(tb testing.TB, out *lambda.InvokeOutput) echoOut {
	tb.Helper()
	if out.FunctionError != nil {
		tb.Fatalf("FunctionError = %q, body %s", *out.FunctionError, out.Payload)
	}
	var e echoOut
	if err := json.Unmarshal(out.Payload, &e); err != nil {
		tb.Fatalf("decode echo output %s: %v", out.Payload, err)
	}
	return e
}

func TestInvokeEcho(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.spec(t, "echo", "echo")

	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"k":"v"}}`))
	out := te.invoke(t, &lambda.InvokeInput{
		FunctionName: aws.String("echo"), Payload: []byte(`{"hello":"world"}`), ClientContext: aws.String(cc),
	})
	if out.StatusCode != 200 {
		t.Errorf("StatusCode = %d, want 200", out.StatusCode)
	}
	if got := aws.ToString(out.ExecutedVersion); got != "$LATEST" {
		t.Errorf("ExecutedVersion = %q, want $LATEST", got)
	}
	e := decodeEcho(t, out)
	if string(e.Event) != `{"hello":"world"}` {
		t.Errorf("event = %s, want the payload", e.Event)
	}
	if e.FunctionArn != functionARN("echo") {
		t.Errorf("invoked ARN = %q, want %q", e.FunctionArn, functionARN("echo"))
	}
	if e.RemainingMs <= 0 || e.RemainingMs > 10_000 {
		t.Errorf("remaining time = %d ms, want within the 10 s timeout", e.RemainingMs)
	}
	if e.ClientContext["k"] != "v" {
		t.Errorf("client context custom = %v, want k=v", e.ClientContext)
	}
	if e.RequestID == "" {
		t.Error("the function saw no request ID")
	}

	// No payload is the event {}.
	out = te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("echo")})
	if got := string(decodeEcho(t, out).Event); got != "{}" {
		t.Errorf("event without payload = %s, want {}", got)
	}
}

func TestInvokeWarmReuse(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.spec(t, "warm", "echo")
	first := decodeEcho(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("warm")}))
	for i := range 5 {
		got := decodeEcho(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("warm")}))
		if got.PID != first.PID {
			t.Fatalf("invoke %d ran in pid %d, want the warm environment's pid %d", i+2, got.PID, first.PID)
		}
	}
}

func TestInvokeConcurrencyGrowth(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.spec(t, "grow", "sleep")
	const n = 4
	pids := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			out, err := te.client.Invoke(context.Background(), &lambda.InvokeInput{
				FunctionName: aws.String("grow"), Payload: []byte(`{"ms":300}`),
			})
			if err != nil {
				t.Error(err)
				return
			}
			var o struct{ PID int }
			_ = json.Unmarshal(out.Payload, &o)
			pids <- o.PID
		})
	}
	wg.Wait()
	close(pids)
	seen := map[int]bool{}
	for p := range pids {
		seen[p] = true
	}
	if len(seen) != n {
		t.Errorf("%d concurrent invokes ran in %d environments, want %d", n, len(seen), n)
	}
	// Now all are idle: a further burst reuses them.
	out := decodeSleep(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("grow"), Payload: []byte(`{"ms":0}`)}))
	if !seen[out] {
		t.Errorf("a later invoke ran in pid %d, not in one of the warm environments %v", out, seen)
	}
}

func decodeSleep(tb testing.TB, out *lambda.InvokeOutput) int {
	tb.Helper()
	var o struct{ PID int }
	if err := json.Unmarshal(out.Payload, &o); err != nil || out.FunctionError != nil {
		tb.Fatalf("sleep output %s (function error %v)", out.Payload, out.FunctionError)
	}
	return o.PID
}

func TestInvokeThrottling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		account    int
		reserved   *int
		wantReason string
	}{
		{"reserved concurrency 1", 0, aws.Int(1), "ReservedFunctionConcurrentInvocationLimitExceeded"},
		{"account limit 1", 1, nil, "ConcurrentInvocationLimitExceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			te := newTestEnv(t, Config{AccountConcurrency: tt.account})
			s := te.spec(t, "busy", "sleep")
			s.ReservedConcurrency = tt.reserved

			release := make(chan error, 1)
			go func() {
				_, err := te.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("busy"), Payload: []byte(`{"ms":1000}`)})
				release <- err
			}()
			sluicetest.WaitFor(t, "the first invocation to run", 5*time.Second, func() bool {
				return gaugeValue(te.iv.metrics.concurrent.WithLabelValues("busy", "", "$LATEST")) == 1
			})
			_, err := te.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("busy")})
			var tmr *types.TooManyRequestsException
			if !errors.As(err, &tmr) {
				t.Fatalf("second invoke: err = %v, want TooManyRequestsException", err)
			}
			if got := string(tmr.Reason); got != tt.wantReason {
				t.Errorf("Reason = %q, want %q", got, tt.wantReason)
			}
			if err := <-release; err != nil {
				t.Errorf("first invoke: %v", err)
			}
			if got := counterValue(te.iv.metrics.throttles.WithLabelValues("busy", "", "$LATEST")); got != 1 {
				t.Errorf("throttles = %v, want 1", got)
			}
		})
	}

	t.Run("reserved concurrency 0 throttles everything", func(t *testing.T) {
		t.Parallel()
		te := newTestEnv(t, Config{})
		s := te.spec(t, "off", "echo")
		s.ReservedConcurrency = aws.Int(0)
		_, err := te.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("off")})
		var tmr *types.TooManyRequestsException
		if !errors.As(err, &tmr) || tmr.Reason != "ReservedFunctionConcurrentInvocationLimitExceeded" {
			t.Fatalf("err = %v, want TooManyRequestsException with ReservedFunctionConcurrentInvocationLimitExceeded", err)
		}
	})
}

func TestInvokeTimeout(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	s := te.spec(t, "slow", "sleep")
	s.Timeout = 200 * time.Millisecond

	before := decodeSleep(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("slow"), Payload: []byte(`{"ms":0}`)}))
	out := te.invoke(t, &lambda.InvokeInput{
		FunctionName: aws.String("slow"), Payload: []byte(`{"ms":5000}`), LogType: types.LogTypeTail,
	})
	if aws.ToString(out.FunctionError) != "Unhandled" {
		t.Errorf("FunctionError = %v, want Unhandled", out.FunctionError)
	}
	re := regexp.MustCompile(`^\{"errorMessage":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [0-9a-f-]{36} Task timed out after 0\.20 seconds"\}$`)
	if !re.Match(out.Payload) {
		t.Errorf("body = %s, want AWS's timeout message", out.Payload)
	}
	logs := decodeTail(t, out)
	if !strings.Contains(logs, "Task timed out after 0.20 seconds") {
		t.Errorf("log tail lacks the timeout line:\n%s", logs)
	}
	if processAlive(before) {
		t.Errorf("the timed-out environment (pid %d) is still running", before)
	}
	after := decodeSleep(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("slow"), Payload: []byte(`{"ms":0}`)}))
	if after == before {
		t.Errorf("the invoke after a timeout ran in the killed environment's pid %d", before)
	}
}

// TestInvokeColdStartTimeout: a cold start has two limits, as on AWS: the
// init phase its own InitTimeout (10 s), then the function's Timeout
// counted from when the runtime takes the event. A function with Timeout
// 3 s that never answers times out about 3 s after its init, not after
// 3 s plus the whole init budget (the 13 s this once took).
func TestInvokeColdStartTimeout(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	s := te.spec(t, "cold-slow", "sleep")
	s.Timeout = 3 * time.Second

	start := time.Now()
	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("cold-slow"), Payload: []byte(`{"ms":30000}`)})
	elapsed := time.Since(start)
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "Task timed out after 3.00 seconds") {
		t.Fatalf("FunctionError %v, body %s; want the 3 s timeout", out.FunctionError, out.Payload)
	}
	// A correctness bound, not a speed figure: 3 s plus a cold start of a
	// few milliseconds, with room for a loaded machine, is well below the
	// 13 s of the deadline that included the init budget.
	if elapsed >= 8*time.Second {
		t.Errorf("the cold invoke timed out after %s; want about 3 s after the init (not 3 s + InitTimeout 10 s)", elapsed.Round(time.Millisecond))
	}
}

// TestInvokeInitTimeout: a runtime that never asks for its first event
// fails with Runtime.InitTimeout after InitTimeout, whatever the
// function's own Timeout.
func TestInvokeInitTimeout(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{InitTimeout: 500 * time.Millisecond})
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"bootstrap": "#!/bin/sh\nexec sleep 60\n"})
	if err := os.Chmod(filepath.Join(dir, "bootstrap"), 0o755); err != nil {
		t.Fatal(err)
	}
	te.resolver.add(FunctionSpec{Name: "stuck", Runtime: "provided.al2023", Handler: "h", CodeDir: dir, CodeSha256: "x", Timeout: 30 * time.Second})

	start := time.Now()
	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("stuck")})
	elapsed := time.Since(start)
	want := regexp.MustCompile(`^\{"errorType":"Runtime.InitTimeout","errorMessage":"RequestId: [0-9a-f-]{36} Error: Runtime failed to start within 0\.50 seconds \(init timeout\)"\}$`)
	if aws.ToString(out.FunctionError) != "Unhandled" || !want.Match(out.Payload) {
		t.Fatalf("FunctionError %v, body %s; want Runtime.InitTimeout", out.FunctionError, out.Payload)
	}
	// The function's 30 s Timeout is no part of the init's limit.
	if elapsed >= 20*time.Second {
		t.Errorf("the init timed out after %s; want about InitTimeout (0.5 s), not InitTimeout + Timeout", elapsed.Round(time.Millisecond))
	}
}

func TestInvokeFunctionErrors(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.spec(t, "err", "error")
	te.spec(t, "echo", "echo")
	te.spec(t, "initfail", "initfail")

	tests := []struct {
		name     string
		fn       string
		payload  string
		wantBody *regexp.Regexp
	}{
		{"handler error", "err", `{}`, regexp.MustCompile(`^\{"errorMessage":"boom","errorType":"errorString"\}$`)},
		{"panic", "echo", `{"panic":true}`, regexp.MustCompile(`"errorMessage":"kaboom","errorType":"string","stackTrace":\[`)},
		{"exit", "echo", `{"exit":2}`, regexp.MustCompile(`^\{"errorType":"Runtime.ExitError","errorMessage":"RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 2"\}$`)},
		{"init failure", "initfail", `{}`, regexp.MustCompile(`^\{"errorType":"Runtime.ExitError","errorMessage":"RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 3"\}$`)},
	}
	for _, tt := range tests {
		out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String(tt.fn), Payload: []byte(tt.payload)})
		if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" {
			t.Errorf("%s: status %d, FunctionError %v; want 200 and Unhandled", tt.name, out.StatusCode, out.FunctionError)
		}
		if !tt.wantBody.Match(out.Payload) {
			t.Errorf("%s: body = %s, want it to match %s", tt.name, out.Payload, tt.wantBody)
		}
		if got := aws.ToString(out.ExecutedVersion); got != "$LATEST" {
			t.Errorf("%s: ExecutedVersion = %q, want $LATEST", tt.name, got)
		}
	}
	if got := counterValue(te.iv.metrics.errors.WithLabelValues("echo", "", "$LATEST")); got != 2 {
		t.Errorf("errors of echo = %v, want 2 (panic, exit)", got)
	}
}

func TestInvokePanicReplacesEnvironment(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.spec(t, "fragile", "echo")
	first := decodeEcho(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("fragile")}))
	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("fragile"), Payload: []byte(`{"panic":true}`)})
	if out.FunctionError == nil {
		t.Fatalf("panic: no function error; body %s", out.Payload)
	}
	// aws-lambda-go exits after reporting a panic; the next invoke must
	// succeed in a new environment, whether or not the exit was seen yet.
	for i := range 3 {
		next := decodeEcho(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("fragile")}))
		if next.PID == first.PID {
			t.Fatalf("invoke %d after the panic ran in the crashed pid %d", i+1, first.PID)
		}
	}
	sluicetest.WaitFor(t, "the crashed process to be reaped", 5*time.Second, func() bool { return !processAlive(first.PID) })
}

func TestInvokeLogTail(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.spec(t, "chatty", "echo")
	te.spec(t, "err", "error")

	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("chatty"), LogType: types.LogTypeTail})
	e := decodeEcho(t, out)
	logs := decodeTail(t, out)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^START RequestId: ` + e.RequestID + ` Version: \$LATEST$`),
		regexp.MustCompile(`(?m)^echo: handling ` + e.RequestID + `$`),
		regexp.MustCompile(`(?m)^END RequestId: ` + e.RequestID + `$`),
		regexp.MustCompile(`(?m)^REPORT RequestId: ` + e.RequestID + `\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: [1-9]\d* MB\t`),
	} {
		if !want.MatchString(logs) {
			t.Errorf("log tail does not match %s:\n%s", want, logs)
		}
	}
	if !strings.Contains(logs, "Init Duration:") {
		t.Errorf("the first invoke's REPORT lacks Init Duration:\n%s", logs)
	}
	// The second invoke's log holds only its own lines.
	out = te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("chatty"), LogType: types.LogTypeTail})
	e2 := decodeEcho(t, out)
	logs = decodeTail(t, out)
	if strings.Contains(logs, e.RequestID) || !strings.Contains(logs, "echo: handling "+e2.RequestID) || strings.Contains(logs, "Init Duration") {
		t.Errorf("second invoke's log tail is not its own:\n%s", logs)
	}

	// Output beyond 4 KB is cut from the front; the END and REPORT lines stay.
	out = te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("chatty"), Payload: []byte(`{"print":20000}`), LogType: types.LogTypeTail})
	logs = decodeTail(t, out)
	if len(logs) != 4096 || !strings.Contains(logs, "REPORT RequestId:") || strings.Contains(logs, "START RequestId") {
		t.Errorf("log tail of a chatty invoke: %d bytes, want the last 4096 with REPORT and without START", len(logs))
	}

	out = te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("err"), LogType: types.LogTypeTail})
	if logs := decodeTail(t, out); !strings.Contains(logs, "error: about to fail") || !strings.Contains(logs, `{"errorMessage":"boom","errorType":"errorString"}`) {
		t.Errorf("error invoke's log tail lacks the function's stderr:\n%s", logs)
	}

	// Without LogType Tail there is no log header.
	out = te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("chatty")})
	if out.LogResult != nil {
		t.Errorf("LogResult without Tail = %q, want none", *out.LogResult)
	}
}

func decodeTail(tb testing.TB, out *lambda.InvokeOutput) string {
	tb.Helper()
	if out.LogResult == nil {
		tb.Fatal("no X-Amz-Log-Result")
	}
	b, err := base64.StdEncoding.DecodeString(*out.LogResult)
	if err != nil {
		tb.Fatalf("decode X-Amz-Log-Result: %v", err)
	}
	return string(b)
}

func TestInvokeVersionsAndAliases(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.spec(t, "multi", "echo")
	for _, v := range []string{"1", "2"} {
		te.resolver.add(FunctionSpec{Name: "multi", Version: v, Runtime: "provided.al2023", Handler: "echo", CodeDir: lambdatest.FunctionDir(t), CodeSha256: "v" + v})
	}
	te.resolver.alias("multi", "live", "1", "", 0)

	tests := []struct {
		name, fn, qualifier string
		wantVersion         string
		wantARN             string
	}{
		{"unqualified", "multi", "", "$LATEST", functionARN("multi")},
		{"version", "multi", "2", "2", functionARN("multi") + ":2"},
		{"alias", "multi", "live", "1", functionARN("multi") + ":live"},
		{"alias in the name", "multi:live", "", "1", functionARN("multi") + ":live"},
		{"ARN", functionARN("multi"), "2", "2", functionARN("multi") + ":2"},
		{"$LATEST", "multi", "$LATEST", "$LATEST", functionARN("multi") + ":$LATEST"},
	}
	for _, tt := range tests {
		in := &lambda.InvokeInput{FunctionName: aws.String(tt.fn)}
		if tt.qualifier != "" {
			in.Qualifier = aws.String(tt.qualifier)
		}
		out := te.invoke(t, in)
		e := decodeEcho(t, out)
		if got := aws.ToString(out.ExecutedVersion); got != tt.wantVersion {
			t.Errorf("%s: ExecutedVersion = %q, want %q", tt.name, got, tt.wantVersion)
		}
		if e.Version != tt.wantVersion {
			t.Errorf("%s: AWS_LAMBDA_FUNCTION_VERSION = %q, want %q", tt.name, e.Version, tt.wantVersion)
		}
		if e.FunctionArn != tt.wantARN {
			t.Errorf("%s: invoked ARN = %q, want %q", tt.name, e.FunctionArn, tt.wantARN)
		}
	}

	_, err := te.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("multi"), Qualifier: aws.String("9")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("invoke of a missing version: err = %v, want ResourceNotFoundException", err)
	}
}

func TestInvokeWeightedAlias(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{Rand: seeded(42)})
	for _, v := range []string{"1", "2"} {
		te.resolver.add(FunctionSpec{Name: "canary", Version: v, Runtime: "provided.al2023", Handler: "echo", CodeDir: lambdatest.FunctionDir(t), CodeSha256: "v" + v})
	}
	te.resolver.alias("canary", "live", "1", "2", 0.1)

	const n = 2000
	start := time.Now()
	counts := map[string]int{}
	for range n {
		out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("canary"), Qualifier: aws.String("live"), Payload: []byte(`{}`)})
		e := decodeEcho(t, out)
		v := aws.ToString(out.ExecutedVersion)
		if e.Version != v {
			t.Fatalf("X-Amz-Executed-Version %q but version %q ran", v, e.Version)
		}
		counts[v]++
	}
	// 99.9% binomial interval for p = 0.1, n = 2000: 200 ± 3.29·√(2000·0.1·0.9).
	if got := counts["2"]; got < 156 || got > 244 {
		t.Errorf("version 2 ran %d of %d times, outside the 99.9%% interval [156, 244] of a 10%% weight", got, n)
	}
	if counts["1"]+counts["2"] != n {
		t.Errorf("counts %v, want only versions 1 and 2", counts)
	}

	// The per-version time series agree with what the client saw.
	series := te.iv.Query("canary", "live", start.Add(-time.Second), time.Now().Add(time.Second), time.Hour)
	got := map[string]int64{}
	for _, s := range series {
		for _, p := range s.Points {
			got[s.Version] += p.Invocations
		}
	}
	if got["1"] != int64(counts["1"]) || got["2"] != int64(counts["2"]) {
		t.Errorf("Query invocations = %v, want %v", got, counts)
	}
}

func TestInvokeDryRunAndState(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.spec(t, "dry", "echo")

	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("dry"), InvocationType: types.InvocationTypeDryRun})
	if out.StatusCode != 204 {
		t.Errorf("DryRun StatusCode = %d, want 204", out.StatusCode)
	}
	if got := counterValue(te.iv.metrics.invocations.WithLabelValues("dry", "", "$LATEST")); got != 0 {
		t.Errorf("DryRun ran the function (%v invocations)", got)
	}
	_, err := te.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("nope"), InvocationType: types.InvocationTypeDryRun})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("DryRun of a missing function: err = %v, want ResourceNotFoundException", err)
	}

	te.resolver.setState("dry", "Pending")
	_, err = te.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("dry")})
	var rc *types.ResourceConflictException
	if !errors.As(err, &rc) || !strings.Contains(aws.ToString(rc.Message), "Pending") {
		t.Errorf("invoke while Pending: err = %v, want ResourceConflictException naming the state", err)
	}
}

func TestInvokePayloadLimits(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.spec(t, "big", "big")

	tests := []struct {
		name    string
		typ     types.InvocationType
		payload []byte
	}{
		{"sync over 6 MB", types.InvocationTypeRequestResponse, jsonString(6*1024*1024 + 1)},
		{"event over 256 KB", types.InvocationTypeEvent, jsonString(256*1024 + 1)},
	}
	for _, tt := range tests {
		_, err := te.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("big"), InvocationType: tt.typ, Payload: tt.payload})
		var tl *types.RequestTooLargeException
		if !errors.As(err, &tl) {
			t.Errorf("%s: err = %v, want RequestTooLargeException", tt.name, err)
		}
	}

	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("big"), Payload: []byte(`{"bytes":7000000}`)})
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), `"errorType":"Function.ResponseSizeTooLarge"`) {
		t.Errorf("oversized response: FunctionError %v, body %.200s; want Function.ResponseSizeTooLarge", out.FunctionError, out.Payload)
	}
	out = te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("big"), Payload: []byte(`{"bytes":5000000}`)})
	if out.FunctionError != nil || len(out.Payload) != 5000002 {
		t.Errorf("5 MB response: FunctionError %v, %d bytes; want a 5,000,002-byte JSON string", out.FunctionError, len(out.Payload))
	}

	_, err := te.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("big"), Payload: []byte(`{not json`)})
	var ic *types.InvalidRequestContentException
	if !errors.As(err, &ic) {
		t.Errorf("invalid JSON payload: err = %v, want InvalidRequestContentException", err)
	}
}

func jsonString(size int) []byte {
	b := []byte(`"` + strings.Repeat("x", size-2) + `"`)
	return b
}

func TestInvokeEnvironment(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{Region: "eu-west-1"})
	s := te.spec(t, "env", "env")
	s.MemoryMB = 256
	s.Env = map[string]string{"GREETING": "hello", "AWS_LAMBDA_FUNCTION_NAME": "spoofed"}

	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("env")})
	var env map[string]string
	if err := json.Unmarshal(out.Payload, &env); err != nil {
		t.Fatalf("decode %s: %v", out.Payload, err)
	}
	want := map[string]string{
		"GREETING":                        "hello",
		"_HANDLER":                        "env",
		"AWS_LAMBDA_FUNCTION_NAME":        "env",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/env",
		"AWS_REGION":                      "eu-west-1",
		"AWS_DEFAULT_REGION":              "eu-west-1",
		"LAMBDA_TASK_ROOT":                s.CodeDir,
		"TZ":                              "UTC",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_STREAM_NAME", "LAMBDA_RUNTIME_DIR", "PATH", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		if env[k] == "" {
			t.Errorf("%s is not set", k)
		}
	}
	if _, ok := env["AWS_EXECUTION_ENV"]; ok {
		t.Errorf("AWS_EXECUTION_ENV = %q; provided runtimes do not get it", env["AWS_EXECUTION_ENV"])
	}
	if !regexp.MustCompile(`^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$`).MatchString(env["AWS_LAMBDA_LOG_STREAM_NAME"]) {
		t.Errorf("AWS_LAMBDA_LOG_STREAM_NAME = %q, want AWS's form", env["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
}

func TestInvokePicksUpChangedSpec(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	s := te.spec(t, "changing", "env")
	s.Env = map[string]string{"V": "1"}
	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("changing")})
	if !strings.Contains(string(out.Payload), `"V":"1"`) {
		t.Fatalf("env output %s lacks V=1", out.Payload)
	}
	// $LATEST's configuration changes: a new environment sees it.
	te.resolver.add(FunctionSpec{Name: "changing", Runtime: "provided.al2023", Handler: "env", CodeDir: s.CodeDir, CodeSha256: "test", Env: map[string]string{"V": "2"}})
	out = te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("changing")})
	if !strings.Contains(string(out.Payload), `"V":"2"`) {
		t.Errorf("after the change, env output %s lacks V=2", out.Payload)
	}
}

func TestRetireAndIdleReaping(t *testing.T) {
	t.Parallel()
	t.Run("retire", func(t *testing.T) {
		t.Parallel()
		te := newTestEnv(t, Config{})
		te.spec(t, "old", "echo")
		first := decodeEcho(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("old")}))
		te.iv.Retire("old", "$LATEST")
		sluicetest.WaitFor(t, "the retired environment to exit", 5*time.Second, func() bool { return !processAlive(first.PID) })
		next := decodeEcho(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("old")}))
		if next.PID == first.PID {
			t.Errorf("invoke after Retire ran in the retired pid %d", first.PID)
		}
		te.iv.Retire(functionARN("old"), "")
		sluicetest.WaitFor(t, "Retire of the whole function", 5*time.Second, func() bool { return !processAlive(next.PID) })
	})
	t.Run("idle timeout", func(t *testing.T) {
		t.Parallel()
		te := newTestEnv(t, Config{IdleTimeout: 100 * time.Millisecond})
		te.spec(t, "idle", "echo")
		first := decodeEcho(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("idle")}))
		sluicetest.WaitFor(t, "the idle environment to be reaped", 5*time.Second, func() bool {
			return !processAlive(first.PID) && gaugeValue(te.iv.metrics.environments.WithLabelValues("idle", "$LATEST")) == 0
		})
	})
}

func TestInvokeGo1xHandlerBinary(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	dir := t.TempDir()
	if err := copyFile(lambdatest.FunctionDir(t)+"/bootstrap", dir+"/my-handler"); err != nil {
		t.Fatal(err)
	}
	if err := CheckRuntime("go1.x", dir); err != nil {
		t.Errorf("CheckRuntime(go1.x) without bootstrap: %v", err)
	}
	te.resolver.add(FunctionSpec{Name: "legacy", Runtime: "go1.x", Handler: "my-handler", CodeDir: dir, CodeSha256: "x"})
	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("legacy")})
	decodeEcho(t, out)

	// A missing executable is Runtime.InvalidEntrypoint.
	te.resolver.add(FunctionSpec{Name: "broken", Runtime: "go1.x", Handler: "missing", CodeDir: dir, CodeSha256: "x"})
	out = te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("broken")})
	if !strings.Contains(string(out.Payload), `"errorType":"Runtime.InvalidEntrypoint"`) || out.FunctionError == nil {
		t.Errorf("missing handler binary: body %s, want Runtime.InvalidEntrypoint", out.Payload)
	}
}

func TestInvokeClose(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.spec(t, "c", "echo")
	e := decodeEcho(t, te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("c")}))
	if err := te.iv.Close(); err != nil {
		t.Fatal(err)
	}
	if processAlive(e.PID) {
		t.Errorf("pid %d still runs after Close", e.PID)
	}
	_, err := te.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("c")})
	var se *types.ServiceException
	if !errors.As(err, &se) {
		t.Errorf("invoke after Close: err = %v, want ServiceException", err)
	}
}

func TestTraceIDFormat(t *testing.T) {
	t.Parallel()
	id := traceIDFor([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	if !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`).MatchString(id) {
		t.Errorf("trace ID %q is not in X-Ray's form", id)
	}
}

func TestQualifierOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		functionARN("f"):              "",
		functionARN("f") + ":live":    "live",
		functionARN("f") + ":7":       "7",
		"":                            "",
		"f":                           "",
		functionARN("f") + ":$LATEST": "$LATEST",
	} {
		if got := qualifierOf(in); got != want {
			t.Errorf("qualifierOf(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"f":                         "f",
		"f:live":                    "f",
		functionARN("f") + ":3":     "f",
		testAccount + ":function:f": "f",
	} {
		if got := functionNameOf(in); got != want {
			t.Errorf("functionNameOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInvokeUnavailableRuntime(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.resolver.add(FunctionSpec{Name: "java", Runtime: "java21", Handler: "x", CodeDir: t.TempDir(), CodeSha256: "x"})
	_, err := te.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("java")})
	var ir *types.InvalidRuntimeException
	if !errors.As(err, &ir) || !strings.Contains(aws.ToString(ir.Message), "supported runtimes") {
		t.Errorf("invoke of a java21 function: err = %v, want InvalidRuntimeException listing the supported runtimes", err)
	}
}

func TestEnvironmentProcessGroupIsKilled(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, Config{})
	te.spec(t, "spawner", "echo")
	spawned := regexp.MustCompile(`spawned (\d+)`)
	childOf := func(out *lambda.InvokeOutput) int {
		t.Helper()
		m := spawned.FindStringSubmatch(decodeTail(t, out))
		if m == nil {
			t.Fatalf("no spawned child in the log:\n%s", decodeTail(t, out))
		}
		pid, _ := strconv.Atoi(m[1])
		return pid
	}

	// Retired: the whole group goes, background children included.
	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("spawner"), Payload: []byte(`{"spawn":true}`), LogType: types.LogTypeTail})
	pid, child := decodeEcho(t, out).PID, childOf(out)
	te.iv.Retire("spawner", "")
	sluicetest.WaitFor(t, "the retired environment's group to exit", 5*time.Second, func() bool { return !processAlive(pid) && !processAlive(child) })

	// The runtime exits by itself, leaving a child holding its output pipe:
	// the invoke still ends (Runtime.ExitError) and the child is killed.
	out = te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("spawner"), Payload: []byte(`{"spawn":true,"exit":2}`), LogType: types.LogTypeTail})
	if !strings.Contains(string(out.Payload), "Runtime.ExitError") {
		t.Errorf("body = %s, want Runtime.ExitError", out.Payload)
	}
	child = childOf(out)
	sluicetest.WaitFor(t, "the exited runtime's child to be killed", 5*time.Second, func() bool { return !processAlive(child) })
}

// FuzzInvokeRequestDecoding: what Invoke accepts as payload is JSON, and an
// accepted client context can travel in a header line to the runtime.
func FuzzInvokeRequestDecoding(f *testing.F) {
	f.Add([]byte(`{"a":1}`), base64.StdEncoding.EncodeToString([]byte(`{"custom":{"k":"v"}}`)))
	f.Add([]byte(``), base64.StdEncoding.EncodeToString([]byte("{\n \"k\": \"a\\nb\"\n}")))
	f.Add([]byte(`not json`), "!!")
	f.Fuzz(func(t *testing.T, payload []byte, clientContext string) {
		for _, size := range []int64{int64(len(payload)), -1} { // Content-Length known, or not
			if p, err := readPayload(bytes.NewReader(payload), size, maxAsyncPayload); err == nil && !json.Valid(p) {
				t.Errorf("readPayload (size %d) accepted %q as %q, which is not JSON", size, payload, p)
			}
		}
		cc, err := decodeClientContext(clientContext)
		if err != nil {
			return
		}
		if strings.ContainsAny(cc, "\r\n\x00") || (cc != "" && !json.Valid([]byte(cc))) {
			t.Errorf("client context %q decoded to %q, unfit for a header", clientContext, cc)
		}
	})
}
