package locallambda

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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
	work := t.TempDir()
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(work, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(work, "credentials"),
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")
	run := func(t *testing.T, wantErr string, args ...string) map[string]any {
		t.Helper()
		args = append(args, "--endpoint-url", cs.URL(), "--output", "json")
		cmd := exec.Command(bin, args...)
		cmd.Env, cmd.Dir = env, work
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if wantErr != "" {
			if err == nil || !strings.Contains(stderr.String(), wantErr) {
				t.Fatalf("aws %s: err %v, stderr %q; want a failure naming %q", strings.Join(args, " "), err, stderr.String(), wantErr)
			}
			return nil
		}
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		out := map[string]any{}
		if s := strings.TrimSpace(stdout.String()); s != "" {
			if err := json.Unmarshal([]byte(s), &out); err != nil {
				t.Fatalf("aws %s printed %q: %v", strings.Join(args, " "), s, err)
			}
		}
		return out
	}

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
