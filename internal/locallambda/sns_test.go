package locallambda

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// SNS on the local Lambda's endpoint, and the deliveries between SNS and
// Lambda, with real aws-lambda-go functions (testfn's "record" handler).

// withFastRetries makes Event retries and SNS delivery retries quick.
func withFastRetries() ctlOption {
	return func(c *Config) {
		c.Invoker.AsyncRetryDelays = []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}
		c.SNSRetryDelays = []time.Duration{10 * time.Millisecond}
	}
}

func snsClient(url string) *sns.Client {
	return sns.New(sns.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(lambdatest.AccessKeyID, lambdatest.SecretAccessKey, ""),
	})
}

// recorder creates a function running testfn's "record" handler, which
// appends every event to a file; fail makes it fail after recording.
func (cs *ctlServer) recorder(t *testing.T, name string, fail bool, mod func(*lambda.CreateFunctionInput)) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name+".events")
	in := lambdatest.CreateInput(name, lambdatest.FunctionZip(t))
	in.Handler = aws.String("record")
	env := map[string]string{"RECORD_FILE": file}
	if fail {
		env["FAIL"] = "1"
	}
	in.Environment = &ltypes.Environment{Variables: env}
	if mod != nil {
		mod(in)
	}
	cs.CreateActive(t, in)
	return file
}

// events reads the events a recorder received.
func events(t *testing.T, file string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: %q: %v", file, line, err)
		}
		out = append(out, m)
	}
	return out
}

func waitEvents(t *testing.T, file string, n int) []map[string]any {
	t.Helper()
	sluicetest.WaitFor(t, "the function to receive its events", 60*time.Second, func() bool { return len(events(t, file)) >= n })
	return events(t, file)
}

