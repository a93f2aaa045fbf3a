package locallambda

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// The queue consumer (examples/functions/queue-consumer), built once.
var consumer struct {
	once sync.Once
	zip  []byte
	err  error
}

func consumerZip(t testing.TB) []byte {
	t.Helper()
	consumer.once.Do(func() {
		consumer.zip, consumer.err = fnbuild.Zip(context.Background(), filepath.Join("..", ".."), "./examples/functions/queue-consumer")
	})
	if consumer.err != nil {
		t.Fatal(consumer.err)
	}
	return consumer.zip
}

// processed is a line of the consumer's log: a message processed by a
// version in an invocation.
type processed struct {
	version, requestID, messageID, body string
}

// consumerLog reads the consumer's log at path.
func consumerLog(t testing.TB, path string) []processed {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []processed
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, " ", 4)
		if len(f) == 4 {
			out = append(out, processed{f[0], f[1], f[2], f[3]})
		}
	}
	return out
}

// createConsumer creates the consumer function name, logging to a new
// file whose path it returns.
func createConsumer(t testing.TB, e *lambdatest.Endpoint, name string) string {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	in := lambdatest.CreateInput(name, consumerZip(t))
	in.Environment = &ltypes.Environment{Variables: map[string]string{"CONSUMER_LOG": logPath}}
	in.Timeout = aws.Int32(30)
	e.CreateActive(t, in)
	return logPath
}

// createQueue creates a queue and returns its URL and ARN.
func createQueue(t testing.TB, c *sqs.Client, name string, attrs map[string]string) (url, arn string) {
	t.Helper()
	ctx := context.Background()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue %s: %v", name, err)
	}
	a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []types.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl), a.Attributes["QueueArn"]
}

