package locallambda

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/sluice-cd/sluice/internal/bench/spread"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// BenchmarkSQSMapping measures messages per second through an SQS event
// source mapping (BatchSize 10) against its limit, invoking the same
// function directly with the same batches, in interleaved rounds (one
// round per b.N):
//
//		go test ./internal/locallambda -run '^$' -bench SQSMapping -benchtime 5x
//
//	  - mapping: from the first SendMessageBatch (10 messages each, over
//	    HTTP) until the queue is empty — every message received, delivered
//	    to the queue-consumer example in a batch, and deleted;
//	  - direct: sequential RequestResponse Invokes, over HTTP, of the same
//	    function with SQS events of 10 messages, as many messages.
//
// It reports the median of each in messages/s and drain/direct, and
// logs every round, with the rate of the sends alone.
func BenchmarkSQSMapping(b *testing.B) {
	const n = 1000
	cs := newCtlServer(b)
	ctx := context.Background()
	in := lambdatest.CreateInput("consumer", consumerZip(b))
	in.Timeout = aws.Int32(30)
	cs.CreateActive(b, in)
	url, arn := createQueue(b, cs.SQS, "bench", nil)
	id := createMapping(b, cs.Lambda, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("consumer"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(10)})
	svc := cs.Server.SQSService()
	empty := func() bool {
		a, err := svc.QueueAttributes(ctx, arn)
		if err != nil {
			b.Fatal(err)
		}
		return a["ApproximateNumberOfMessages"] == "0" && a["ApproximateNumberOfMessagesNotVisible"] == "0" && a["ApproximateNumberOfMessagesDelayed"] == "0"
	}
	// The direct round's events: what the mapping sends, 10 records each.
	var events [][]byte
	for i := 0; i < n; i += 10 {
		var ev struct {
			Records []map[string]any `json:"Records"`
		}
		for j := i; j < i+10; j++ {
			ev.Records = append(ev.Records, map[string]any{"messageId": fmt.Sprintf("id-%d", j), "receiptHandle": "h", "body": "message " + strconv.Itoa(j),
				"attributes":        map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "x", "ApproximateFirstReceiveTimestamp": "0"},
				"messageAttributes": map[string]any{}, "md5OfBody": "0", "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1"})
		}
		p, _ := json.Marshal(ev)
		events = append(events, p)
	}

	send := func() {
		for i := 0; i < n; i += 10 {
			var entries []types.SendMessageBatchRequestEntry
			for j := i; j < i+10; j++ {
				entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String("message " + strconv.Itoa(j))})
			}
			if _, err := cs.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries}); err != nil {
				b.Fatal(err)
			}
		}
	}
	setEnabled := func(on bool) {
		if _, err := cs.Lambda.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: &id, Enabled: aws.Bool(on)}); err != nil {
			b.Fatal(err)
		}
	}
	var drain, viaMapping, direct, sending []float64
	b.ResetTimer()
	for range b.N {
		// Drain: the queue holds n messages when the mapping is enabled.
		setEnabled(false)
		waitMappingState(b, cs.Lambda, id, "Disabled")
		send()
		start := time.Now()
		setEnabled(true)
		for !empty() {
			time.Sleep(2 * time.Millisecond)
		}
		drain = append(drain, n/time.Since(start).Seconds())
		waitMappingState(b, cs.Lambda, id, "Enabled")

		// Send and deliver: the mapping delivers while the messages are sent.
		start = time.Now()
		send()
		sending = append(sending, n/time.Since(start).Seconds())
		for !empty() {
			time.Sleep(2 * time.Millisecond)
		}
		viaMapping = append(viaMapping, n/time.Since(start).Seconds())

		start = time.Now()
		for _, p := range events {
			out, err := cs.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("consumer"), Payload: p})
			if err != nil || out.FunctionError != nil {
				b.Fatalf("Invoke: %v %v", err, out)
			}
		}
		direct = append(direct, n/time.Since(start).Seconds())
	}
	b.StopTimer()
	for i := range viaMapping {
		b.Logf("round %d: drain %.0f msg/s, send-and-deliver %.0f msg/s (its sends alone %.0f msg/s), direct %.0f msg/s; drain/direct %.2f",
			i+1, drain[i], viaMapping[i], sending[i], direct[i], drain[i]/direct[i])
	}
	mm := func(xs []float64) string {
		return fmt.Sprintf("%.0f/%.0f/%.0f", slices.Min(xs), spread.Median(xs), slices.Max(xs))
	}
	b.Logf("min/median/max msg/s: drain %s, send-and-deliver %s, direct %s", mm(drain), mm(viaMapping), mm(direct))
	b.ReportMetric(spread.Median(drain), "drain-msg/s")
	b.ReportMetric(spread.Median(viaMapping), "send-and-deliver-msg/s")
	b.ReportMetric(spread.Median(direct), "direct-msg/s")
	b.ReportMetric(spread.Median(drain)/spread.Median(direct), "drain/direct")
}
