package locallambda

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// Asynchronous invocation as AWS runs it: retries from the event invoke
// configuration, invocation records to destinations, failed events to the
// dead-letter queue, with real functions on both ends.

const fnARN = "arn:aws:lambda:us-east-1:000000000000:function:"

// invokeEvent invokes fn asynchronously and returns the request ID.
func invokeEvent(t *testing.T, cs *ctlServer, fn, payload string) string {
	t.Helper()
	out, err := cs.Lambda.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(fn),
		InvocationType: ltypes.InvocationTypeEvent, Payload: []byte(payload)})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 202 {
		t.Fatalf("Invoke Event: %d, want 202", out.StatusCode)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return id
}

func putEventInvokeConfig(t *testing.T, cs *ctlServer, in *lambda.PutFunctionEventInvokeConfigInput) {
	t.Helper()
	if _, err := cs.Lambda.PutFunctionEventInvokeConfig(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// subscribedTopic creates a topic whose one subscriber is a recorder
// function, and returns the topic's ARN and the recorder's file.
func subscribedTopic(t *testing.T, cs *ctlServer, name string) (string, string) {
	t.Helper()
	ctx := context.Background()
	c := snsClient(cs.URL())
	file := cs.recorder(t, name+"-reader", false, nil)
	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("lambda"),
		Endpoint: aws.String(fnARN + name + "-reader")}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(topic.TopicArn), file
}

func TestAsyncFailureGoesToTheSNSDeadLetterTopic(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t, withFastRetries())
	topic, dlq := subscribedTopic(t, cs, "dead-letters")
	failing := cs.recorder(t, "failing", true, func(in *lambda.CreateFunctionInput) {
		in.DeadLetterConfig = &ltypes.DeadLetterConfig{TargetArn: aws.String(topic)}
	})
	putEventInvokeConfig(t, cs, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("failing"), MaximumRetryAttempts: aws.Int32(1)})
	id := invokeEvent(t, cs, "failing", `{"order":7}`)

	got := waitEvents(t, dlq, 1)
	s := dig(got[0], "Records", 0, "Sns")
	if dig(s, "Message") != `{"order":7}` || dig(s, "TopicArn") != topic {
		t.Errorf("the dead-letter topic received %v, want the event payload", s)
	}
	attrs := map[string][2]any{
		"RequestID":    {"String", id},
		"ErrorCode":    {"Number", "200"},
		"ErrorMessage": {"String", "recorded and failed"},
	}
	for k, want := range attrs {
		if dig(s, "MessageAttributes", k, "Type") != want[0] || dig(s, "MessageAttributes", k, "Value") != want[1] {
			t.Errorf("attribute %s = %v, want %v", k, dig(s, "MessageAttributes", k), want)
		}
	}
	if n := len(events(t, failing)); n != 2 {
		t.Errorf("the function ran %d times, want 2 (MaximumRetryAttempts 1)", n)
	}
}