// createMapping creates an event source mapping and waits for its state.
func createMapping(t testing.TB, c *lambda.Client, in *lambda.CreateEventSourceMappingInput) string {
	t.Helper()
	out, err := c.CreateEventSourceMapping(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	want := "Enabled"
	if in.Enabled != nil && !*in.Enabled {
		want = "Disabled"
	}
	waitMappingState(t, c, aws.ToString(out.UUID), want)
	return aws.ToString(out.UUID)
}

func waitMappingState(t testing.TB, c *lambda.Client, uuid, want string) *lambda.GetEventSourceMappingOutput {
	t.Helper()
	var got *lambda.GetEventSourceMappingOutput
	sluicetest.WaitFor(t, "mapping "+uuid+" "+want, time.Minute, func() bool {
		var err error
		got, err = c.GetEventSourceMapping(context.Background(), &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
		return err == nil && aws.ToString(got.State) == want
	})
	return got
}

func sendBodies(t testing.TB, c *sqs.Client, url string, bodies ...string) []string {
	t.Helper()
	var ids []string
	for chunk := range slices.Chunk(bodies, 10) {
		var entries []types.SendMessageBatchRequestEntry
		for i, b := range chunk {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
		}
		out, err := c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
		if err != nil || len(out.Failed) > 0 {
			t.Fatalf("SendMessageBatch: %v %+v", err, out)
		}
		for _, s := range out.Successful {
			ids = append(ids, aws.ToString(s.MessageId))
		}
	}
	return ids
}

// queueCounts returns a queue's visible and in-flight message counts.
func queueCounts(t testing.TB, c *sqs.Client, url string) (visible, inFlight int) {
	t.Helper()
	a, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	visible, _ = strconv.Atoi(a.Attributes["ApproximateNumberOfMessages"])
	inFlight, _ = strconv.Atoi(a.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return visible, inFlight
}

func bodiesOf(ps []processed) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.body)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// receiveAll drains what a queue holds now.
func receiveAll(t testing.TB, c *sqs.Client, url string) []types.Message {
	t.Helper()
	var all []types.Message
	for {
		out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return all
		}
		all = append(all, out.Messages...)
	}
}

// TestSQSMappingBatchesAndPartialFailures: messages queued before the
// mapping is enabled arrive in batches of BatchSize; the function's
// batchItemFailures return those messages to the queue, where the redrive
// policy moves them to the dead-letter queue after maxReceiveCount
// receives; everything else is processed and deleted.
func TestSQSMappingBatchesAndPartialFailures(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	logPath := createConsumer(t, cs.Endpoint, "consumer")
	dlqURL, dlqARN := createQueue(t, cs.SQS, "orders-dlq", nil)
	url, arn := createQueue(t, cs.SQS, "orders", map[string]string{
		"VisibilityTimeout": "1",
		"RedrivePolicy":     `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":2}`,
	})
	var bodies []string
	for i := range 10 {
		b := "order-" + strconv.Itoa(i)
		if i == 3 || i == 7 {
			b = "fail-" + strconv.Itoa(i)
		}
		bodies = append(bodies, b)
	}
	sendBodies(t, cs.SQS, url, bodies...)
	id := createMapping(t, cs.Lambda, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("consumer"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(5),
		FunctionResponseTypes: []ltypes.FunctionResponseType{ltypes.FunctionResponseTypeReportBatchItemFailures},
	})

	sluicetest.WaitFor(t, "the failed messages in the dead-letter queue", 2*time.Minute, func() bool {
		v, f := queueCounts(t, cs.SQS, dlqURL)
		return v+f == 2
	})
	sluicetest.WaitFor(t, "the queue to empty", time.Minute, func() bool {
		v, f := queueCounts(t, cs.SQS, url)
		return v+f == 0
	})
	log := consumerLog(t, logPath)
	want := slices.DeleteFunc(slices.Clone(bodies), func(b string) bool { return strings.HasPrefix(b, "fail") })
	slices.Sort(want)
	if got := bodiesOf(log); !slices.Equal(got, want) {
		t.Errorf("processed %v; want %v", got, want)
	}
	// The first two invocations had the 10 queued messages, 5 each.
	batches := map[string]int{}
	var order []string
	for _, p := range log {
		if batches[p.requestID] == 0 {
			order = append(order, p.requestID)
		}
		batches[p.requestID]++
	}
	// A batch had 5 messages, one of them (3 or 7) failed: 4 lines each.
	if len(order) < 2 || batches[order[0]] != 4 || batches[order[1]] != 4 {
		t.Errorf("processed lines per invocation %v (in order %v); want the first two invocations with 4 each (5 messages, 1 failed)", batches, order)
	}
	dead := receiveAll(t, cs.SQS, dlqURL)
	var deadBodies []string
	for _, m := range dead {
		deadBodies = append(deadBodies, aws.ToString(m.Body))
		if m.Attributes["DeadLetterQueueSourceArn"] != arn {
			t.Errorf("dead letter %s: DeadLetterQueueSourceArn %q; want %s", aws.ToString(m.Body), m.Attributes["DeadLetterQueueSourceArn"], arn)
		}
	}
	slices.Sort(deadBodies)
	if !slices.Equal(deadBodies, []string{"fail-3", "fail-7"}) {
		t.Errorf("dead-letter queue holds %v; want [fail-3 fail-7]", deadBodies)
	}
	got, err := cs.Lambda.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: &id})
	if err != nil || aws.ToString(got.LastProcessingResult) != "OK" {
		t.Errorf("LastProcessingResult = %q, %v; want OK", aws.ToString(got.LastProcessingResult), err)
	}
}

