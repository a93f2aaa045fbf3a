package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestSQSMappingSurvivesAKill kills the process serving the local Lambda
// (SIGKILL) while an event source mapping delivers a queue to the
// queue-consumer example, restarts it on the same data directory and
// sends the rest: every message whose SendMessageBatch was answered is
// processed at least once (a batch in flight at the kill is delivered
// again after its visibility timeout, as AWS's at-least-once allows), and
// the queue ends empty.
func TestSQSMappingSurvivesAKill(t *testing.T) {
	t.Parallel()
	bin := buildSluice(t)
	ctx := context.Background()
	zip, err := fnbuild.Zip(ctx, filepath.Join("..", ".."), "./examples/functions/queue-consumer")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "processed.log")
	ll := startLocalLambdaIn(t, bin, dir)
	if _, err := ll.c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("consumer"), Runtime: ltypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Role: aws.String(lambdatest.Role), Code: &ltypes.FunctionCode{ZipFile: zip}, Timeout: aws.Int32(30),
		Environment: &ltypes.Environment{Variables: map[string]string{"CONSUMER_LOG": logPath}}}); err != nil {
		t.Fatal(err)
	}
	if err := lambda.NewFunctionActiveV2Waiter(ll.c).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("consumer")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	q := lambdatest.SQSClient(ll.url)
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work"), Attributes: map[string]string{"VisibilityTimeout": "5"}})
	if err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:sqs:us-east-1:000000000000:work"
	m, err := ll.c.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("consumer"),
		EventSourceArn: aws.String(arn), BatchSize: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	sluicetest.WaitFor(t, "the mapping Enabled", time.Minute, func() bool {
		got, err := ll.c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID})
		return err == nil && aws.ToString(got.State) == "Enabled"
	})

	acked := map[string]bool{}
	send := func(q *sqs.Client, url string, from, to int) {
		t.Helper()
		for i := from; i < to; i += 10 {
			var entries []types.SendMessageBatchRequestEntry
			for j := i; j < i+10 && j < to; j++ {
				body := "m-" + strconv.Itoa(j)
				if j == 149 {
					body += " slow" // the batch in flight when the process is killed
				}
				entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(body)})
			}
			out, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
			if err != nil {
				t.Fatalf("SendMessageBatch: %v", err)
			}
			for _, s := range out.Successful {
				for _, e := range entries {
					if aws.ToString(e.Id) == aws.ToString(s.Id) {
						acked[aws.ToString(e.MessageBody)] = true
					}
				}
			}
		}
	}
	first := aws.ToString(created.QueueUrl)
	send(q, first, 0, 150)
	// Kill while the mapping is delivering the batch with the slow message.
	sluicetest.WaitFor(t, "the slow message in flight", time.Minute, func() bool {
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &first, AttributeNames: []types.QueueAttributeName{"All"}})
		return err == nil && out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0"
	})
	if err := ll.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-ll.done

	ll = startLocalLambdaIn(t, bin, dir)
	q = lambdatest.SQSClient(ll.url)
	url := ll.url + "/000000000000/work"
	send(q, url, 150, 300)

	var processed map[string]int
	sluicetest.WaitFor(t, "every acknowledged message processed", 5*time.Minute, func() bool {
		b, err := os.ReadFile(logPath)
		if err != nil {
			return false
		}
		processed = map[string]int{}
		for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
			if f := strings.SplitN(line, " ", 4); len(f) == 4 {
				processed[f[3]]++
			}
		}
		for body := range acked {
			if processed[body] == 0 {
				return false
			}
		}
		return true
	})
	sluicetest.WaitFor(t, "the queue to empty", 2*time.Minute, func() bool {
		a, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{"All"}})
		return err == nil && a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
	dups := 0
	for body, n := range processed {
		if !strings.HasPrefix(body, "m-") {
			t.Errorf("processed %q, which was never sent", body)
		}
		dups += n - 1
	}
	if len(acked) != 300 {
		t.Errorf("%d sends acknowledged; want 300", len(acked))
	}
	t.Logf("%d messages acknowledged, %d processed (%d more than once); the batch in flight at the kill was delivered again after the restart", len(acked), len(processed), dups)
}
