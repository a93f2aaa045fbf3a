package sqs_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/locallambda/sqs"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

type harness struct {
	svc    *sqs.Service
	client *awssqs.Client
	url    string
	path   string
	clock  *sluicetest.Clock
}

// newHarness serves a fresh Service over HTTP. With fake, it runs on a
// clock the test advances (and long polls must not be used).
func newHarness(t *testing.T, fake bool) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sqs.db")
	h := &harness{path: path}
	cfg := sqs.Config{Path: path}
	if fake {
		h.clock = sluicetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		cfg.Clock = h.clock.Now
	}
	svc, err := sqs.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = svc.Close()
	})
	h.svc, h.url, h.client = svc, srv.URL, lambdatest.SQSClient(srv.URL)
	return h
}

func (h *harness) create(t *testing.T, name string, attrs map[string]string) string {
	t.Helper()
	out, err := h.client.CreateQueue(context.Background(), &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("err = %v; want an API error with code %s", err, code)
	}
}

func TestQueues(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	ctx := context.Background()
	url := h.create(t, "orders", map[string]string{"VisibilityTimeout": "45", "DelaySeconds": "0"})
	if want := h.url[len("http://"):] + "/000000000000/orders"; url != "http://"+want {
		t.Errorf("QueueUrl = %s; want http://%s", url, want)
	}
	// Same attributes: the same queue. Different: QueueNameExists.
	if again := h.create(t, "orders", map[string]string{"VisibilityTimeout": "45"}); again != url {
		t.Errorf("CreateQueue again = %s; want %s", again, url)
	}
	_, err := h.client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("orders"), Attributes: map[string]string{"VisibilityTimeout": "46"}})
	var exists *types.QueueNameExists
	if !errors.As(err, &exists) {
		t.Errorf("CreateQueue with another VisibilityTimeout: %v; want QueueNameExists", err)
	}
	for _, tc := range []struct {
		name  string
		attrs map[string]string
		code  string
	}{
		{"bad name!", nil, "InvalidParameterValue"},
		{"x", map[string]string{"VisibilityTimeout": "43201"}, "InvalidAttributeValue"},
		{"x", map[string]string{"Colour": "blue"}, "InvalidAttributeName"},
		{"x", map[string]string{"FifoQueue": "true"}, "InvalidParameterValue"},
		{"x.fifo", nil, "InvalidParameterValue"},
		{"x", map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:nope","maxReceiveCount":3}`}, "InvalidParameterValue"},
	} {
		_, err := h.client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(tc.name), Attributes: tc.attrs})
		wantCode(t, err, tc.code)
	}
	h.create(t, "orders-dlq", nil)
	h.create(t, "other", nil)

	got, err := h.client.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("orders")})
	if err != nil || aws.ToString(got.QueueUrl) != url {
		t.Errorf("GetQueueUrl = %v, %v; want %s", got, err, url)
	}
	_, err = h.client.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("missing")})
	var missing *types.QueueDoesNotExist
	if !errors.As(err, &missing) {
		t.Errorf("GetQueueUrl of a missing queue: %v; want QueueDoesNotExist", err)
	}
	wantCode(t, err, "AWS.SimpleQueueService.NonExistentQueue")

	list, err := h.client.ListQueues(ctx, &awssqs.ListQueuesInput{QueueNamePrefix: aws.String("orders")})
	if err != nil || len(list.QueueUrls) != 2 {
		t.Errorf("ListQueues orders* = %v, %v; want orders and orders-dlq", list, err)
	}
	var all []string
	p := awssqs.NewListQueuesPaginator(h.client, &awssqs.ListQueuesInput{MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.QueueUrls...)
	}
	if len(all) != 3 {
		t.Errorf("ListQueues one at a time = %v; want 3 queues", all)
	}

	dlqArn := h.svc.ARN("orders-dlq")
	if _, err := h.client.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqArn + `","maxReceiveCount":"5"}`, "ReceiveMessageWaitTimeSeconds": "1",
	}}); err != nil {
		t.Fatal(err)
	}
	attrs, err := h.client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"VisibilityTimeout": "45", "ReceiveMessageWaitTimeSeconds": "1", "QueueArn": h.svc.ARN("orders"),
		"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0", "ApproximateNumberOfMessagesDelayed": "0",
		"MessageRetentionPeriod": "345600", "MaximumMessageSize": "262144"} {
		if attrs.Attributes[k] != v {
			t.Errorf("attribute %s = %q; want %q", k, attrs.Attributes[k], v)
		}
	}
	if attrs.Attributes["RedrivePolicy"] == "" || attrs.Attributes["CreatedTimestamp"] == "" {
		t.Errorf("attributes %v lack RedrivePolicy or CreatedTimestamp", attrs.Attributes)
	}
	one, err := h.client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{"VisibilityTimeout"}})
	if err != nil || len(one.Attributes) != 1 {
		t.Errorf("GetQueueAttributes VisibilityTimeout = %v, %v; want that one", one, err)
	}

	if _, err := h.client.TagQueue(ctx, &awssqs.TagQueueInput{QueueUrl: &url, Tags: map[string]string{"team": "a", "env": "dev"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.UntagQueue(ctx, &awssqs.UntagQueueInput{QueueUrl: &url, TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := h.client.ListQueueTags(ctx, &awssqs.ListQueueTagsInput{QueueUrl: &url})
	if err != nil || len(tags.Tags) != 1 || tags.Tags["team"] != "a" {
		t.Errorf("ListQueueTags = %v, %v; want team=a", tags, err)
	}

	if _, err := h.client.DeleteQueue(ctx, &awssqs.DeleteQueueInput{QueueUrl: &url}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x")})
	if !errors.As(err, &missing) {
		t.Errorf("SendMessage to a deleted queue: %v; want QueueDoesNotExist", err)
	}
}

func TestSendReceiveDelete(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	ctx := context.Background()
	url := h.create(t, "q", nil)
	attrs := map[string]types.MessageAttributeValue{
		"colour": {DataType: aws.String("String"), StringValue: aws.String("blue")},
		"n":      {DataType: aws.String("Number"), StringValue: aws.String("42")},
		"raw":    {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2, 255}},
		"other":  {DataType: aws.String("String.custom"), StringValue: aws.String("ünï")},
	}
	sent, err := h.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("hello ✓"), MessageAttributes: attrs})
	if err != nil {
		t.Fatal(err) // the SDK checks MD5OfMessageBody
	}
	if aws.ToString(sent.MD5OfMessageAttributes) == "" {
		t.Error("SendMessage: no MD5OfMessageAttributes")
	}
	if _, err := h.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("later"), DelaySeconds: 10}); err != nil {
		t.Fatal(err)
	}
	counts := func() (visible, hidden, delayed string) {
		a, err := h.client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		return a.Attributes["ApproximateNumberOfMessages"], a.Attributes["ApproximateNumberOfMessagesNotVisible"], a.Attributes["ApproximateNumberOfMessagesDelayed"]
	}
	if v, hd, d := counts(); v != "1" || hd != "0" || d != "1" {
		t.Errorf("counts = %s visible, %s not visible, %s delayed; want 1, 0, 1", v, hd, d)
	}

	got, err := h.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 {
		t.Fatalf("received %d messages; want the one not delayed", len(got.Messages))
	}
	m := got.Messages[0]
	if aws.ToString(m.Body) != "hello ✓" || aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) {
		t.Errorf("received %q %s; want %q %s", aws.ToString(m.Body), aws.ToString(m.MessageId), "hello ✓", aws.ToString(sent.MessageId))
	}
	if aws.ToString(m.MD5OfMessageAttributes) != aws.ToString(sent.MD5OfMessageAttributes) {
		t.Errorf("MD5OfMessageAttributes received %s, sent %s", aws.ToString(m.MD5OfMessageAttributes), aws.ToString(sent.MD5OfMessageAttributes))
	}
	if v := m.MessageAttributes["raw"]; string(v.BinaryValue) != "\x00\x01\x02\xff" || aws.ToString(m.MessageAttributes["other"].StringValue) != "ünï" {
		t.Errorf("message attributes = %v", m.MessageAttributes)
	}
	if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] != strconv.FormatInt(h.clock.Now().UnixMilli(), 10) ||
		m.Attributes["SenderId"] != lambdatest.AccessKeyID {
		t.Errorf("system attributes = %v", m.Attributes)
	}
	if v, hd, d := counts(); v != "0" || hd != "1" || d != "1" {
		t.Errorf("after receive: %s visible, %s not visible, %s delayed; want 0, 1, 1", v, hd, d)
	}

	// Only the attributes asked for, with their MD5.
	h.clock.Advance(31 * time.Second) // past the visibility timeout and the delay
	some, err := h.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, MessageAttributeNames: []string{"col.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(some.Messages) != 2 {
		t.Fatalf("after the timeout received %d messages; want 2", len(some.Messages))
	}
	for _, m := range some.Messages {
		if aws.ToString(m.Body) == "hello ✓" && (len(m.MessageAttributes) != 1 || m.Attributes != nil) {
			t.Errorf("with col.* got attributes %v and system attributes %v; want colour only", m.MessageAttributes, m.Attributes)
		}
	}
	// ChangeMessageVisibility 0 returns a message at once; a stale receipt
	// handle deletes nothing.
	if _, err := h.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: some.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	again, err := h.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url})
	if err != nil || len(again.Messages) != 1 || aws.ToString(again.Messages[0].MessageId) != aws.ToString(some.Messages[0].MessageId) {
		t.Fatalf("after ChangeMessageVisibility 0: %v, %v; want the message again", again, err)
	}
	if _, err := h.client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: some.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	del, err := h.client.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("a"), ReceiptHandle: again.Messages[0].ReceiptHandle},
		{Id: aws.String("b"), ReceiptHandle: some.Messages[1].ReceiptHandle},
		{Id: aws.String("c"), ReceiptHandle: aws.String("garbage")},
	}})
	if err != nil || len(del.Successful) != 2 || len(del.Failed) != 1 || aws.ToString(del.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Fatalf("DeleteMessageBatch = %+v, %v; want a, b deleted and c ReceiptHandleIsInvalid", del, err)
	}
	h.clock.Advance(time.Hour)
	if v, hd, d := counts(); v != "0" || hd != "0" || d != "0" {
		t.Errorf("after deleting everything: %s visible, %s not visible, %s delayed; want none", v, hd, d)
	}

	// Errors as AWS sends them.
	_, err = h.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 11})
	wantCode(t, err, "InvalidParameterValue")
	_, err = h.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("bad \x01")})
	var contents *types.InvalidMessageContents
	if !errors.As(err, &contents) {
		t.Errorf("SendMessage with a control character: %v; want InvalidMessageContents", err)
	}
	_, err = h.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: again.Messages[0].ReceiptHandle, VisibilityTimeout: 5})
	var inflight *types.MessageNotInflight
	if !errors.As(err, &inflight) {
		t.Errorf("ChangeMessageVisibility of a deleted message: %v; want MessageNotInflight", err)
	}
}

