package cli

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-cd/sluice/examples"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/locallambda"
	"github.com/sluice-cd/sluice/internal/status"
)

// sluice demo --queue releases examples/functions/queue-consumer twice
// with examples/pipelines/queue-consumer-canary.json while the demo
// publishes messages to the queue the function consumes.
const (
	queueApplication = "orders"
	queuePipeline    = "queue-consumer-canary"
	queueFunction    = "orders-consumer"
	queueKey         = "queue-consumer.zip"
	queueName        = "orders"
	queueDLQName     = "orders-dlq"
	queueCanaryCfg   = "lambda-consumer-messages"
	// The queue's settings: a failed message is back after 2 s, and goes
	// to the dead-letter queue after 5 receives.
	queueVisibility      = "2"
	queueMaxReceiveCount = 5
	// queuePerSecond is how many messages the demo publishes a second.
	queuePerSecond = 50
)

// runQueueDemo is sluice demo --queue: create the queue and its
// dead-letter queue in the local SQS, release v1 of the consumer (which
// creates the event source mapping on its alias), then release v2
// progressively while messages flow, and check that every message
// published was processed by one version or is in the dead-letter queue.
func (a *app) runQueueDemo(ctx context.Context, opts demoOptions) error {
	src, err := a.sourceTree(opts.Source)
	if err != nil {
		return err // the consumer is built from the checkout; no installed binary stands in for it
	}
	fmt.Fprintln(a.stdout, "Building examples/functions/queue-consumer …")
	zip, err := fnbuild.Zip(ctx, src, "./examples/functions/queue-consumer")
	if err != nil {
		return err
	}
	d, stop, err := a.startDemoNode(ctx, opts)
	if err != nil {
		return err
	}
	defer stop()
	c := d.client
	if err := uploadPackage(ctx, d.local.S3, queueKey, zip); err != nil {
		return err
	}
	lo := d.local.Lambda.Options()
	q := sqs.New(sqs.Options{Region: lo.Region, BaseEndpoint: aws.String(d.lambdaURL), Credentials: lo.Credentials})
	queueURL, queueARN, dlqURL, err := createDemoQueues(ctx, q)
	if err != nil {
		return err
	}
	cfg, err := examples.CanaryConfigs.ReadFile("canary-configs/" + queueCanaryCfg + ".json")
	if err != nil {
		return err
	}
	if _, err := c.PutCanaryConfig(ctx, queueCanaryCfg, cfg); err != nil {
		return fmt.Errorf("save the example canary config: %w", err)
	}
	doc, err := examples.Pipelines.ReadFile("pipelines/" + queuePipeline + ".json")
	if err != nil {
		return err
	}
	if _, err := c.PutPipeline(ctx, queueApplication, queuePipeline, doc, "application/json"); err != nil {
		return fmt.Errorf("apply the example pipeline: %w", err)
	}
	fmt.Fprintf(a.stdout, "Sluice demo: server and console at %s, local Lambda at %s, data in %s\n", d.url, d.lambdaURL, d.dataDir)
	fmt.Fprintf(a.stdout, "Created the queue %s (dead-letter queue %s after %d receives) in the local SQS, uploaded %s to s3://%s/%[4]s, saved canary config %s and applied %s/%s (examples/pipelines/%[7]s.json).\n",
		queueName, queueDLQName, queueMaxReceiveCount, queueKey, demoBucket, queueCanaryCfg, queueApplication, queuePipeline)
	logPath := filepath.Join(d.dataDir, "consumer.log")
	rel := demoRelease{application: queueApplication, pipeline: queuePipeline, opts: opts, url: d.url, lambdaURL: d.lambdaURL, consoleLink: d.consoleLink}
	base := map[string]any{"queueArn": queueARN, "consumerLog": logPath}

	fmt.Fprintln(a.stdout, "\nRelease v1 (the first release creates the queue's mapping on the alias and goes straight to 100%):")
	first, err := a.runDemoRelease(ctx, c, rel, withParams(base, map[string]any{"version": "v1"}))
	if err != nil {
		return err
	}
	if first.Status != status.Succeeded {
		return executionExit(first)
	}

	params := withParams(base, map[string]any{"version": "v2", "failureRate": formatFloat(opts.FailureRate)})
	if opts.Bad {
		params["failureRate"] = formatFloat(cmp.Or(opts.FailureRate, badFailureRate))
	}
	fmt.Fprintf(a.stdout, "\nRelease v2 progressively while %d messages a second are published to %s, judged by Sluice's canary analysis:\n", queuePerSecond, queueName)
	since := time.Now()
	pub := publishMessages(ctx, q, queueURL, queuePerSecond)
	defer pub.close()
	second, err := a.runDemoRelease(ctx, c, rel, params)
	if err != nil {
		return err
	}
	pub.close()
	if pub.err != nil {
		return fmt.Errorf("publish to %s: %w", queueName, pub.err)
	}
	fmt.Fprintf(a.stdout, "\nExecution %s %s; the demo published %d messages to %s.\n", second.ID, second.Status, len(pub.ids), queueName)

	// The messages v2 failed come back after the visibility timeout, to
	// whichever version the alias routes then: wait for the queue to drain.
	if err := waitDrained(ctx, q, queueURL); err != nil {
		return err
	}
	if err := a.printMessages(ctx, d.lambdaURL, since); err != nil {
		return err
	}
	if err := a.checkNoneLost(ctx, q, dlqURL, logPath, pub.ids); err != nil {
		return err
	}
	if err := printFunctionState(ctx, a, d.local.Lambda, queueFunction); err != nil {
		return err
	}
	return a.reportShift(second, opts.Bad)
}

func withParams(base, more map[string]any) map[string]any {
	out := maps.Clone(base)
	maps.Copy(out, more)
	return out
}

