package locallambda

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestSQSMappingMessageMetrics: the per-version metrics count the
// messages a mapping delivered and those that failed — the
// batchItemFailures with ReportBatchItemFailures, a whole batch on a
// function error — in the Prometheus exposition and in the time series
// of /_locallambda/metrics/query.
func TestSQSMappingMessageMetrics(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	createConsumer(t, cs.Endpoint, "counted")
	v1 := cs.Publish(t, "counted")
	if _, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("counted"), Name: aws.String("live"),
		FunctionVersion: aws.String(v1)}); err != nil {
		t.Fatal(err)
	}
	dlqURL, dlqARN := createQueue(t, cs.SQS, "counted-dlq", nil)
	url, arn := createQueue(t, cs.SQS, "counted", map[string]string{
		"VisibilityTimeout": "1",
		"RedrivePolicy":     `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":2}`,
	})
	// Five processed, two reported failed: each failed one is delivered
	// twice (maxReceiveCount 2), then dead-lettered; nine deliveries,
	// four of them failed.
	sendBodies(t, cs.SQS, url, "ok-1", "ok-2", "fail-1", "ok-3", "ok-4", "fail-2", "ok-5")
	id := createMapping(t, cs.Lambda, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("counted:live"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(10),
		FunctionResponseTypes: []ltypes.FunctionResponseType{ltypes.FunctionResponseTypeReportBatchItemFailures},
	})
	sluicetest.WaitFor(t, "the two failed messages in the dead-letter queue", 2*time.Minute, func() bool {
		v, f := queueCounts(t, cs.SQS, dlqURL)
		return v+f == 2
	})
	sluicetest.WaitFor(t, "the queue to be empty", time.Minute, func() bool {
		v, f := queueCounts(t, cs.SQS, url)
		return v+f == 0
	})
	messages := func() (total, failed int64) {
		for _, s := range cs.Server.Invoker().Query("counted", "live", time.Now().Add(-10*time.Minute), time.Now().Add(time.Minute), time.Hour) {
			if s.Version != v1 {
				t.Errorf("series of version %s; want only %s", s.Version, v1)
			}
			for _, p := range s.Points {
				total += p.Messages
				failed += p.MessagesFailed
			}
		}
		return total, failed
	}
	// The counts are recorded just after the batch is settled.
	sluicetest.WaitFor(t, "the metrics to count 9 messages, 4 failed", time.Minute, func() bool {
		total, failed := messages()
		return total == 9 && failed == 4
	})

	// A function error fails the whole batch: three messages, one crashing.
	if _, err := cs.Lambda.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: &id}); err != nil {
		t.Fatal(err)
	}
	sluicetest.WaitFor(t, "the poller to stop", time.Minute, func() bool { return len(cs.Server.poller.Running()) == 0 })
	sendBodies(t, cs.SQS, url, "ok-6", "crash", "ok-7")
	createMapping(t, cs.Lambda, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("counted:live"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(10),
	})
	// The batch of three fails twice, then goes to the dead-letter queue:
	// six more deliveries, all failed.
	sluicetest.WaitFor(t, "the crashing batch in the dead-letter queue", 2*time.Minute, func() bool {
		v, f := queueCounts(t, cs.SQS, dlqURL)
		return v+f == 5
	})
	sluicetest.WaitFor(t, "the metrics to count the failed batch", time.Minute, func() bool {
		total, failed := messages()
		return total == 15 && failed == 10
	})

	// The exposition format has the same counts.
	resp, body := cs.RawRequest(t, "GET", "/metrics", nil)
	for name, want := range map[string]int{"messages_total": 15, "messages_failed_total": 10} {
		re := regexp.MustCompile(`(?m)^sluice_local_lambda_` + name + `\{alias="live",function="counted",version="` + v1 + `"\} (\d+)$`)
		m := re.FindSubmatch(body)
		if resp.StatusCode != 200 || m == nil || string(m[1]) != strconv.Itoa(want) {
			t.Errorf("GET /metrics: %d, %s = %q; want %d", resp.StatusCode, name, m, want)
		}
	}
	// And the query endpoint's JSON.
	resp, body = cs.RawRequest(t, "GET", "/_locallambda/metrics/query?function=counted&qualifier=live&since=10m&step=1h", nil)
	var q struct {
		Series []struct {
			Version string `json:"version"`
			Points  []struct {
				Messages       int64 `json:"messages"`
				MessagesFailed int64 `json:"messagesFailed"`
			} `json:"points"`
		} `json:"series"`
	}
	if err := json.Unmarshal(body, &q); err != nil || resp.StatusCode != 200 {
		t.Fatalf("query: %d %v: %s", resp.StatusCode, err, body)
	}
	var total, failed int64
	for _, s := range q.Series {
		for _, p := range s.Points {
			total += p.Messages
			failed += p.MessagesFailed
		}
	}
	if total != 15 || failed != 10 {
		t.Errorf("/_locallambda/metrics/query: %d messages, %d failed; want 15 and 10", total, failed)
	}
}