func TestBatchesAndPurge(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	ctx := context.Background()
	url := h.create(t, "batch", nil)
	var entries []types.SendMessageBatchRequestEntry
	for i := range 10 {
		entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String("m" + strconv.Itoa(i)), MessageBody: aws.String("body " + strconv.Itoa(i))})
	}
	entries[3].MessageBody = aws.String("")
	out, err := h.client.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Successful) != 9 || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "m3" {
		t.Fatalf("SendMessageBatch: %d successful, failed %+v; want 9 and m3", len(out.Successful), out.Failed)
	}
	_, err = h.client.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: &url, Entries: append(entries, entries[0])})
	var tooMany *types.TooManyEntriesInBatchRequest
	if !errors.As(err, &tooMany) {
		t.Errorf("11 entries: %v; want TooManyEntriesInBatchRequest", err)
	}
	_, err = h.client.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: &url, Entries: []types.SendMessageBatchRequestEntry{entries[0], entries[0]}})
	var notDistinct *types.BatchEntryIdsNotDistinct
	if !errors.As(err, &notDistinct) {
		t.Errorf("repeated Id: %v; want BatchEntryIdsNotDistinct", err)
	}
	got, err := h.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 4})
	if err != nil || len(got.Messages) != 4 {
		t.Fatalf("ReceiveMessage 4: %v, %v", got, err)
	}
	var cv []types.ChangeMessageVisibilityBatchRequestEntry
	for i, m := range got.Messages {
		cv = append(cv, types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
	}
	cvOut, err := h.client.ChangeMessageVisibilityBatch(ctx, &awssqs.ChangeMessageVisibilityBatchInput{QueueUrl: &url, Entries: cv})
	if err != nil || len(cvOut.Successful) != 4 {
		t.Fatalf("ChangeMessageVisibilityBatch: %+v, %v", cvOut, err)
	}
	if _, err := h.client.PurgeQueue(ctx, &awssqs.PurgeQueueInput{QueueUrl: &url}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.PurgeQueue(ctx, &awssqs.PurgeQueueInput{QueueUrl: &url})
	var inProgress *types.PurgeQueueInProgress
	if !errors.As(err, &inProgress) {
		t.Errorf("a second PurgeQueue within 60 s: %v; want PurgeQueueInProgress", err)
	}
	empty, err := h.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10})
	if err != nil || len(empty.Messages) != 0 {
		t.Errorf("after PurgeQueue received %v, %v; want nothing", empty, err)
	}
}

