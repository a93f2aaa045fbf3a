package locallambda

import (
	"crypto/md5"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// awsCLIs are the AWS CLIs on this machine, each once: Debian's v2
// (/usr/bin/aws, whose botocore speaks SQS's query protocol) and whatever
// `aws` is on PATH (pip's v1, whose botocore speaks SQS's JSON protocol),
// or SLUICE_TEST_AWS_CLI.
func awsCLIs() []string {
	var bins []string
	add := func(p string) {
		if p == "" {
			return
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		if !slices.Contains(bins, p) {
			bins = append(bins, p)
		}
	}
	add(os.Getenv("SLUICE_TEST_AWS_CLI"))
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		add("/usr/bin/aws")
	}
	if p, err := exec.LookPath("aws"); err == nil {
		add(p)
	}
	return bins
}

// TestAWSCLISQS drives the local SQS with every AWS CLI found, so both
// SQS protocols go through botocore's own serializers, parsers and MD5
// checks, with signatures verified.
func TestAWSCLISQS(t *testing.T) {
	bins := awsCLIs()
	if len(bins) == 0 {
		t.Skip("the AWS CLI is not installed (apt-get install awscli); skipping the AWS CLI SQS test")
	}
	for _, bin := range bins {
		t.Run("v"+strconv.Itoa(awsCLIMajor(t, bin)), func(t *testing.T) {
			testAWSCLISQS(t, bin)
		})
	}
}

func testAWSCLISQS(t *testing.T, bin string) {
	cs := newCtlServer(t, withCredentials("x", "x"))
	cli := cliRunner(t, bin, cs.URL())
	run := func(wantErr string, args ...string) map[string]any {
		t.Helper()
		return cli(t, wantErr, args...)
	}

	out := run("", "sqs", "create-queue", "--queue-name", "cli-q", "--attributes", "VisibilityTimeout=600,DelaySeconds=0")
	url, _ := out["QueueUrl"].(string)
	if url != cs.URL()+"/000000000000/cli-q" {
		t.Fatalf("create-queue printed %v", out)
	}
	run("", "sqs", "create-queue", "--queue-name", "cli-other")
	run("NonExistentQueue", "sqs", "get-queue-url", "--queue-name", "missing")

	sent := run("", "sqs", "send-message", "--queue-url", url, "--message-body", "hello cli <&>",
		"--message-attributes", `{"k":{"DataType":"String","StringValue":"v"},"n":{"DataType":"Number","StringValue":"7"}}`)
	sum := md5.Sum([]byte("hello cli <&>"))
	if sent["MD5OfMessageBody"] != hex.EncodeToString(sum[:]) || sent["MessageId"] == nil || sent["MD5OfMessageAttributes"] == nil {
		t.Errorf("send-message printed %v", sent)
	}
	batch := run("", "sqs", "send-message-batch", "--queue-url", url, "--entries", "Id=a,MessageBody=one", "Id=b,MessageBody=two")
	if ok, _ := batch["Successful"].([]any); len(ok) != 2 {
		t.Errorf("send-message-batch printed %v", batch)
	}

	got := run("", "sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "10",
		"--attribute-names", "All", "--message-attribute-names", "All")
	msgs, _ := got["Messages"].([]any)
	if len(msgs) != 3 {
		t.Fatalf("receive-message printed %v; want 3 messages", got)
	}
	bodies := map[string]map[string]any{}
	for _, m := range msgs {
		mm := m.(map[string]any)
		bodies[mm["Body"].(string)] = mm
	}
	first := bodies["hello cli <&>"]
	if first == nil {
		t.Fatalf("receive-message bodies %v; want %q", bodies, "hello cli <&>")
	}
	attrs, _ := first["Attributes"].(map[string]any)
	mattrs, _ := first["MessageAttributes"].(map[string]any)
	k, _ := mattrs["k"].(map[string]any)
	if attrs["ApproximateReceiveCount"] != "1" || k["StringValue"] != "v" || first["MD5OfMessageAttributes"] != sent["MD5OfMessageAttributes"] {
		t.Errorf("received %v", first)
	}
	run("", "sqs", "delete-message", "--queue-url", url, "--receipt-handle", first["ReceiptHandle"].(string))
	run("", "sqs", "change-message-visibility", "--queue-url", url, "--receipt-handle", bodies["one"]["ReceiptHandle"].(string), "--visibility-timeout", "0")

	qa := run("", "sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")
	a, _ := qa["Attributes"].(map[string]any)
	if a["ApproximateNumberOfMessages"] != "1" || a["ApproximateNumberOfMessagesNotVisible"] != "1" || a["VisibilityTimeout"] != "600" ||
		a["QueueArn"] != "arn:aws:sqs:us-east-1:000000000000:cli-q" {
		t.Errorf("get-queue-attributes printed %v; want 1 visible (one), 1 in flight (two)", qa)
	}
	list := run("", "sqs", "list-queues", "--queue-name-prefix", "cli-")
	if urls, _ := list["QueueUrls"].([]any); len(urls) != 2 {
		t.Errorf("list-queues printed %v", list)
	}
	run("", "sqs", "delete-queue", "--queue-url", url)
}