// TestSQSMappingFunctionError: a function error fails the whole batch,
// which returns after the visibility timeout and, received
// maxReceiveCount times, goes to the dead-letter queue;
// LastProcessingResult says so.
func TestSQSMappingFunctionError(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	logPath := createConsumer(t, cs.Endpoint, "crasher")
	dlqURL, dlqARN := createQueue(t, cs.SQS, "dead", nil)
	url, arn := createQueue(t, cs.SQS, "jobs", map[string]string{
		"VisibilityTimeout": "1",
		"RedrivePolicy":     `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":3}`,
	})
	id := createMapping(t, cs.Lambda, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("crasher"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(10),
	})
	sendBodies(t, cs.SQS, url, "crash now")
	sluicetest.WaitFor(t, "the message in the dead-letter queue", 2*time.Minute, func() bool {
		v, f := queueCounts(t, cs.SQS, dlqURL)
		return v+f == 1
	})
	got, err := cs.Lambda.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: &id})
	if err != nil || aws.ToString(got.LastProcessingResult) != "PROBLEM: Function call failed" {
		t.Errorf("LastProcessingResult = %q, %v; want PROBLEM: Function call failed", aws.ToString(got.LastProcessingResult), err)
	}
	if log := consumerLog(t, logPath); len(log) != 0 {
		t.Errorf("the consumer logged %v; want nothing processed", log)
	}
	dead := receiveAll(t, cs.SQS, dlqURL)
	if len(dead) != 1 || dead[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Errorf("dead letters %v; want the one message, received once from the dead-letter queue", dead)
	}
	// The metrics count the failed invocations: 3 receives, 3 errors.
	series := cs.Server.Invoker().Query("crasher", "", time.Now().Add(-10*time.Minute), time.Now().Add(time.Minute), time.Hour)
	var inv, errs int64
	for _, s := range series {
		for _, p := range s.Points {
			inv += p.Invocations
			errs += p.Errors
		}
	}
	if inv != 3 || errs != 3 {
		t.Errorf("metrics: %d invocations, %d errors; want 3 and 3 (maxReceiveCount)", inv, errs)
	}
}

// TestSQSMappingDisableDeleteRestart: disabling a mapping stops delivery,
// enabling resumes it, a restart of the local Lambda resumes it, and
// deleting it stops it.
func TestSQSMappingDisableDeleteRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cs := openCtlServer(t, dir)
	ctx := context.Background()
	logPath := createConsumer(t, cs.Endpoint, "toggled")
	url, arn := createQueue(t, cs.SQS, "toggle", nil)
	id := createMapping(t, cs.Lambda, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("toggled"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(1),
	})
	waitProcessed := func(cs *ctlServer, body string) {
		t.Helper()
		sluicetest.WaitFor(t, body+" processed", time.Minute, func() bool {
			return slices.Contains(bodiesOf(consumerLog(t, logPath)), body)
		})
	}
	sendBodies(t, cs.SQS, url, "first")
	waitProcessed(cs, "first")

	if _, err := cs.Lambda.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: &id, Enabled: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	waitMappingState(t, cs.Lambda, id, "Disabled")
	sluicetest.WaitFor(t, "the poller to stop", time.Minute, func() bool { return len(cs.Server.poller.Running()) == 0 })
	sendBodies(t, cs.SQS, url, "while disabled")
	if v, f := queueCounts(t, cs.SQS, url); v != 1 || f != 0 {
		t.Fatalf("while disabled the queue has %d visible, %d in flight; want the message waiting", v, f)
	}

	if _, err := cs.Lambda.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: &id, Enabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitMappingState(t, cs.Lambda, id, "Enabled")
	waitProcessed(cs, "while disabled")

	// Restart: the mapping delivers again.
	if err := cs.Server.Close(); err != nil {
		t.Fatal(err)
	}
	cs = openCtlServer(t, dir)
	cs.WaitActive(t, "toggled")
	if got := cs.Server.poller.Running(); !slices.Equal(got, []string{id}) {
		t.Errorf("after a restart the poller runs %v; want [%s]", got, id)
	}
	url = strings.Replace(url, url[:strings.Index(url, "/000000000000")], cs.URL(), 1)
	sendBodies(t, cs.SQS, url, "after restart")
	waitProcessed(cs, "after restart")

	if _, err := cs.Lambda.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: &id}); err != nil {
		t.Fatal(err)
	}
	sluicetest.WaitFor(t, "the mapping to go", time.Minute, func() bool {
		_, err := cs.Lambda.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: &id})
		return err != nil
	})
	sluicetest.WaitFor(t, "the poller to stop", time.Minute, func() bool { return len(cs.Server.poller.Running()) == 0 })
	sluicetest.WaitFor(t, "the last batch to be deleted", time.Minute, func() bool {
		v, f := queueCounts(t, cs.SQS, url)
		return v+f == 0
	})
	sendBodies(t, cs.SQS, url, "after delete")
	if v, f := queueCounts(t, cs.SQS, url); v != 1 || f != 0 {
		t.Errorf("after delete the queue has %d visible, %d in flight; want the message waiting", v, f)
	}
}

