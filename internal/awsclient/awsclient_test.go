package awsclient

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/sluice-cd/sluice/internal/locallambda"
	"github.com/sluice-cd/sluice/internal/locallambda/access"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	yamlPath := writeFile(t, "sluice.yaml", `
server: {listen: ":8080"}   # other sections are not the accounts' business
accounts:
  - name: prod
    region: us-west-2
    roleArn: arn:aws:iam::123456789012:role/deployer
    externalId: xyz
    applications: [shop, billing]
  - name: dev
    region: eu-west-1
    profile: dev
    endpoint: http://127.0.0.1:5000
local:
  credentials: {accessKeyId: sluice-dev, secretAccessKey: s3cr3t}
  concurrentExecutions: 64
`)
	cfg, err := LoadConfig(yamlPath)
	if err != nil {
		t.Fatal(err)
	}
	want := []AccountConfig{
		{Name: "prod", Region: "us-west-2", RoleARN: "arn:aws:iam::123456789012:role/deployer", ExternalID: "xyz", Applications: []string{"shop", "billing"}},
		{Name: "dev", Region: "eu-west-1", Profile: "dev", Endpoint: "http://127.0.0.1:5000"},
	}
	if !reflect.DeepEqual(cfg.Accounts, want) {
		t.Fatalf("accounts = %+v, want %+v", cfg.Accounts, want)
	}
	if c := cfg.Local.Credentials; c == nil || *c != (LocalCredentials{AccessKeyID: "sluice-dev", SecretAccessKey: "s3cr3t"}) {
		t.Fatalf("local.credentials = %+v", c)
	}
	if n := cfg.Local.ConcurrentExecutions; n != 64 {
		t.Fatalf("local.concurrentExecutions = %d, want 64", n)
	}
	jsonPath := writeFile(t, "sluice.json", `{"accounts":[{"name":"prod","region":"us-west-2"}]}`)
	if cfg, err := LoadConfig(jsonPath); err != nil || len(cfg.Accounts) != 1 || cfg.Accounts[0].Region != "us-west-2" {
		t.Fatalf("JSON: %+v, %v", cfg, err)
	}
	// An account spans regions, as a Clouddriver account does: a list of
	// names, or Clouddriver's own {name: …} objects.
	regions := writeFile(t, "regions.yaml", `
accounts:
  - {name: names, regions: [us-east-1, eu-west-1]}
  - name: clouddriver
    regions:
      - name: eu-west-1
      - name: ap-south-1
`)
	cfg, err = LoadConfig(regions)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := []any{cfg.Accounts[0].regions(), cfg.Accounts[1].regions()}, []any{[]string{"us-east-1", "eu-west-1"}, []string{"eu-west-1", "ap-south-1"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("regions = %v, want %v", got, want)
	}
	empty := writeFile(t, "empty.yaml", "")
	if cfg, err := LoadConfig(empty); err != nil || len(cfg.Accounts) != 0 || cfg.Local.Credentials != nil {
		t.Fatalf("empty file: %+v, %v", cfg, err)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"missing region", "accounts: [{name: prod}]", []string{"accounts[0] (prod): regions is required"}},
		{"region and regions", "accounts: [{name: prod, region: us-east-1, regions: [eu-west-1]}]",
			[]string{"accounts[0] (prod): both region and regions are set"}},
		{"bad regions element", "accounts: [{name: prod, regions: [us-east-1, west]}]", []string{`accounts[0] (prod): regions[1] "west" is not a region name`}},
		{"duplicate region", "accounts: [{name: prod, regions: [us-east-1, {name: us-east-1}]}]", []string{`accounts[0] (prod): regions[1] "us-east-1" is listed twice`}},
		{"regions not a list", "accounts: [{name: prod, regions: us-east-1}]", []string{`accounts[0] (prod): field "regions" must be a list of region names`}},
		{"regions object without name", "accounts: [{name: prod, regions: [{region: us-east-1}]}]", []string{`accounts[0] (prod): field "regions" must be a list of region names`}},
		{"bad region", "accounts: [{name: prod, region: west}]", []string{`accounts[0] (prod): region "west" is not a region name`}},
		{"missing name", "accounts: [{region: us-east-1}]", []string{"accounts[0]: name is required"}},
		{"local reserved", "accounts: [{name: local, region: us-east-1}]", []string{`accounts[0] (local): name "local" is reserved`}},
		{"duplicate", "accounts: [{name: a, region: us-east-1}, {name: a, region: us-east-2}]",
			[]string{`accounts[1] (a): name "a" is already used by accounts[0]`}},
		{"unknown field", "accounts: [{name: prod, regoin: us-east-1}]",
			[]string{`accounts[0] (prod): unknown field "regoin"`, "accounts[0] (prod): regions is required"}},
		{"wrong type", "accounts: [{name: prod, region: 5}]", []string{`accounts[0] (prod): field "region" must be a string`}},
		{"bad role", "accounts: [{name: prod, region: us-east-1, roleArn: deployer}]", []string{`accounts[0] (prod): roleArn "deployer" is not an IAM role ARN`}},
		{"external id alone", "accounts: [{name: prod, region: us-east-1, externalId: x}]", []string{"accounts[0] (prod): externalId is set but roleArn is not"}},
		{"bad endpoint", "accounts: [{name: prod, region: us-east-1, endpoint: localhost:5000}]", []string{`accounts[0] (prod): endpoint "localhost:5000" must be an http:// or https:// URL`}},
		{"not a list", "accounts: {name: prod}", []string{"accounts must be a list of objects"}},
		{"applications not a list", "accounts: [{name: prod, region: us-east-1, applications: shop}]",
			[]string{`accounts[0] (prod): field "applications" must be a list of application names`}},
		{"applications not strings", "accounts: [{name: prod, region: us-east-1, applications: [shop, {a: 1}]}]",
			[]string{`accounts[0] (prod): field "applications" must be a list of application names`}},
		{"empty application", "accounts: [{name: prod, region: us-east-1, applications: [shop, '']}]",
			[]string{"accounts[0] (prod): applications[1] is empty; name an application, or leave applications out"}},
		{"local not an object", "local: yes", []string{"local must be an object with credentials"}},
		{"concurrency not a number", "local: {concurrentExecutions: many}", []string{"local.concurrentExecutions: want a whole number from 1 to 100000", "got many"}},
		{"concurrency fractional", "local: {concurrentExecutions: 2.5}", []string{"local.concurrentExecutions: want a whole number", "got 2.5"}},
		{"concurrency zero", "local: {concurrentExecutions: 0}", []string{"local.concurrentExecutions: want a whole number", "leave it out for the default"}},
		{"local unknown field", "local: {credentails: {}}", []string{`local: unknown field "credentails"`}},
		{"credentials not an object", "local: {credentials: x}", []string{"local.credentials must be an object"}},
		{"credentials incomplete", "local: {credentials: {accessKeyId: k}}", []string{"local.credentials: secretAccessKey is required"}},
		{"credentials bad key", "local: {credentials: {accessKeyId: a/b, secretAccessKey: s, secret: s}}",
			[]string{`local.credentials: accessKeyId "a/b" must be`, `local.credentials: unknown field "secret"`}},
		{"credentials not strings", "local: {credentials: {accessKeyId: k, secretAccessKey: 5}}", []string{`local.credentials: field "secretAccessKey" must be a string`}},
	} {
		p := writeFile(t, "sluice.yaml", tc.text)
		_, err := LoadConfig(p)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, w)
			}
		}
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file", tc.name, err)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestNewAndGet(t *testing.T) {
	ctx := context.Background()
	// Keep the SDK away from this machine's own AWS configuration.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "credentials"))
	t.Setenv("AWS_PROFILE", "")

	if _, err := New(ctx, Config{Accounts: []AccountConfig{{Name: "local", Region: "us-east-1"}}}, LocalEndpoint{}); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("local in config: %v", err)
	}
	if _, err := New(ctx, Config{Accounts: []AccountConfig{{Name: "p"}}}, LocalEndpoint{}); err == nil || !strings.Contains(err.Error(), "accounts[0] (p): regions is required") {
		t.Errorf("no region: %v", err)
	}
	if _, err := New(ctx, Config{Accounts: []AccountConfig{{Name: "p", Region: "us-east-1", Profile: "nosuch"}}}, LocalEndpoint{}); err == nil || !strings.Contains(err.Error(), "account p") {
		t.Errorf("missing profile: %v", err)
	}

	a, err := New(ctx, Config{Accounts: []AccountConfig{
		{Name: "prod", Region: "us-west-2", RoleARN: "arn:aws:iam::123456789012:role/deployer"},
		{Name: "moto", Region: "us-east-1", Endpoint: "http://127.0.0.1:5000"},
		{Name: "multi", Regions: []string{"eu-west-1", "us-east-1"}},
	}}, LocalEndpoint{URL: "http://127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(a.Names(), ","); got != "local,moto,multi,prod" {
		t.Errorf("Names = %s", got)
	}
	local, err := a.Get("local")
	if err != nil || local.Name != "local" || !local.Local || local.Region != "us-east-1" {
		t.Fatalf(`Get("local") = %+v, %v`, local, err)
	}
	// The empty name is never the local account.
	if _, err := a.Get(""); !errors.Is(err, ErrUnknownAccount) || !strings.Contains(err.Error(), "the account is empty") || !strings.Contains(err.Error(), "local, moto, multi, prod") {
		t.Errorf(`Get("") = %v; want ErrUnknownAccount listing the accounts`, err)
	}
	// One client set per region; the first is the default.
	for _, tc := range []struct{ region, want string }{{"", "eu-west-1"}, {"eu-west-1", "eu-west-1"}, {"us-east-1", "us-east-1"}} {
		m, err := a.In("multi", tc.region)
		if err != nil || m.Region != tc.want || m.Lambda.Options().Region != tc.want || m.S3.Options().Region != tc.want || m.CloudWatch.Options().Region != tc.want {
			t.Errorf("In(multi, %q) = %+v, %v; want region %s", tc.region, m, err, tc.want)
		} else if !reflect.DeepEqual(m.Regions, []string{"eu-west-1", "us-east-1"}) {
			t.Errorf("In(multi, %q).Regions = %v", tc.region, m.Regions)
		}
	}
	if _, err := a.In("multi", "us-west-2"); !errors.Is(err, ErrUnknownRegion) || !strings.Contains(err.Error(), "eu-west-1, us-east-1") {
		t.Errorf("In(multi, us-west-2) = %v; want ErrUnknownRegion listing the regions", err)
	}
	prod, err := a.Get("prod")
	if err != nil || prod.Local || prod.Region != "us-west-2" || prod.Lambda.Options().Region != "us-west-2" {
		t.Fatalf("Get(prod) = %+v, %v", prod, err)
	}
	moto, _ := a.Get("moto")
	if got := aws.ToString(moto.Lambda.Options().BaseEndpoint); got != "http://127.0.0.1:5000" || !moto.S3.Options().UsePathStyle {
		t.Errorf("endpoint override: lambda %q, S3 path style %v", got, moto.S3.Options().UsePathStyle)
	}
	// CloudFront follows the endpoint override too; the local account's
	// is the local Lambda's URL, where its CloudFront answers.
	if got := aws.ToString(moto.CloudFront.Options().BaseEndpoint); got != "http://127.0.0.1:5000" {
		t.Errorf("endpoint override: cloudfront %q", got)
	}
	if got := aws.ToString(local.CloudFront.Options().BaseEndpoint); got != "http://127.0.0.1:9" {
		t.Errorf("local cloudfront endpoint %q, want the local Lambda's URL", got)
	}
	if prod.CloudFront == nil || prod.CloudFront.Options().BaseEndpoint != nil {
		t.Errorf("prod cloudfront: %+v; want a client on AWS's endpoint", prod.CloudFront)
	}
	_, err = a.Get("staging")
	if !errors.Is(err, ErrUnknownAccount) || !strings.Contains(err.Error(), "local, moto, multi, prod") {
		t.Errorf("Get(staging) = %v; want ErrUnknownAccount listing the accounts", err)
	}

	none, err := New(ctx, Config{}, LocalEndpoint{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := none.Get("local"); !errors.Is(err, ErrUnknownAccount) || !strings.Contains(err.Error(), "no local Lambda") {
		t.Errorf("local without an endpoint: %v", err)
	}
}

// The local account reaches the embedded local Lambda and its S3 through
// the SDK, over HTTP.
func TestLocalAccount(t *testing.T) {
	t.Parallel()
	srv, err := locallambda.New(locallambda.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	if _, err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	a, err := New(ctx, Config{}, LocalEndpoint{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := a.Get("local")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acct.Lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Fatalf("ListFunctions: %v", err)
	}
	if _, err := acct.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("code")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if _, err := acct.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("code"), Key: aws.String("a.zip"), Body: strings.NewReader("PK")}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	// Many sequential calls reuse connections (the request-body wrapper).
	for range 200 {
		if _, err := acct.Lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
			t.Fatal(err)
		}
	}
}

// With local.credentials the local account signs with them, and a local
// Lambda configured with the same verifies its signatures.
func TestLocalAccountCredentials(t *testing.T) {
	t.Parallel()
	creds := &LocalCredentials{AccessKeyID: "sluice-dev", SecretAccessKey: "s3cr3t"}
	srv, err := locallambda.New(locallambda.Config{DataDir: t.TempDir(),
		Credentials: &access.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	if _, err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // the error code; "" for none
	}{
		{"the same credentials", Config{Local: LocalConfig{Credentials: creds}}, ""},
		{"none (sluice-local)", Config{}, "UnrecognizedClientException"},
		{"another secret", Config{Local: LocalConfig{Credentials: &LocalCredentials{AccessKeyID: "sluice-dev", SecretAccessKey: "guess"}}}, "InvalidSignatureException"},
	} {
		a, err := New(ctx, tc.cfg, LocalEndpoint{URL: srv.URL()})
		if err != nil {
			t.Fatal(err)
		}
		acct, _ := a.Get(LocalName)
		_, err = acct.Lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{})
		var ae smithy.APIError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: ListFunctions: %v", tc.name, err)
		case tc.want != "" && (!errors.As(err, &ae) || ae.ErrorCode() != tc.want):
			t.Errorf("%s: ListFunctions = %v; want %s", tc.name, err, tc.want)
		}
		if tc.want == "" {
			if _, err := acct.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("code")}); err != nil {
				t.Errorf("%s: CreateBucket: %v", tc.name, err)
			}
		}
	}
}

