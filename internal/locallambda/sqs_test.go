package locallambda

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// TestSQSOnTheEndpoint drives the local SQS through the local Lambda's
// port, with signatures verified: requests signed for "sqs" reach it,
// Lambda and S3 still reach theirs, and an unsigned SQS request is
// refused in SQS's JSON error shape.
func TestSQSOnTheEndpoint(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t, withCredentials(lambdatest.AccessKeyID, lambdatest.SecretAccessKey))
	ctx := context.Background()
	out, err := cs.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if want := cs.URL() + "/000000000000/orders"; aws.ToString(out.QueueUrl) != want {
		t.Errorf("QueueUrl = %s; want %s", aws.ToString(out.QueueUrl), want)
	}
	if _, err := cs.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: out.QueueUrl, MessageBody: aws.String("hi")}); err != nil {
		t.Fatal(err)
	}
	msgs, err := cs.Server.SQSService().Receive(ctx, "arn:aws:sqs:us-east-1:000000000000:orders", 10, nil, 0)
	if err != nil || len(msgs) != 1 || msgs[0].Body != "hi" {
		t.Fatalf("Go API Receive = %+v, %v; want the message sent over HTTP", msgs, err)
	}
	if _, err := cs.Lambda.ListFunctions(ctx, nil); err != nil {
		t.Errorf("Lambda beside SQS: %v", err)
	}
	if _, err := cs.S3.ListBuckets(ctx, nil); err != nil {
		t.Errorf("S3 beside SQS: %v", err)
	}
	wrong := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(cs.URL()), RetryMaxAttempts: 1,
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: lambdatest.AccessKeyID, SecretAccessKey: "wrong"}, nil
		}))})
	_, err = wrong.ListQueues(ctx, nil)
	var qne *types.QueueDoesNotExist
	if err == nil || errors.As(err, &qne) || !strings.Contains(err.Error(), "InvalidSignature") {
		t.Errorf("a wrong secret: %v; want InvalidSignature", err)
	}
	req, _ := http.NewRequest("POST", cs.URL()+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "AmazonSQS.ListQueues")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Unsigned, no scope: it is not routed to SQS, and refused as an S3
	// request would be; what matters is that it is refused.
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned SQS request: %d %s; want 403", resp.StatusCode, body)
	}
}