// TestSQSMappingAliasWeightsPerBatch: a mapping on a weighted alias
// draws the version per batch, and the per-version metrics count the
// batches. With 50/50 weights over 60 batches, the chance that one
// version gets none is 2·2⁻⁶⁰, so the test cannot flake.
func TestSQSMappingAliasWeightsPerBatch(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	logPath := createConsumer(t, cs.Endpoint, "canary")
	v1 := cs.Publish(t, "canary")
	if _, err := cs.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("canary"),
		Environment: &ltypes.Environment{Variables: map[string]string{"CONSUMER_LOG": logPath, "RELEASE": "2"}}}); err != nil {
		t.Fatal(err)
	}
	cs.WaitUpdated(t, "canary")
	v2 := cs.Publish(t, "canary")
	if _, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("canary"), Name: aws.String("live"),
		FunctionVersion: aws.String(v1), RoutingConfig: &ltypes.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{v2: 0.5}}}); err != nil {
		t.Fatal(err)
	}
	url, arn := createQueue(t, cs.SQS, "weighted", nil)
	const n = 60
	var bodies []string
	for i := range n {
		bodies = append(bodies, "m"+strconv.Itoa(i))
	}
	sendBodies(t, cs.SQS, url, bodies...)
	createMapping(t, cs.Lambda, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("canary:live"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(1),
	})
	sluicetest.WaitFor(t, "every message processed", 3*time.Minute, func() bool { return len(bodiesOf(consumerLog(t, logPath))) == n })

	perVersion := map[string]int{}
	for _, p := range consumerLog(t, logPath) {
		perVersion[p.version]++
	}
	series := cs.Server.Invoker().Query("canary", "live", time.Now().Add(-10*time.Minute), time.Now().Add(time.Minute), time.Hour)
	metrics := map[string]int64{}
	var total int64
	for _, s := range series {
		for _, p := range s.Points {
			metrics[s.Version] += p.Invocations
			total += p.Invocations
		}
	}
	if metrics[v1] == 0 || metrics[v2] == 0 || total < n {
		t.Errorf("per-version invocations through the alias %v (log %v); want both %s and %s, %d in all", metrics, perVersion, v1, v2, n)
	}
	for _, v := range []string{v1, v2} {
		if int64(perVersion[v]) > metrics[v] {
			t.Errorf("version %s processed %d batches of one but its metrics count %d invocations", v, perVersion[v], metrics[v])
		}
	}
}

// TestSQSMappingFIFOOrder: through a mapping, a FIFO queue's messages
// are processed in the order sent within each message group, although a
// mapping runs several pollers.
func TestSQSMappingFIFOOrder(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	logPath := createConsumer(t, cs.Endpoint, "ordered")
	url, arn := createQueue(t, cs.SQS, "orders.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	createMapping(t, cs.Lambda, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("ordered"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(3),
	})
	want := map[string][]string{}
	for i := range 30 {
		g := "g" + strconv.Itoa(i%3)
		body := g + "-" + strconv.Itoa(i)
		if _, err := cs.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(body), MessageGroupId: aws.String(g)}); err != nil {
			t.Fatal(err)
		}
		want[g] = append(want[g], body)
	}
	sluicetest.WaitFor(t, "every message processed", 2*time.Minute, func() bool { return len(bodiesOf(consumerLog(t, logPath))) == 30 })
	got := map[string][]string{}
	for _, p := range consumerLog(t, logPath) {
		g, _, _ := strings.Cut(p.body, "-")
		got[g] = append(got[g], p.body)
	}
	for g, w := range want {
		if !slices.Equal(got[g], w) {
			t.Errorf("group %s processed in the order %v; want %v", g, got[g], w)
		}
	}
}