func TestCheckApplication(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "credentials"))
	t.Setenv("AWS_PROFILE", "")
	a, err := New(context.Background(), Config{Accounts: []AccountConfig{
		{Name: "prod", Region: "us-west-2", Applications: []string{"shop", "billing"}},
		{Name: "dev", Region: "us-west-2"},
	}}, LocalEndpoint{URL: "http://127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		app, account string
		ok           bool
	}{
		{"shop", "prod", true},
		{"billing", "prod", true},
		{"blog", "prod", false},
		{"Shop", "prod", false}, // names match exactly
		{"", "prod", false},
		{"blog", "dev", true},    // no applications: every one
		{"blog", "", true},       // the local account
		{"blog", "local", true},  // the local account
		{"blog", "nosuch", true}, // Get reports it
	} {
		err := a.CheckApplication(tt.app, tt.account)
		if tt.ok != (err == nil) {
			t.Errorf("CheckApplication(%q, %q) = %v, want ok %v", tt.app, tt.account, err, tt.ok)
		}
		if err != nil {
			for _, want := range []string{`application "` + tt.app + `"`, `account "prod"`, "shop, billing", "sluice.yaml"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("CheckApplication(%q, %q) = %q, want it to say %q", tt.app, tt.account, err, want)
				}
			}
		}
	}
	var none *Accounts
	if err := none.CheckApplication("shop", "prod"); err != nil {
		t.Errorf("nil Accounts: %v", err)
	}
}
