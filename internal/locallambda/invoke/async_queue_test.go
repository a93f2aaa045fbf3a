package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// countLines returns the number of lines in path (0 if it does not exist).
func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// queuedFiles lists the event files in an Invoker's queue directory.
func queuedFiles(tb testing.TB, dataDir string) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dataDir, "async", "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestEventRetriesTwiceThenStops(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	te := newTestEnv(t, Config{DataDir: dataDir, AsyncRetryDelays: []time.Duration{20 * time.Millisecond, 40 * time.Millisecond}})
	countFile := filepath.Join(t.TempDir(), "count")
	s := te.spec(t, "flaky", "count")
	s.Env = map[string]string{"COUNT_FILE": countFile}

	out := te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("flaky"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"n":1}`)})
	if out.StatusCode != 202 || len(out.Payload) != 0 {
		t.Fatalf("Event: StatusCode %d, payload %q; want 202 and no body", out.StatusCode, out.Payload)
	}
	sluicetest.WaitFor(t, "the event to be given up", 10*time.Second, func() bool {
		return countLines(countFile) == 3 && len(queuedFiles(t, dataDir)) == 0 &&
			counterValue(te.iv.metrics.asyncDropped.WithLabelValues("flaky", "retries_exhausted")) == 1
	})
	if got := counterValue(te.iv.metrics.errors.WithLabelValues("flaky", "", "$LATEST")); got != 3 {
		t.Errorf("errors = %v, want 3 (the first attempt and two retries)", got)
	}
	// Nothing is scheduled any more, so no fourth attempt can come.
	if n := te.iv.async.queued(); n != 0 {
		t.Errorf("%d events still scheduled", n)
	}
	if got := countLines(countFile); got != 3 {
		t.Errorf("the function ran %d times, want 3", got)
	}
}

func TestEventSucceedsOnce(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	te := newTestEnv(t, Config{DataDir: dataDir, AsyncRetryDelays: []time.Duration{time.Millisecond}})
	te.spec(t, "ok", "echo")
	te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("ok"), InvocationType: types.InvocationTypeEvent})
	sluicetest.WaitFor(t, "the event to run", 10*time.Second, func() bool {
		return counterValue(te.iv.metrics.invocations.WithLabelValues("ok", "", "$LATEST")) == 1 && len(queuedFiles(t, dataDir)) == 0
	})
	if got := counterValue(te.iv.metrics.errors.WithLabelValues("ok", "", "$LATEST")); got != 0 {
		t.Errorf("errors = %v, want 0", got)
	}

	// An Event to a missing function is refused at once.
	_, err := te.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("missing"), InvocationType: types.InvocationTypeEvent})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("Event to a missing function: err = %v, want ResourceNotFoundException", err)
	}
}

func TestEventQueueSurvivesRestart(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	countFile := filepath.Join(t.TempDir(), "count")

	// First life: the attempt fails and the retry is due in an hour.
	te := newTestEnv(t, Config{DataDir: dataDir, AsyncRetryDelays: []time.Duration{time.Hour}})
	s := te.spec(t, "durable", "count")
	s.Env = map[string]string{"COUNT_FILE": countFile}
	te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("durable"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"keep":true}`)})
	sluicetest.WaitFor(t, "the first attempt to be recorded", 10*time.Second, func() bool {
		files := queuedFiles(t, dataDir)
		if len(files) != 1 || countLines(countFile) != 1 {
			return false
		}
		b, _ := os.ReadFile(files[0])
		var ev asyncEvent
		return json.Unmarshal(b, &ev) == nil && ev.Attempts == 1
	})
	te.srv.Close()
	te.iv.Close()

	// Second life, two hours later: the queued event runs its retry, fails
	// again and, with one retry allowed, is given up.
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	r := newTestResolver()
	r.spec(t, "durable", "count").Env = map[string]string{"COUNT_FILE": countFile}
	newTestEnv(t, Config{DataDir: dataDir, AsyncRetryDelays: []time.Duration{time.Hour}, Now: later, Resolver: r})
	sluicetest.WaitFor(t, "the resumed event to run and be given up", 10*time.Second, func() bool {
		return countLines(countFile) == 2 && len(queuedFiles(t, dataDir)) == 0
	})
}

func TestEventThrottledIsRetriedWithoutCounting(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	te := newTestEnv(t, Config{DataDir: dataDir, AsyncRetryDelays: []time.Duration{10 * time.Millisecond}})
	s := te.spec(t, "gated", "echo")
	s.ReservedConcurrency = aws.Int(0)
	te.invoke(t, &lambda.InvokeInput{FunctionName: aws.String("gated"), InvocationType: types.InvocationTypeEvent})
	sluicetest.WaitFor(t, "several throttles", 10*time.Second, func() bool {
		return counterValue(te.iv.metrics.throttles.WithLabelValues("gated", "", "$LATEST")) >= 3
	})
	// Lift the throttle: the event still runs.
	te.resolver.add(FunctionSpec{Name: "gated", Runtime: "provided.al2023", Handler: "echo", CodeDir: s.CodeDir, CodeSha256: "test"})
	sluicetest.WaitFor(t, "the event to run once unthrottled", 10*time.Second, func() bool {
		return counterValue(te.iv.metrics.invocations.WithLabelValues("gated", "", "$LATEST")) == 1 && len(queuedFiles(t, dataDir)) == 0
	})
}
