package web_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/functions"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestBrowserFunctionsQueueConsumer runs the queue-consumer example
// behind an alias with an SQS mapping that reports batch item failures,
// sends it six messages it processes and two it fails, and reads the
// Functions page: the consumer's version shows 6 processed and 2 failed,
// and a function that consumes no queue (hello, invoked directly) has no
// message columns.
func TestBrowserFunctionsQueueConsumer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function")
	}
	ctx := context.Background()
	lam := newLocalLambda(t)
	s := newTestServer(t, functions.New(functions.Config{Accounts: lam.accounts, LocalLambdaURL: lam.url}))
	b := newBrowser(t, s.URL)
	b.signIn(s, "/")

	// hello: invoked, no queue.
	h1, _ := lam.deployTwoVersions(t, "hello")
	lam.route(t, "hello", "live", h1, nil)
	lam.invoke(t, "hello", "live")

	zip, err := fnbuild.Zip(ctx, filepath.Join("..", ".."), "./examples/functions/queue-consumer")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lam.lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName:  aws.String("consumer"),
		Role:          aws.String("arn:aws:iam::000000000000:role/lambda"),
		Runtime:       lambdatypes.RuntimeProvidedal2023,
		Handler:       aws.String("bootstrap"),
		Architectures: []lambdatypes.Architecture{lambdatypes.Architecture(fnbuild.Architecture())},
		Code:          &lambdatypes.FunctionCode{ZipFile: zip},
	}); err != nil {
		t.Fatal(err)
	}
	lam.waitUpdated(t, "consumer")
	v1 := lam.publish(t, "consumer", "consumer v1")
	lam.route(t, "consumer", "live", v1, nil)

	q := lambdatest.SQSClient(lam.url)
	dlq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	orders, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders"), Attributes: map[string]string{
		"VisibilityTimeout": "1", "RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:orders-dlq","maxReceiveCount":1}`}})
	if err != nil {
		t.Fatal(err)
	}
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, body := range []string{"a", "b", "fail-1", "c", "d", "fail-2", "e", "f"} {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(body)})
	}
	if _, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: orders.QueueUrl, Entries: entries}); err != nil {
		t.Fatal(err)
	}
	if _, err := lam.lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("consumer:live"), EventSourceArn: aws.String("arn:aws:sqs:us-east-1:000000000000:orders"), BatchSize: aws.Int32(10),
		FunctionResponseTypes: []lambdatypes.FunctionResponseType{lambdatypes.FunctionResponseTypeReportBatchItemFailures},
	}); err != nil {
		t.Fatal(err)
	}
	sluicetest.WaitFor(t, "the two failed messages in the dead-letter queue", 2*time.Minute, func() bool {
		a, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages"}})
		return err == nil && a.Attributes["ApproximateNumberOfMessages"] == "2"
	})

	b.open("/functions")
	// The page refreshes itself every 5 s; the figures arrive with it.
	b.waitFor("the consumer's message figures", `document.body.dataset.enhanced === '1' &&
		document.querySelector('#fn-consumer tr[data-version="`+v1+`"] td[data-messages-processed]')?.dataset.messagesProcessed === '6' &&
		document.querySelector('#fn-consumer tr[data-version="`+v1+`"] td[data-messages-failed]')?.dataset.messagesFailed === '2'`)
	if got := b.text(`#fn-consumer tr[data-version="` + v1 + `"] td[data-messages-failed]`); got != "2 (25.0%)" {
		t.Errorf("the consumer's failed messages read %q; want 2 (25.0%%)", got)
	}
	if n := eval[int](b, `document.querySelectorAll('#fn-hello td[data-messages-processed], #fn-hello td[data-messages-failed]').length`); n != 0 {
		t.Errorf("hello, which consumes no queue, has %d message cells; want none", n)
	}
	if n := eval[int](b, `[...document.querySelectorAll('#fn-hello th')].filter(th => th.textContent.startsWith('Messages')).length`); n != 0 {
		t.Errorf("hello, which consumes no queue, has %d message columns; want none", n)
	}
	b.screenshot("functions-consumer")
	b.checkConsole()
}
