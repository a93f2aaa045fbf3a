package locallambda

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestAWSCLISNS drives the local SNS with the AWS CLI (botocore's query
// serializer and XML parser, v1 or v2), signatures verified with the
// CLI's credentials, and checks a publish reaches a subscribed queue.
func TestAWSCLISNS(t *testing.T) {
	t.Parallel()
	bin := awsCLI(t)
	t.Logf("%s is AWS CLI v%d", bin, awsCLIMajor(t, bin))
	cs := newCtlServer(t, withCredentials("x", "x"))
	run := cliRunner(t, bin, cs.URL())

	// Few calls, each one checked: every call starts a Python process,
	// seconds each on a loaded machine.
	const topic = "arn:aws:sns:us-east-1:000000000000:cli-topic"
	out := run(t, "", "sns", "create-topic", "--name", "cli-topic", "--attributes", "DisplayName=CLI")
	if out["TopicArn"] != topic {
		t.Fatalf("create-topic printed %v", out)
	}
	out = run(t, "", "sns", "get-topic-attributes", "--topic-arn", topic)
	if dig(out, "Attributes", "DisplayName") != "CLI" || dig(out, "Attributes", "TopicArn") != topic {
		t.Errorf("get-topic-attributes printed %v", out)
	}
	run(t, "NotFound", "sns", "get-topic-attributes", "--topic-arn", topic+"-missing")

	queue := run(t, "", "sqs", "create-queue", "--queue-name", "cli-queue")
	sub := run(t, "", "sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs",
		"--notification-endpoint", "arn:aws:sqs:us-east-1:000000000000:cli-queue",
		"--attributes", `{"RawMessageDelivery":"true","FilterPolicy":"{\"kind\":[\"keep\"]}"}`)
	subARN, _ := sub["SubscriptionArn"].(string)
	if !strings.HasPrefix(subARN, topic+":") {
		t.Fatalf("subscribe printed %v", sub)
	}
	run(t, "InvalidParameter", "sns", "set-subscription-attributes", "--subscription-arn", subARN,
		"--attribute-name", "FilterPolicy", "--attribute-value", `{"kind":"keep"}`)

	run(t, "", "sns", "publish", "--topic-arn", topic, "--message", "dropped",
		"--message-attributes", `{"kind":{"DataType":"String","StringValue":"drop"}}`)
	pub := run(t, "", "sns", "publish", "--topic-arn", topic, "--message", "kept", "--subject", "cli",
		"--message-attributes", `{"kind":{"DataType":"String","StringValue":"keep"}}`)
	if id, _ := pub["MessageId"].(string); len(id) != 36 {
		t.Errorf("publish printed %v", pub)
	}

	// Both publishes were fanned out when they were answered, so the kept
	// message is in the queue by now or soon; ten messages would show the
	// dropped one too.
	var bodies []string
	sluicetest.WaitFor(t, "the kept message in the queue", 60*time.Second, func() bool {
		out := run(t, "", "sqs", "receive-message", "--queue-url", queue["QueueUrl"].(string), "--wait-time-seconds", "5",
			"--max-number-of-messages", "10", "--visibility-timeout", "300")
		msgs, _ := out["Messages"].([]any)
		for _, m := range msgs {
			bodies = append(bodies, dig(m, "Body").(string))
		}
		return len(bodies) > 0
	})
	if len(bodies) != 1 || bodies[0] != "kept" {
		t.Errorf("the queue received %q, want only the raw \"kept\"", bodies)
	}

	run(t, "", "sns", "delete-topic", "--topic-arn", topic)
	run(t, "NotFound", "sns", "list-subscriptions-by-topic", "--topic-arn", topic)
}