func TestLongPollIsWokenBySend(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	ctx := context.Background()
	url := h.create(t, "poll", nil)
	type result struct {
		out *awssqs.ReceiveMessageOutput
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := h.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 20})
		done <- result{out, err}
	}()
	// The receive is waiting (or about to): a send must end it with the
	// message, long before its 20 s are up. Sending until it returns
	// covers a send that lands before the receive started waiting.
	for i := 0; ; i++ {
		if _, err := h.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("wake " + strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			if r.err != nil || len(r.out.Messages) != 1 {
				t.Fatalf("long poll = %v, %v; want one message", r.out, r.err)
			}
			return
		case <-time.After(time.Second):
		}
	}
}

func TestFIFO(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	ctx := context.Background()
	url := h.create(t, "jobs.fifo", map[string]string{"FifoQueue": "true"})
	cbd := h.create(t, "cbd.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})

	_, err := h.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), MessageDeduplicationId: aws.String("d")})
	wantCode(t, err, "MissingParameter")
	_, err = h.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), MessageGroupId: aws.String("g")})
	wantCode(t, err, "InvalidParameterValue")

	send := func(u, group, dedup, body string) *awssqs.SendMessageOutput {
		t.Helper()
		in := &awssqs.SendMessageInput{QueueUrl: &u, MessageBody: aws.String(body), MessageGroupId: aws.String(group)}
		if dedup != "" {
			in.MessageDeduplicationId = aws.String(dedup)
		}
		out, err := h.client.SendMessage(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a1 := send(url, "a", "a1", "a1")
	dup := send(url, "a", "a1", "a1 again")
	if aws.ToString(dup.MessageId) != aws.ToString(a1.MessageId) {
		t.Errorf("a duplicate within 5 minutes got message ID %s; want the first's, %s", aws.ToString(dup.MessageId), aws.ToString(a1.MessageId))
	}
	send(url, "a", "a2", "a2")
	b1 := send(url, "b", "b1", "b1")
	send(url, "a", "a3", "a3")
	if aws.ToString(b1.SequenceNumber) <= aws.ToString(a1.SequenceNumber) {
		t.Errorf("SequenceNumber %s after %s; want it larger", aws.ToString(b1.SequenceNumber), aws.ToString(a1.SequenceNumber))
	}

	recv := func(max int32) []string {
		t.Helper()
		out, err := h.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: max,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if m.Attributes["MessageGroupId"] == "" || m.Attributes["SequenceNumber"] == "" || m.Attributes["MessageDeduplicationId"] == "" {
				t.Errorf("FIFO message attributes %v lack MessageGroupId, SequenceNumber or MessageDeduplicationId", m.Attributes)
			}
		}
		return bodies
	}
	if got := recv(1); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("first receive = %v; want [a1]", got)
	}
	// Group a is blocked while a1 is in flight; b is free.
	if got := recv(10); !slices.Equal(got, []string{"b1"}) {
		t.Fatalf("while a1 is in flight = %v; want [b1]", got)
	}
	h.clock.Advance(31 * time.Second) // a1 and b1 come back
	if got := recv(10); !slices.Equal(got, []string{"a1", "a2", "b1", "a3"}) {
		t.Fatalf("after the visibility timeout = %v; want [a1 a2 b1 a3], in order", got)
	}
	// Content-based deduplication: the same body is one message, for 5 minutes.
	c1 := send(cbd, "g", "", "same")
	c2 := send(cbd, "g", "", "same")
	if aws.ToString(c1.MessageId) != aws.ToString(c2.MessageId) {
		t.Errorf("content-based deduplication: %s and %s; want one message", aws.ToString(c1.MessageId), aws.ToString(c2.MessageId))
	}
	h.clock.Advance(6 * time.Minute)
	if c3 := send(cbd, "g", "", "same"); aws.ToString(c3.MessageId) == aws.ToString(c1.MessageId) {
		t.Error("after the 5-minute window the same body is still deduplicated")
	}
}