func TestAsyncDestinations(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t, withFastRetries())
	dest := cs.recorder(t, "dest", false, nil)
	topic, dlq := subscribedTopic(t, cs, "also-dead")

	ok := cs.recorder(t, "ok", false, nil)
	putEventInvokeConfig(t, cs, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("ok"),
		DestinationConfig: &ltypes.DestinationConfig{OnSuccess: &ltypes.OnSuccess{Destination: aws.String(fnARN + "dest")}}})
	bad0 := cs.recorder(t, "bad0", true, nil)
	putEventInvokeConfig(t, cs, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("bad0"), MaximumRetryAttempts: aws.Int32(0),
		DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(fnARN + "dest")}}})
	bad2 := cs.recorder(t, "bad2", true, func(in *lambda.CreateFunctionInput) {
		in.DeadLetterConfig = &ltypes.DeadLetterConfig{TargetArn: aws.String(topic)}
	})
	putEventInvokeConfig(t, cs, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("bad2"), MaximumRetryAttempts: aws.Int32(2),
		DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(fnARN + "dest")}}})

	idOK := invokeEvent(t, cs, "ok", `{"a":1}`)
	id0 := invokeEvent(t, cs, "bad0", `{"b":0}`)
	id2 := invokeEvent(t, cs, "bad2", `{"b":2}`)
	records := map[string]map[string]any{}
	sluicetest.WaitFor(t, "three invocation records", 60*time.Second, func() bool {
		for _, r := range events(t, dest) {
			if id, _ := dig(r, "requestContext", "requestId").(string); id != "" {
				records[id] = r
			}
		}
		return len(records) == 3
	})

	type want struct {
		fn, condition string
		count         float64
		payload       string
		functionError any
		response      string
	}
	for id, w := range map[string]want{
		idOK: {"ok", "Success", 1, `{"a":1}`, nil, `{"recorded":true}`},
		id0:  {"bad0", "RetriesExhausted", 1, `{"b":0}`, "Unhandled", ""},
		id2:  {"bad2", "RetriesExhausted", 3, `{"b":2}`, "Unhandled", ""},
	} {
		r := records[id]
		if r["version"] != "1.0" || dig(r, "requestContext", "functionArn") != fnARN+w.fn+":$LATEST" ||
			dig(r, "requestContext", "condition") != w.condition || dig(r, "requestContext", "approximateInvokeCount") != w.count {
			t.Errorf("%s's record = %v, want condition %s after %v attempts", w.fn, r, w.condition, w.count)
		}
		if ts, _ := r["timestamp"].(string); ts == "" {
			t.Errorf("%s's record has no timestamp", w.fn)
		}
		if b, _ := json.Marshal(r["requestPayload"]); string(b) != w.payload {
			t.Errorf("%s's requestPayload = %s, want %s", w.fn, b, w.payload)
		}
		if dig(r, "responseContext", "statusCode") != float64(200) || dig(r, "responseContext", "executedVersion") != "$LATEST" ||
			dig(r, "responseContext", "functionError") != w.functionError {
			t.Errorf("%s's responseContext = %v", w.fn, r["responseContext"])
		}
		if w.response != "" {
			if b, _ := json.Marshal(r["responsePayload"]); string(b) != w.response {
				t.Errorf("%s's responsePayload = %s, want %s", w.fn, b, w.response)
			}
		} else if dig(r, "responsePayload", "errorMessage") != "recorded and failed" {
			t.Errorf("%s's responsePayload = %v, want the function's error", w.fn, r["responsePayload"])
		}
	}
	// MaximumRetryAttempts 0 ran once, 2 ran three times, success once.
	for file, n := range map[string]int{ok: 1, bad0: 1, bad2: 3} {
		if got := len(events(t, file)); got != n {
			t.Errorf("%s: the function ran %d times, want %d", file, got, n)
		}
	}
	// bad2 has a dead-letter topic as well as its OnFailure destination:
	// both receive the failure, as on AWS.
	got := waitEvents(t, dlq, 1)
	if dig(got[0], "Records", 0, "Sns", "Message") != `{"b":2}` {
		t.Errorf("the dead-letter topic received %v", got)
	}
}

func TestAsyncEventAgeExceeded(t *testing.T) {
	t.Parallel()
	// The clock runs, two minutes ahead once the test says so (a frozen
	// clock would never bring a retry scheduled after the jump due).
	var mu sync.Mutex
	var offset time.Duration
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	cs := newCtlServer(t, withFastRetries(), func(c *Config) {
		c.Clock = clock
		// The retry waits long enough for the test to move the clock
		// first, however slow the machine: with the fast retries' 10 ms
		// it could run before the jump, at an age under the maximum.
		c.Invoker.AsyncRetryDelays = []time.Duration{2 * time.Second}
	})
	dest := cs.recorder(t, "aged-dest", false, nil)
	failing := cs.recorder(t, "aged", true, nil)
	putEventInvokeConfig(t, cs, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("aged"),
		MaximumRetryAttempts: aws.Int32(2), MaximumEventAgeInSeconds: aws.Int32(60),
		DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(fnARN + "aged-dest")}}})
	invokeEvent(t, cs, "aged", `{"late":true}`)
	waitEvents(t, failing, 1)
	// Two minutes later the event is older than its 60 seconds: its retry
	// does not run, and the failure goes to the destination.
	mu.Lock()
	offset = 2 * time.Minute
	mu.Unlock()
	got := waitEvents(t, dest, 1)
	if dig(got[0], "requestContext", "condition") != "EventAgeExceeded" || dig(got[0], "requestContext", "approximateInvokeCount") != float64(1) {
		t.Errorf("record = %v, want EventAgeExceeded after 1 attempt", got[0])
	}
	if n := len(events(t, failing)); n != 1 {
		t.Errorf("the function ran %d times, want 1: the retry came after the event's maximum age", n)
	}
}
