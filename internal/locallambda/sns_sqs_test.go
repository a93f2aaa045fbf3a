package locallambda

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	qtypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// Deliveries to the local SQS: SNS subscriptions, dead-letter queues and
// destinations, read back with the SDK's SQS client.

// makeQueue creates a queue and returns its URL and ARN.
func makeQueue(t *testing.T, cs *ctlServer, name string) (string, string) {
	t.Helper()
	out, err := cs.SQS.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl), "arn:aws:sqs:us-east-1:000000000000:" + name
}

// drainQueue reads the queue until it has n messages (deleting them) and
// then checks that no more is there.
func drainQueue(t *testing.T, cs *ctlServer, url string, n int) []qtypes.Message {
	t.Helper()
	var got []qtypes.Message
	sluicetest.WaitFor(t, "the queue's messages", 60*time.Second, func() bool {
		out, err := cs.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
			MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			got = append(got, m)
			if _, err := cs.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
		return len(got) >= n
	})
	return got
}

func TestSNSFanOutToQueues(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t, withFastRetries())
	ctx := context.Background()
	c := snsClient(cs.URL())
	allURL, allARN := makeQueue(t, cs, "all-orders")
	bigURL, bigARN := makeQueue(t, cs, "big-orders")
	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(allARN)}); err != nil {
		t.Fatal(err)
	}
	// The big-orders queue takes raw messages of orders over 100, by a
	// filter on the message body.
	if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(bigARN),
		Attributes: map[string]string{"RawMessageDelivery": "true", "FilterPolicyScope": "MessageBody",
			"FilterPolicy": `{"order":{"total":[{"numeric":[">",100]}]}}`}}); err != nil {
		t.Fatal(err)
	}
	out, err := c.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: topic.TopicArn, PublishBatchRequestEntries: []types.PublishBatchRequestEntry{
		{Id: aws.String("small"), Message: aws.String(`{"order":{"total":5}}`)},
		{Id: aws.String("big"), Message: aws.String(`{"order":{"total":500}}`), MessageAttributes: map[string]types.MessageAttributeValue{
			"region": {DataType: aws.String("String"), StringValue: aws.String("eu")}}},
	}})
	if err != nil || len(out.Successful) != 2 {
		t.Fatalf("PublishBatch = %+v, %v", out, err)
	}
	all := drainQueue(t, cs, allURL, 2)
	big := drainQueue(t, cs, bigURL, 1)
	if len(all) != 2 {
		t.Errorf("all-orders received %d messages, want 2", len(all))
	}
	for _, m := range all {
		var env map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
			t.Fatalf("all-orders body %q is not the SNS envelope: %v", aws.ToString(m.Body), err)
		}
		if env["Type"] != "Notification" || env["TopicArn"] != aws.ToString(topic.TopicArn) || env["SignatureVersion"] != "1" ||
			env["UnsubscribeURL"] == nil {
			t.Errorf("envelope = %v", env)
		}
		if env["Message"] == `{"order":{"total":500}}` && dig(env, "MessageAttributes", "region", "Value") != "eu" {
			t.Errorf("envelope attributes = %v", env["MessageAttributes"])
		}
	}
	if len(big) != 1 || aws.ToString(big[0].Body) != `{"order":{"total":500}}` {
		t.Fatalf("big-orders received %+v, want the raw big order only", big)
	}
	if a := big[0].MessageAttributes["region"]; aws.ToString(a.StringValue) != "eu" || aws.ToString(a.DataType) != "String" {
		t.Errorf("raw delivery's SQS attributes = %v, want region=eu", big[0].MessageAttributes)
	}
	// Nothing else arrives: the small order was filtered out.
	more, err := cs.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(bigURL), WaitTimeSeconds: 1})
	if err != nil || len(more.Messages) != 0 {
		t.Errorf("big-orders has more: %+v, %v", more, err)
	}
}

func TestAsyncToQueues(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t, withFastRetries())
	dlqURL, dlqARN := makeQueue(t, cs, "dlq")
	okURL, okARN := makeQueue(t, cs, "successes")
	failURL, failARN := makeQueue(t, cs, "failures")
	cs.recorder(t, "q-failing", true, func(in *lambda.CreateFunctionInput) {
		in.DeadLetterConfig = &ltypes.DeadLetterConfig{TargetArn: aws.String(dlqARN)}
	})
	putEventInvokeConfig(t, cs, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("q-failing"), MaximumRetryAttempts: aws.Int32(0),
		DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(failARN)}}})
	cs.recorder(t, "q-ok", false, nil)
	putEventInvokeConfig(t, cs, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("q-ok"),
		DestinationConfig: &ltypes.DestinationConfig{OnSuccess: &ltypes.OnSuccess{Destination: aws.String(okARN)}}})

	failID := invokeEvent(t, cs, "q-failing", `{"x":1}`)
	okID := invokeEvent(t, cs, "q-ok", `{"y":2}`)

	dl := drainQueue(t, cs, dlqURL, 1)
	if aws.ToString(dl[0].Body) != `{"x":1}` {
		t.Errorf("dead-letter body = %q, want the event payload", aws.ToString(dl[0].Body))
	}
	attrs := map[string][2]string{"RequestID": {"String", failID}, "ErrorCode": {"Number", "200"}, "ErrorMessage": {"String", "recorded and failed"}}
	for k, want := range attrs {
		a := dl[0].MessageAttributes[k]
		if aws.ToString(a.DataType) != want[0] || aws.ToString(a.StringValue) != want[1] {
			t.Errorf("dead-letter attribute %s = %s %s, want %v", k, aws.ToString(a.DataType), aws.ToString(a.StringValue), want)
		}
	}
	for _, q := range []struct {
		url, id, condition string
	}{{failURL, failID, "RetriesExhausted"}, {okURL, okID, "Success"}} {
		m := drainQueue(t, cs, q.url, 1)
		var rec map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(m[0].Body)), &rec); err != nil {
			t.Fatalf("record %q: %v", aws.ToString(m[0].Body), err)
		}
		if rec["version"] != "1.0" || dig(rec, "requestContext", "requestId") != q.id || dig(rec, "requestContext", "condition") != q.condition {
			t.Errorf("record in the queue = %v, want %s of %s", rec, q.condition, q.id)
		}
	}
}

func TestSNSRedrivesToTheSubscriptionsDeadLetterQueue(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t, withFastRetries())
	ctx := context.Background()
	c := snsClient(cs.URL())
	dlqURL, dlqARN := makeQueue(t, cs, "sub-dlq")
	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("to-nowhere")})
	if err != nil {
		t.Fatal(err)
	}
	// A lambda subscription whose function does not exist: every delivery
	// fails, and after the retries the message goes to the queue.
	if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("lambda"),
		Endpoint:   aws.String(fnARN + "missing"),
		Attributes: map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqARN + `"}`}}); err != nil {
		t.Fatal(err)
	}
	pub, err := c.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("lost?")})
	if err != nil {
		t.Fatal(err)
	}
	got := drainQueue(t, cs, dlqURL, 1)
	var env map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(got[0].Body)), &env); err != nil || env["Message"] != "lost?" || env["MessageId"] != aws.ToString(pub.MessageId) {
		t.Errorf("the subscription's dead-letter queue received %q (%v)", aws.ToString(got[0].Body), err)
	}
	if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(dlqARN),
		Attributes: map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sns:us-east-1:000000000000:x"}`}}); err == nil {
		t.Error("a RedrivePolicy naming a topic was taken")
	}
}
