package canary_test

import (
	"context"
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/locallambda"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/locallambda/locallambdatest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestLocalLambdaSourceMessages runs the queue consumer example behind
// an alias with an SQS mapping that reports batch item failures, sends
// six messages it processes and two it fails, and checks that the
// source's message metrics count them for the version that ran, and
// nothing for another.
func TestLocalLambdaSourceMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function")
	}
	ctx := context.Background()
	zip, err := fnbuild.Zip(ctx, filepath.Join("..", ".."), "./examples/functions/queue-consumer")
	if err != nil {
		t.Fatal(err)
	}
	srv := locallambdatest.Start(t, locallambda.Config{})
	e := lambdatest.NewEndpoint(srv.URL())
	in := lambdatest.CreateInput("consumer", zip)
	in.Handler = aws.String("bootstrap")
	in.Runtime = types.RuntimeProvidedal2023
	in.Architectures = []types.Architecture{types.Architecture(fnbuild.Architecture())}
	e.CreateActive(t, in)
	v1 := e.Publish(t, "consumer")
	if _, err := e.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("consumer"), Name: aws.String("live"), FunctionVersion: aws.String(v1)}); err != nil {
		t.Fatal(err)
	}
	dlq, err := e.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	dlqARN := "arn:aws:sqs:us-east-1:000000000000:orders-dlq"
	q, err := e.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders"), Attributes: map[string]string{
		"VisibilityTimeout": "1", "RedrivePolicy": `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":1}`}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, b := range []string{"a", "b", "fail-1", "c", "d", "fail-2", "e", "f"} {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
	}
	if _, err := e.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q.QueueUrl, Entries: entries}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("consumer:live"), EventSourceArn: aws.String("arn:aws:sqs:us-east-1:000000000000:orders"), BatchSize: aws.Int32(10),
		FunctionResponseTypes: []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures},
	}); err != nil {
		t.Fatal(err)
	}
	sluicetest.WaitFor(t, "the two failed messages in the dead-letter queue", 2*time.Minute, func() bool {
		a, err := e.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages"}})
		return err == nil && a.Attributes["ApproximateNumberOfMessages"] == "2"
	})

	src, err := canary.NewLocalLambdaSource(canary.LocalLambdaSourceConfig{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	samples := func(metric, version string, end time.Time) []float64 {
		t.Helper()
		got, err := src.Samples(ctx, canary.SampleRequest{Metric: metric, Scope: canary.Scope{Function: "consumer", Alias: "live", Version: version},
			Start: start.Truncate(time.Second), End: end, Step: end.Sub(start.Truncate(time.Second))})
		if err != nil {
			t.Fatalf("%s of version %s: %v", metric, version, err)
		}
		if len(got) != 1 {
			t.Fatalf("%s of version %s over one step: %v; want one value", metric, version, got)
		}
		return got
	}
	var end time.Time
	sluicetest.WaitFor(t, "the source to count 8 messages", time.Minute, func() bool {
		end = time.Now().Add(time.Second)
		return samples(canary.MetricMessages, v1, end)[0] == 8
	})
	if got := samples(canary.MetricMessagesFailed, v1, end); got[0] != 2 {
		t.Errorf("messages_failed of version %s: %v; want [2]", v1, got)
	}
	if got := samples(canary.MetricMessageFailureRate, v1, end); got[0] != 0.25 {
		t.Errorf("message_failure_rate of version %s: %v; want [0.25]", v1, got)
	}
	// A version that received nothing: no messages, and no rate (NaN).
	if got := samples(canary.MetricMessages, "7", end); got[0] != 0 {
		t.Errorf("messages of version 7: %v; want [0]", got)
	}
	if got := samples(canary.MetricMessageFailureRate, "7", end); !math.IsNaN(got[0]) {
		t.Errorf("message_failure_rate of version 7: %v; want [NaN]", got)
	}
}