func TestRedriveToDeadLetterQueue(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	ctx := context.Background()
	dlq := h.create(t, "dead", nil)
	url := h.create(t, "work", map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + h.svc.ARN("dead") + `","maxReceiveCount":2}`})
	sent, err := h.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("poison")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		out, err := h.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("receive %d: %v, %v; want the message", i+1, out, err)
		}
		h.clock.Advance(31 * time.Second) // not deleted: back after the visibility timeout
	}
	// A third receive would exceed maxReceiveCount: the message moves.
	out, err := h.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &url})
	if err != nil || len(out.Messages) != 0 {
		t.Fatalf("third receive = %v, %v; want nothing", out, err)
	}
	got, err := h.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &dlq, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("dead-letter queue = %v, %v; want the message", got, err)
	}
	m := got.Messages[0]
	if aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) || m.Attributes["DeadLetterQueueSourceArn"] != h.svc.ARN("work") {
		t.Errorf("dead letter %s with attributes %v; want %s from %s", aws.ToString(m.MessageId), m.Attributes, aws.ToString(sent.MessageId), h.svc.ARN("work"))
	}
	src, err := h.client.ListDeadLetterSourceQueues(ctx, &awssqs.ListDeadLetterSourceQueuesInput{QueueUrl: &dlq})
	if err != nil || !slices.Equal(src.QueueUrls, []string{url}) {
		t.Errorf("ListDeadLetterSourceQueues = %v, %v; want [%s]", src, err, url)
	}
}