// dig follows keys (strings for objects, ints for arrays) into v.
func dig(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func TestSNSToLambda(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t, withFastRetries())
	ctx := context.Background()
	c := snsClient(cs.URL())
	all := cs.recorder(t, "all", false, nil)
	blue := cs.recorder(t, "blue", false, nil)
	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("colours")})
	if err != nil {
		t.Fatal(err)
	}
	topicARN := aws.ToString(topic.TopicArn)
	// Both functions subscribe; blue only to messages whose colour is blue,
	// through its alias.
	cs.Publish(t, "blue")
	if _, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("blue"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	subAll, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("lambda"),
		Endpoint: aws.String("arn:aws:lambda:us-east-1:000000000000:function:all")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("lambda"),
		Endpoint:   aws.String("arn:aws:lambda:us-east-1:000000000000:function:blue:live"),
		Attributes: map[string]string{"FilterPolicy": `{"colour":["blue"]}`}}); err != nil {
		t.Fatal(err)
	}
	pub, err := c.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String(`{"n":1}`), Subject: aws.String("first"),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"colour": {DataType: aws.String("String"), StringValue: aws.String("red")},
			"size":   {DataType: aws.String("Number"), StringValue: aws.String("3")},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("second"),
		MessageAttributes: map[string]types.MessageAttributeValue{"colour": {DataType: aws.String("String"), StringValue: aws.String("blue")}}}); err != nil {
		t.Fatal(err)
	}
	got := waitEvents(t, all, 2)
	blueGot := waitEvents(t, blue, 1)

	var first map[string]any
	for _, ev := range got {
		if dig(ev, "Records", 0, "Sns", "Message") == `{"n":1}` {
			first = ev
		}
	}
	if first == nil {
		t.Fatalf("the function all did not receive the first message: %v", got)
	}
	rec := dig(first, "Records", 0).(map[string]any)
	checks := map[string]any{
		"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": aws.ToString(subAll.SubscriptionArn),
	}
	for k, want := range checks {
		if rec[k] != want {
			t.Errorf("Records[0].%s = %v, want %v", k, rec[k], want)
		}
	}
	s := rec["Sns"].(map[string]any)
	snsChecks := map[string]any{
		"Type": "Notification", "MessageId": aws.ToString(pub.MessageId), "TopicArn": topicARN, "Subject": "first",
		"SignatureVersion": "1",
	}
	for k, want := range snsChecks {
		if s[k] != want {
			t.Errorf("Sns.%s = %v, want %v", k, s[k], want)
		}
	}
	for _, k := range []string{"Timestamp", "Signature", "SigningCertUrl", "UnsubscribeUrl"} {
		if v, _ := s[k].(string); v == "" {
			t.Errorf("Sns.%s is empty", k)
		}
	}
	// SigningCertUrl serves the certificate the signature verifies with.
	certResp, err := http.Get(s["SigningCertUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := io.ReadAll(certResp.Body)
	certResp.Body.Close()
	if certResp.StatusCode != 200 || !strings.HasPrefix(string(cert), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("GET SigningCertUrl: %d %.60q", certResp.StatusCode, cert)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", s["Timestamp"].(string)); err != nil {
		t.Errorf("Timestamp: %v", err)
	}
	if dig(s, "MessageAttributes", "colour", "Type") != "String" || dig(s, "MessageAttributes", "colour", "Value") != "red" ||
		dig(s, "MessageAttributes", "size", "Type") != "Number" || dig(s, "MessageAttributes", "size", "Value") != "3" {
		t.Errorf("MessageAttributes = %v", s["MessageAttributes"])
	}
	// The filter let only the blue message through to blue:live.
	if len(blueGot) != 1 || dig(blueGot[0], "Records", 0, "Sns", "Message") != "second" ||
		dig(blueGot[0], "Records", 0, "Sns", "Subject") != nil {
		t.Errorf("blue received %v, want only the second message (Subject null)", blueGot)
	}
	// The deliveries were Event invocations of the versions named.
	sluicetest.WaitFor(t, "blue:live's invocation to be counted", 30*time.Second, func() bool {
		return invocations(cs, "blue", "live", "1") == 1
	})
	// Wait a moment's worth of deliveries: none more arrives for blue.
	if n := len(events(t, blue)); n != 1 {
		t.Errorf("blue received %d events, want 1", n)
	}
}

func TestSNSRefusesUnsignedRequests(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	resp, err := http.Post(cs.URL()+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=ListTopics&Version=2010-03-31"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Unsigned, it names no service: it is refused as S3 refuses it.
	if resp.StatusCode != 403 {
		t.Errorf("unsigned ListTopics: %d", resp.StatusCode)
	}
	bad := newCtlServer(t, withCredentials("AKIDEXAMPLE", "another-secret"))
	_, err = snsClient(bad.URL()).ListTopics(context.Background(), &sns.ListTopicsInput{})
	if err == nil || !strings.Contains(err.Error(), "InvalidSignature") {
		t.Errorf("ListTopics with a wrong secret: %v, want InvalidSignature", err)
	}
	good := newCtlServer(t, withCredentials(lambdatest.AccessKeyID, lambdatest.SecretAccessKey))
	if _, err := snsClient(good.URL()).ListTopics(context.Background(), &sns.ListTopicsInput{}); err != nil {
		t.Errorf("ListTopics with the right secret: %v", err)
	}
}

// invocations counts the invocations of fn through qualifier that ran
// version in the last hour.
func invocations(cs *ctlServer, fn, qualifier, version string) int64 {
	var n int64
	now := time.Now()
	for _, vs := range cs.Invoker().Query(fn, qualifier, now.Add(-time.Hour), now.Add(time.Second), time.Hour) {
		if vs.Version != version {
			continue
		}
		for _, p := range vs.Points {
			n += p.Invocations
		}
	}
	return n
}

// TestSNSDeliveryOwedAcrossRestart publishes to a lambda subscription
// whose function does not exist yet: the delivery fails and waits an hour
// for its retry. The function is created, the server stops; when it
// starts again two hours later, the owed delivery reaches the function.
func TestSNSDeliveryOwedAcrossRestart(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var offset time.Duration
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	opts := []ctlOption{func(c *Config) { c.Clock = clock; c.SNSRetryDelays = []time.Duration{time.Hour} }}
	dir := t.TempDir()
	cs := openCtlServer(t, dir, opts...)
	ctx := context.Background()
	c := snsClient(cs.URL())
	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("later")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("lambda"),
		Endpoint: aws.String("arn:aws:lambda:us-east-1:000000000000:function:late")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("kept for later")}); err != nil {
		t.Fatal(err)
	}
	sluicetest.WaitFor(t, "the first delivery to fail and wait for its retry", 30*time.Second, func() bool {
		_, retrying, err := cs.sns.Owed(ctx)
		return err == nil && retrying == 1
	})
	file := cs.recorder(t, "late", false, nil)
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(events(t, file)); n != 0 {
		t.Fatalf("the function received %d events before the restart", n)
	}
	mu.Lock()
	offset = 2 * time.Hour
	mu.Unlock()
	openCtlServer(t, dir, opts...)
	got := waitEvents(t, file, 1)
	if dig(got[0], "Records", 0, "Sns", "Message") != "kept for later" {
		t.Errorf("after the restart the function received %v", got)
	}
}
