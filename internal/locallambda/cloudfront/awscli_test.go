package cloudfront_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
)

// TestAWSCLIAndSignatures drives the control plane with the AWS CLI
// (botocore's own serializers, parsers and waiter), on a server that
// verifies every signature: the CLI's signatures verify, and a client with
// the wrong secret is refused in CloudFront's error envelope. It skips
// when no aws is installed (SLUICE_TEST_AWS_CLI=path picks one).
func TestAWSCLIAndSignatures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withCredentials("x", "x"))
	ctx := context.Background()

	wrong := cloudfront.New(cloudfront.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("x", "not-the-secret", ""), RetryMaxAttempts: 1})
	_, err := wrong.ListDistributions(ctx, &cloudfront.ListDistributionsInput{})
	wantCodeMentions(t, err, "InvalidSignature", "signature")
	right := cloudfront.New(cloudfront.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""), RetryMaxAttempts: 1})
	if _, err := right.ListDistributions(ctx, &cloudfront.ListDistributionsInput{}); err != nil {
		t.Fatalf("ListDistributions signed with the configured key: %v", err)
	}

	bin := os.Getenv("SLUICE_TEST_AWS_CLI")
	if bin == "" {
		if bin, err = exec.LookPath("aws"); err != nil {
			t.Skip("the AWS CLI is not installed (apt-get install awscli); skipping the AWS CLI half")
		}
	}
	work := t.TempDir()
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(work, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(work, "credentials"),
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")
	run := func(wantErr string, args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--endpoint-url", e.srv.URL(), "--output", "json")...)
		cmd.Env, cmd.Dir = env, work
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if wantErr != "" {
			if err == nil || !strings.Contains(stderr.String(), wantErr) {
				t.Fatalf("aws %s: %v, stderr %s; want an error naming %s", strings.Join(args, " "), err, stderr.String(), wantErr)
			}
			return nil
		}
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		var out map[string]any
		if stdout.Len() > 0 {
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatalf("aws %s printed %s: %v", strings.Join(args, " "), stdout.String(), err)
			}
		}
		return out
	}
	cfg := map[string]any{
		"CallerReference": "cli", "Comment": "from the AWS CLI", "Enabled": true,
		"Origins": map[string]any{"Quantity": 1, "Items": []any{map[string]any{
			"Id": "app", "DomainName": "127.0.0.1",
			"CustomOriginConfig": map[string]any{"HTTPPort": 8080, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"},
		}}},
		"DefaultCacheBehavior": map[string]any{"TargetOriginId": "app", "ViewerProtocolPolicy": "allow-all",
			"CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"},
	}
	write := func(name string, v any) string {
		b, _ := json.Marshal(v)
		path := filepath.Join(work, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + path
	}
	created := run("", "cloudfront", "create-distribution", "--distribution-config", write("create.json", cfg))
	d, _ := created["Distribution"].(map[string]any)
	id, _ := d["Id"].(string)
	if id == "" || created["ETag"] == "" {
		t.Fatalf("create-distribution printed %v", created)
	}
	got := run("", "cloudfront", "get-distribution-config", "--id", id)
	etag, _ := got["ETag"].(string)
	dc, _ := got["DistributionConfig"].(map[string]any)
	if etag == "" || dc["Comment"] != "from the AWS CLI" {
		t.Fatalf("get-distribution-config printed %v", got)
	}
	dc["Comment"] = "updated by the AWS CLI"
	run("InvalidIfMatchVersion", "cloudfront", "update-distribution", "--id", id, "--distribution-config", write("update.json", dc))
	run("PreconditionFailed", "cloudfront", "update-distribution", "--id", id, "--if-match", "ESTALE00000000", "--distribution-config", write("update.json", dc))
	up := run("", "cloudfront", "update-distribution", "--id", id, "--if-match", etag, "--distribution-config", write("update.json", dc))
	if up["ETag"] == etag {
		t.Errorf("update-distribution kept the ETag %s", etag)
	}
	run("", "cloudfront", "wait", "distribution-deployed", "--id", id)
	list := run("", "cloudfront", "list-distributions")
	// The CLI merges the pages and prints only the items.
	dl, _ := list["DistributionList"].(map[string]any)
	if items, _ := dl["Items"].([]any); len(items) != 1 || items[0].(map[string]any)["Id"] != id {
		t.Errorf("list-distributions printed %v; want distribution %s", list, id)
	}
}