// createDemoQueues creates the queue the consumer reads and its
// dead-letter queue.
func createDemoQueues(ctx context.Context, q *sqs.Client) (queueURL, queueARN, dlqURL string, err error) {
	arnOf := func(u string) (string, error) {
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &u, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return "", fmt.Errorf("read the ARN of %s: %w", u, err)
		}
		return out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
	}
	dlq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(queueDLQName)})
	if err != nil {
		return "", "", "", fmt.Errorf("create the queue %s in the local SQS: %w", queueDLQName, err)
	}
	dlqARN, err := arnOf(aws.ToString(dlq.QueueUrl))
	if err != nil {
		return "", "", "", err
	}
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": queueMaxReceiveCount})
	main, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(queueName),
		Attributes: map[string]string{"VisibilityTimeout": queueVisibility, "RedrivePolicy": string(redrive)}})
	if err != nil {
		return "", "", "", fmt.Errorf("create the queue %s in the local SQS: %w", queueName, err)
	}
	arn, err := arnOf(aws.ToString(main.QueueUrl))
	return aws.ToString(main.QueueUrl), arn, aws.ToString(dlq.QueueUrl), err
}

// publisher sends messages to a queue until closed.
type publisher struct {
	stop context.CancelFunc
	done sync.WaitGroup
	once sync.Once
	ids  []string // the IDs of the messages sent, once closed
	err  error    // the first send that failed
}

// publishMessages sends perSecond messages a second to queueURL, in
// batches of five, until close.
func publishMessages(ctx context.Context, q *sqs.Client, queueURL string, perSecond int) *publisher {
	ctx, stop := context.WithCancel(ctx)
	p := &publisher{stop: stop}
	const batch = 5
	p.done.Go(func() {
		tick := time.NewTicker(time.Second * batch / time.Duration(perSecond))
		defer tick.Stop()
		n := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var entries []sqstypes.SendMessageBatchRequestEntry
			for i := range batch {
				n++
				entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String("order-" + strconv.Itoa(n))})
			}
			// Not canceled with ctx: a batch begun is sent, so that
			// every message the demo counts was published.
			out, err := q.SendMessageBatch(context.WithoutCancel(ctx), &sqs.SendMessageBatchInput{QueueUrl: &queueURL, Entries: entries})
			if err == nil && len(out.Failed) > 0 {
				err = fmt.Errorf("%s: %s", aws.ToString(out.Failed[0].Code), aws.ToString(out.Failed[0].Message))
			}
			if err != nil {
				p.err = err
				return
			}
			for _, s := range out.Successful {
				p.ids = append(p.ids, aws.ToString(s.MessageId))
			}
		}
	})
	return p
}

func (p *publisher) close() {
	p.once.Do(func() {
		p.stop()
		p.done.Wait()
	})
}

// waitDrained waits until the queue holds no message, visible or in
// flight.
func waitDrained(ctx context.Context, q *sqs.Client, queueURL string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &queueURL, AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			return fmt.Errorf("read the queue %s: %w", queueName, err)
		}
		visible, inFlight := out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]
		if visible == "0" && inFlight == "0" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the queue %s still holds %s messages and %s in flight two minutes after the release", queueName, visible, inFlight)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// printMessages prints what each version of the consumer processed and
// failed through the alias since the given time, from the local Lambda's
// per-version metrics.
func (a *app) printMessages(ctx context.Context, lambdaURL string, since time.Time) error {
	v := url.Values{"function": {queueFunction}, "qualifier": {demoAlias}, "since": {since.Add(-time.Second).UTC().Format(time.RFC3339Nano)}, "step": {"1h"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, lambdaURL+"/_locallambda/metrics/query?"+v.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("query the local lambda's metrics: %w", err)
	}
	defer resp.Body.Close()
	var m locallambda.MetricsQuery
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return fmt.Errorf("query the local lambda's metrics: %w", err)
	}
	for _, s := range m.Series {
		var msgs, failed int64
		for _, p := range s.Points {
			msgs, failed = msgs+p.Messages, failed+p.MessagesFailed
		}
		fmt.Fprintf(a.stdout, "  version %s through %s:%s: %d messages processed, %d failed\n", s.Version, queueFunction, demoAlias, msgs-failed, failed)
	}
	return nil
}

// checkNoneLost checks that every message published was processed (the
// consumer's log names it) or is in the dead-letter queue.
func (a *app) checkNoneLost(ctx context.Context, q *sqs.Client, dlqURL, logPath string, published []string) error {
	done := map[string]bool{}
	f, err := os.Open(logPath)
	if err != nil {
		return fmt.Errorf("read the consumer's log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// VERSION REQUEST-ID MESSAGE-ID BODY
		if fields := strings.SplitN(sc.Text(), " ", 4); len(fields) == 4 {
			done[fields[2]] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read the consumer's log: %w", err)
	}
	dead := map[string]bool{}
	for {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &dlqURL, MaxNumberOfMessages: 10, VisibilityTimeout: 600})
		if err != nil {
			return fmt.Errorf("read the dead-letter queue %s: %w", queueDLQName, err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			dead[aws.ToString(m.MessageId)] = true
		}
	}
	var lost []string
	processed, deadLettered := 0, 0
	for _, id := range published {
		switch {
		case done[id]:
			processed++
		case dead[id]:
			deadLettered++
		default:
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		return fmt.Errorf("%d of the %d messages published were neither processed nor dead-lettered: %s", len(lost), len(published), strings.Join(lost[:min(len(lost), 5)], ", "))
	}
	if len(published) == 0 {
		return errors.New("the demo published no message")
	}
	fmt.Fprintf(a.stdout, "Every message published was processed (%d) or is in the dead-letter queue (%d): none lost.\n", processed, deadLettered)
	return nil
}
