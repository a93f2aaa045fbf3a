package locallambda

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// TestAWSCLI drives the local Lambda with the AWS CLI, a client nobody here
// wrote: every call goes through botocore's own serializers, parsers and
// waiters. It prefers Debian's awscli (/usr/bin/aws, v2) and skips when no
// aws is installed (.ci/run installs it: apt-get install awscli);
// SLUICE_TEST_AWS_CLI=path picks another binary.
//
// It passes with v1 (pip's awscli) and v2 alike, every subtest on both.
// Where the two differ the test gives each what it needs and asserts the
// same outcome: v2 reads --payload as base64 unless told
// --cli-binary-format raw-in-base64-out, an option v1 does not know (v1
// sends the payload as given); v1's `aws s3 presign` signs with Signature
// Version 2, which the local Lambda refuses, so on v1 the test checks the
// refusal names the fix, applies it (`aws configure set
// default.s3.signature_version s3v4`) and presigns again.
//
// The server verifies signatures with the CLI's credentials (x/x), so
// every call also proves that botocore's SigV4 signatures — escaped ARNs,
// query strings, S3 keys and payload hashes — verify as AWS would verify
// them.
func TestAWSCLI(t *testing.T) {
	bin := awsCLI(t)
	major := awsCLIMajor(t, bin)
	t.Logf("%s is AWS CLI v%d", bin, major)
	cs := newCtlServer(t, withCredentials("x", "x"))
	work := t.TempDir()
	env := append(os.Environ(),
		"AWS_ACCESS_KEY_ID=x", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(work, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(work, "credentials"),
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")
	secret := "x"
	// run runs the CLI and decodes its JSON output; wantErr expects a
	// failure whose stderr names it.
	run := func(t *testing.T, wantErr string, args ...string) map[string]any {
		t.Helper()
		args = append(args, "--endpoint-url", cs.URL(), "--output", "json")
		cmd := exec.Command(bin, args...)
		cmd.Env, cmd.Dir = append(slices.Clip(env), "AWS_SECRET_ACCESS_KEY="+secret), work
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		t.Logf("aws %s: %s", strings.Join(args[:2], " "), time.Since(start))
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
		if args[0] == "s3" {
			out["output"] = stdout.String() // the s3 commands print text
			return out
		}
		if s := strings.TrimSpace(stdout.String()); s != "" {
			if err := json.Unmarshal([]byte(s), &out); err != nil {
				t.Fatalf("aws %s printed %q: %v", strings.Join(args, " "), s, err)
			}
		}
		return out
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zip1, zip2, zip3 := lambdatest.BootstrapZip(t, "cli-1"), lambdatest.BootstrapZip(t, "cli-2"), lambdatest.BootstrapZip(t, "cli-3")
	p1, p2, p3 := write("one.zip", zip1), write("two.zip", zip2), write("three.zip", zip3)

	t.Run("create-function", func(t *testing.T) {
		out := run(t, "", "lambda", "create-function", "--function-name", "cli", "--runtime", "provided.al2023",
			"--handler", "bootstrap", "--role", lambdatest.Role, "--zip-file", "fileb://"+p1)
		if out["State"] != "Pending" || out["CodeSha256"] != lambdatest.CodeSha(zip1) || out["FunctionArn"] != "arn:aws:lambda:us-east-1:000000000000:function:cli" {
			t.Errorf("create-function printed %v", out)
		}
		run(t, "", "lambda", "wait", "function-active-v2", "--function-name", "cli")
		run(t, "ResourceConflictException", "lambda", "create-function", "--function-name", "cli", "--runtime", "provided.al2023",
			"--handler", "bootstrap", "--role", lambdatest.Role, "--zip-file", "fileb://"+p1)
	})
	t.Run("update-function-code", func(t *testing.T) {
		out := run(t, "", "lambda", "update-function-code", "--function-name", "cli", "--zip-file", "fileb://"+p2)
		if out["LastUpdateStatus"] != "InProgress" || out["CodeSha256"] != lambdatest.CodeSha(zip2) {
			t.Errorf("update-function-code printed %v", out)
		}
		run(t, "", "lambda", "wait", "function-updated-v2", "--function-name", "cli")
	})
	t.Run("publish-version", func(t *testing.T) {
		out := run(t, "", "lambda", "publish-version", "--function-name", "cli", "--description", "first")
		if out["Version"] != "1" || out["Description"] != "first" {
			t.Errorf("publish-version printed %v", out)
		}
		run(t, "", "lambda", "wait", "published-version-active", "--function-name", "cli", "--qualifier", "1")
		out = run(t, "", "lambda", "update-function-code", "--function-name", "cli", "--zip-file", "fileb://"+p3, "--publish")
		if out["Version"] != "2" {
			t.Errorf("update-function-code --publish printed version %v; want 2", out["Version"])
		}
		run(t, "", "lambda", "wait", "published-version-active", "--function-name", "cli", "--qualifier", "2")
		run(t, "InvalidParameterValueException", "lambda", "publish-version", "--function-name", "cli", "--code-sha256", "wrong")
	})
	t.Run("create-alias", func(t *testing.T) {
		out := run(t, "", "lambda", "create-alias", "--function-name", "cli", "--name", "live", "--function-version", "1",
			"--routing-config", "AdditionalVersionWeights={2=0.1}")
		rc, _ := out["RoutingConfig"].(map[string]any)
		w, _ := rc["AdditionalVersionWeights"].(map[string]any)
		if out["AliasArn"] != "arn:aws:lambda:us-east-1:000000000000:function:cli:live" || w["2"] != 0.1 {
			t.Errorf("create-alias printed %v", out)
		}
		run(t, "InvalidParameterValueException", "lambda", "create-alias", "--function-name", "cli", "--name", "bad", "--function-version", "1",
			"--routing-config", "AdditionalVersionWeights={1=0.5}")
	})
	t.Run("list-versions-by-function", func(t *testing.T) {
		out := run(t, "", "lambda", "list-versions-by-function", "--function-name", "cli")
		var got []string
		vs, _ := out["Versions"].([]any)
		for _, v := range vs {
			got = append(got, v.(map[string]any)["Version"].(string))
		}
		if strings.Join(got, ",") != "$LATEST,1,2" {
			t.Errorf("list-versions-by-function printed versions %v", got)
		}
	})
	t.Run("delete-function-qualifier", func(t *testing.T) {
		run(t, "Unable to delete version because the following aliases reference it: [live]", "lambda", "delete-function", "--function-name", "cli", "--qualifier", "2")
		run(t, "", "lambda", "update-alias", "--function-name", "cli", "--name", "live", "--routing-config", "AdditionalVersionWeights={}")
		run(t, "", "lambda", "delete-function", "--function-name", "cli", "--qualifier", "2")
		run(t, "ResourceNotFoundException", "lambda", "get-function", "--function-name", "cli", "--qualifier", "2")
	})
	t.Run("get-function", func(t *testing.T) {
		out := run(t, "", "lambda", "get-function", "--function-name", "cli")
		c, _ := out["Configuration"].(map[string]any)
		code, _ := out["Code"].(map[string]any)
		if c["State"] != "Active" || c["LastUpdateStatus"] != "Successful" || c["CodeSha256"] != lambdatest.CodeSha(zip3) || code["RepositoryType"] != "S3" {
			t.Errorf("get-function printed %v", out)
		}
		run(t, "ResourceNotFoundException", "lambda", "get-function", "--function-name", "nope")
	})
	t.Run("s3-then-create-function", func(t *testing.T) {
		run(t, "", "s3", "mb", "s3://artifacts")
		run(t, "", "s3", "cp", p1, "s3://artifacts/builds/fn.zip")
		out := run(t, "", "lambda", "create-function", "--function-name", "cli-s3", "--runtime", "provided.al2023",
			"--handler", "bootstrap", "--role", lambdatest.Role, "--code", "S3Bucket=artifacts,S3Key=builds/fn.zip")
		if out["CodeSha256"] != lambdatest.CodeSha(zip1) {
			t.Errorf("create-function from S3 printed %v", out)
		}
		run(t, "", "lambda", "wait", "function-active-v2", "--function-name", "cli-s3")
		run(t, "NoSuchKey", "lambda", "create-function", "--function-name", "cli-s3b", "--runtime", "provided.al2023",
			"--handler", "bootstrap", "--role", lambdatest.Role, "--code", "S3Bucket=artifacts,S3Key=nope.zip")
	})
	// Invoke through the CLI runs a real aws-lambda-go function (the data
	// plane's test function) behind a weighted alias.
	t.Run("invoke-qualifier-log-tail", func(t *testing.T) {
		bootstrap, err := os.ReadFile(filepath.Join(lambdatest.FunctionDir(t), "bootstrap"))
		if err != nil {
			t.Fatal(err)
		}
		pkg := write("echo.zip", lambdatest.Zip(t, map[string]string{"bootstrap": string(bootstrap)}))
		run(t, "", "lambda", "create-function", "--function-name", "cli-echo", "--runtime", "provided.al2023",
			"--handler", "echo", "--role", lambdatest.Role, "--zip-file", "fileb://"+pkg, "--publish")
		run(t, "", "lambda", "wait", "published-version-active", "--function-name", "cli-echo", "--qualifier", "1")
		run(t, "", "lambda", "update-function-configuration", "--function-name", "cli-echo", "--environment", "Variables={STAGE=two}")
		run(t, "", "lambda", "wait", "function-updated-v2", "--function-name", "cli-echo")
		run(t, "", "lambda", "publish-version", "--function-name", "cli-echo")
		run(t, "", "lambda", "wait", "published-version-active", "--function-name", "cli-echo", "--qualifier", "2")
		run(t, "", "lambda", "create-alias", "--function-name", "cli-echo", "--name", "live", "--function-version", "1",
			"--routing-config", "AdditionalVersionWeights={2=0.5}")
		seen := map[string]bool{}
		invoke := []string{"lambda", "invoke", "--function-name", "cli-echo", "--qualifier", "live", "--log-type", "Tail"}
		if major >= 2 {
			invoke = append(invoke, "--cli-binary-format", "raw-in-base64-out") // v1 sends --payload as given
		}
		invoke = append(invoke, "--payload", `{"n":1}`, filepath.Join(work, "response.json"))
		for i := 0; i < 40 && len(seen) < 2; i++ {
			out := run(t, "", invoke...)
			if out["StatusCode"] != 200.0 {
				t.Fatalf("invoke printed %v", out)
			}
			v, _ := out["ExecutedVersion"].(string)
			seen[v] = true
			logs, _ := base64.StdEncoding.DecodeString(out["LogResult"].(string))
			if !strings.Contains(string(logs), "START RequestId:") || !strings.Contains(string(logs), "REPORT RequestId:") {
				t.Errorf("LogResult = %q", logs)
			}
			resp, _ := os.ReadFile(filepath.Join(work, "response.json"))
			if !strings.Contains(string(resp), `"n":1`) || !strings.Contains(string(resp), "cli-echo:live") {
				t.Errorf("response = %s", resp)
			}
		}
		if !seen["1"] || !seen["2"] {
			t.Errorf("a 50%% alias executed versions %v in up to 40 invokes; want both 1 and 2", seen)
		}
	})
	t.Run("s3-presign", func(t *testing.T) {
		if major < 2 {
			// v1 presigns with Signature Version 2 unless configured otherwise.
			out := run(t, "", "s3", "presign", "s3://artifacts/builds/fn.zip", "--expires-in", "60")
			url := strings.TrimSpace(out["output"].(string))
			status, body := httpGet(t, url)
			if !strings.Contains(url, "AWSAccessKeyId=") || status != 400 || !strings.Contains(body, "signature_version s3v4") {
				t.Fatalf("GET of v1's Version 2 presigned URL %s: %d %q; want 400 naming `aws configure set default.s3.signature_version s3v4`", url, status, body)
			}
			cfg := exec.Command(bin, "configure", "set", "default.s3.signature_version", "s3v4")
			cfg.Env, cfg.Dir = append(slices.Clip(env), "AWS_SECRET_ACCESS_KEY="+secret), work
			if b, err := cfg.CombinedOutput(); err != nil {
				t.Fatalf("aws configure set default.s3.signature_version s3v4: %v\n%s", err, b)
			}
		}
		out := run(t, "", "s3", "presign", "s3://artifacts/builds/fn.zip", "--expires-in", "60")
		url := strings.TrimSpace(out["output"].(string))
		if !strings.Contains(url, "X-Amz-Algorithm=AWS4-HMAC-SHA256") {
			t.Errorf("presigned URL %s is not signed with Signature Version 4", url)
		}
		if status, body := httpGet(t, url); status != 200 || body != string(zip1) {
			t.Errorf("GET of the presigned URL %s: %d, %d bytes; want 200 and the package", url, status, len(body))
		}
	})
	t.Run("wrong-secret", func(t *testing.T) {
		secret = "guess"
		defer func() { secret = "x" }()
		run(t, "InvalidSignatureException", "lambda", "list-functions")
		run(t, "SignatureDoesNotMatch", "s3", "ls", "s3://artifacts")
	})
}

// awsCLI finds the AWS CLI: SLUICE_TEST_AWS_CLI if set, else Debian's v2
// package, else the PATH's aws.
func awsCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SLUICE_TEST_AWS_CLI"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		return "/usr/bin/aws"
	}
	p, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI is not installed (apt-get install awscli); skipping the AWS CLI script test")
	}
	return p
}

// awsCLIMajor returns the major version of the AWS CLI at bin, read from
// `aws --version` ("aws-cli/1.45.11 Python/…"; v1 once printed it on
// stderr, so both streams are read).
func awsCLIMajor(t *testing.T, bin string) int {
	t.Helper()
	b, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, b)
	}
	v, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "aws-cli/")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if !ok || err != nil {
		t.Fatalf("%s --version printed %q; want aws-cli/MAJOR.MINOR.PATCH", bin, b)
	}
	return n
}

// cliRunner returns a function that runs the AWS CLI bin against endpoint
// with credentials x/x and configuration files of its own, and returns
// what it printed as JSON; with wantErr it expects a failure whose
// message holds wantErr, and returns nil.
func cliRunner(t *testing.T, bin, endpoint string) func(t *testing.T, wantErr string, args ...string) map[string]any {
	work := t.TempDir()
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(work, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(work, "credentials"),
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")
	return func(t *testing.T, wantErr string, args ...string) map[string]any {
		t.Helper()
		args = append(args, "--endpoint-url", endpoint, "--output", "json")
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
}