// TestGoAPI drives the methods other packages use, and a restart: what
// was sent before Close is there after Open.
func TestGoAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sqs.db")
	svc, err := sqs.Open(sqs.Config{Path: path, Region: "eu-west-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	arn, err := svc.CreateQueue(ctx, "events", nil)
	if err != nil || arn != "arn:aws:sqs:eu-west-1:123456789012:events" {
		t.Fatalf("CreateQueue = %s, %v", arn, err)
	}
	id, err := svc.SendMessage(ctx, arn, "one", map[string]sqs.MessageAttributeValue{"k": {DataType: "String", StringValue: "v"}})
	if err != nil || id == "" {
		t.Fatalf("SendMessage = %q, %v", id, err)
	}
	if _, err := svc.SendMessage(ctx, "arn:aws:sqs:eu-west-1:123456789012:nope", "x", nil); !errors.Is(err, sqs.ErrQueueDoesNotExist) {
		t.Errorf("SendMessage to a missing queue: %v; want ErrQueueDoesNotExist", err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	svc, err = sqs.Open(sqs.Config{Path: path, Region: "eu-west-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	msgs, err := svc.Receive(ctx, arn, 10, nil, 0)
	if err != nil || len(msgs) != 1 || msgs[0].MessageID != id || msgs[0].MessageAttributes["k"].StringValue != "v" {
		t.Fatalf("Receive after a restart = %+v, %v; want message %s", msgs, err, id)
	}
	if err := svc.ChangeVisibility(ctx, arn, msgs[0].ReceiptHandle, 0); err != nil {
		t.Fatal(err)
	}
	msgs, err = svc.Receive(ctx, arn, 10, nil, 0)
	if err != nil || len(msgs) != 1 || msgs[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("Receive after ChangeVisibility 0 = %+v, %v; want the message, received twice", msgs, err)
	}
	if err := svc.Delete(ctx, arn, msgs[0].ReceiptHandle); err != nil {
		t.Fatal(err)
	}
	attrs, err := svc.QueueAttributes(ctx, arn)
	if err != nil || attrs["ApproximateNumberOfMessages"] != "0" || attrs["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("after Delete: %v, %v; want an empty queue", attrs, err)
	}
}
