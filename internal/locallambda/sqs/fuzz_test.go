package sqs

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzQueryToJSON: any form turns into a JSON object or an SQS error,
// never a panic, and a conversion's output is a JSON object.
func FuzzQueryToJSON(f *testing.F) {
	for _, s := range []string{
		"Action=CreateQueue&QueueName=q&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=5&Tag.1.Key=a&Tag.1.Value=b",
		"Action=SendMessage&QueueUrl=http://h/000000000000/q&MessageBody=x&MessageAttribute.1.Name=k&MessageAttribute.1.Value.StringValue=v&MessageAttribute.1.Value.DataType=String",
		"Action=SendMessageBatch&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=x&SendMessageBatchRequestEntry.2.Id=b",
		"Action=ReceiveMessage&AttributeName.1=All&MessageAttributeName.1=All&MaxNumberOfMessages=10",
		"Attribute.1=x&Attribute.1.Name=y", "a..b=1", "Tag.0.Key=x", "Attribute.x.Name=1",
	} {
		f.Add("SendMessage", s)
	}
	f.Fuzz(func(t *testing.T, op, raw string) {
		if len(raw) > 4096 {
			return
		}
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		b, err := queryToJSON(op, form)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("queryToJSON(%q) = %v; want an *Error", raw, err)
			}
			return
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			t.Fatalf("queryToJSON(%q) = %s: not a JSON object: %v", raw, b, err)
		}
	})
}

// FuzzRequests sends arbitrary bodies to every operation in both
// protocols: the answer is a success or an SQS error with a 4xx status,
// never a panic or a 5xx.
func FuzzRequests(f *testing.F) {
	svc, err := Open(Config{Path: filepath.Join(f.TempDir(), "sqs.db")})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = svc.Close() })
	if _, err := svc.CreateQueue(context.Background(), "q", nil); err != nil {
		f.Fatal(err)
	}
	if _, err := svc.CreateQueue(context.Background(), "f.fifo", map[string]string{"FifoQueue": "true"}); err != nil {
		f.Fatal(err)
	}
	h := svc.Handler()
	for _, s := range []string{
		`{"QueueUrl":"http://h/000000000000/q","MessageBody":"x","MessageAttributes":{"k":{"DataType":"Binary","BinaryValue":"AAE="}}}`,
		`{"QueueUrl":"http://h/000000000000/f.fifo","MessageBody":"x","MessageGroupId":"g","MessageDeduplicationId":"d"}`,
		`{"QueueUrl":"http://h/000000000000/q","MaxNumberOfMessages":"10","WaitTimeSeconds":0}`,
		`{"QueueName":"n","Attributes":{"RedrivePolicy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:q\",\"maxReceiveCount\":1}"}}`,
		`{"QueueUrl":"http://h/000000000000/q","Entries":[{"Id":"a","ReceiptHandle":"x"}]}`,
		`[]`, `{"QueueUrl":7}`, `null`,
	} {
		f.Add(0, true, s)
	}
	ops := []string{"CreateQueue", "GetQueueUrl", "ListQueues", "GetQueueAttributes", "SetQueueAttributes", "PurgeQueue",
		"TagQueue", "UntagQueue", "ListQueueTags", "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage",
		"DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "ListDeadLetterSourceQueues", "Nope"}
	f.Fuzz(func(t *testing.T, op int, jsonProto bool, body string) {
		if len(body) > 4096 || op < 0 {
			return
		}
		name := ops[op%len(ops)]
		if strings.Contains(body, "WaitTimeSeconds") {
			return // a long poll is a wait, not a parse
		}
		var r *http.Request
		if jsonProto {
			r = httptest.NewRequest("POST", "/", strings.NewReader(body))
			r.Header.Set("X-Amz-Target", "AmazonSQS."+name)
			r.Header.Set("Content-Type", "application/x-amz-json-1.0")
		} else {
			r = httptest.NewRequest("POST", "/", strings.NewReader("Action="+name+"&"+body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d %s", name, body, w.Code, w.Body)
		}
	})
}
