package lambda

// The Lambda@Edge stages against CloudFront peers through aws-sdk-go-v2:
// moto_server, where it models the calls, and the local CloudFront
// control plane of the local Lambda. moto 5.x keeps distributions and
// their ETags but drops every LambdaFunctionAssociation it is sent
// (DefaultCacheBehaviour always answers Quantity 0), ignores If-Match's
// value and never changes the ETag, and has no continuous-deployment
// policies or staging distributions: the moto tests cover what happens
// before any change (the constraint checks, a missing distribution, a
// missing behavior); the association, the retry, the rollback and the
// canary run against the local control plane.

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

// cachingDisabled is CloudFront's managed cache policy CachingDisabled.
const cachingDisabled = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"

// newDistribution creates a distribution with a default behavior and one
// for /api/*, over a custom origin, and returns its ID.
func newDistribution(t testing.TB, cf *cloudfront.Client, ref string) string {
	t.Helper()
	behavior := func(p string) cftypes.CacheBehavior {
		return cftypes.CacheBehavior{PathPattern: aws.String(p), TargetOriginId: aws.String("origin"),
			ViewerProtocolPolicy: cftypes.ViewerProtocolPolicyAllowAll, CachePolicyId: aws.String(cachingDisabled)}
	}
	api := behavior("/api/*")
	out, err := cf.CreateDistribution(context.Background(), &cloudfront.CreateDistributionInput{DistributionConfig: &cftypes.DistributionConfig{
		CallerReference: aws.String(ref),
		Comment:         aws.String("sluice edge test"),
		Enabled:         aws.Bool(true),
		Origins: &cftypes.Origins{Quantity: aws.Int32(1), Items: []cftypes.Origin{{Id: aws.String("origin"), DomainName: aws.String("origin.example.com"),
			CustomOriginConfig: &cftypes.CustomOriginConfig{HTTPPort: aws.Int32(80), HTTPSPort: aws.Int32(443), OriginProtocolPolicy: cftypes.OriginProtocolPolicyHttpOnly}}}},
		DefaultCacheBehavior: &cftypes.DefaultCacheBehavior{TargetOriginId: aws.String("origin"), ViewerProtocolPolicy: cftypes.ViewerProtocolPolicyAllowAll,
			CachePolicyId: aws.String(cachingDisabled)},
		CacheBehaviors: &cftypes.CacheBehaviors{Quantity: aws.Int32(1), Items: []cftypes.CacheBehavior{api}},
	}})
	if err != nil {
		t.Fatalf("CreateDistribution: %v", err)
	}
	return aws.ToString(out.Distribution.Id)
}

// distConfig reads a distribution's config and ETag.
func distConfig(t testing.TB, cf *cloudfront.Client, id string) (*cftypes.DistributionConfig, string) {
	t.Helper()
	out, err := cf.GetDistributionConfig(context.Background(), &cloudfront.GetDistributionConfigInput{Id: aws.String(id)})
	if err != nil {
		t.Fatalf("GetDistributionConfig %s: %v", id, err)
	}
	return out.DistributionConfig, aws.ToString(out.ETag)
}

// configJSON is a config as JSON, to compare two reads.
func configJSON(t testing.TB, cfg *cftypes.DistributionConfig) string {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assocOf returns behavior p's associations.
func assocOf(t testing.TB, cf *cloudfront.Client, id, p string) []edgeAssociation {
	t.Helper()
	cfg, _ := distConfig(t, cf, id)
	as, ok := behaviorAssociations(cfg, p)
	if !ok {
		t.Fatalf("distribution %s has no behavior %q", id, p)
	}
	return as
}

// nodeZip is a tiny Node.js package.
func nodeZip(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("index.js")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "exports.handler = async (event) => event.Records[0].cf.request;\n")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// motoEdgeFunction creates a Node.js function in moto's region and
// publishes version 1 of it.
func motoEdgeFunction(t *testing.T, c *lambda.Client, name string, timeout int32, vars map[string]string) string {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Role: aws.String(motoRole),
		Runtime: types.RuntimeNodejs20x, Handler: aws.String("index.handler"), Timeout: aws.Int32(timeout), MemorySize: aws.Int32(128),
		Code: &types.FunctionCode{ZipFile: nodeZip(t)}, Environment: &types.Environment{Variables: vars}})
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
	out, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("PublishVersion %s: %v", name, err)
	}
	return aws.ToString(out.Version)
}

// TestEdgeMotoRefusesBeforeChange: against moto, a version that breaks
// the Edge constraints for its event type is refused naming each field,
// and the distribution is not touched; a missing distribution and a
// missing behavior are refused naming what there is.
func TestEdgeMotoRefusesBeforeChange(t *testing.T) {
	env := newMotoEnv(t)
	cf := env.acct.CloudFront
	id := newDistribution(t, cf, "moto-edge")
	cfgBefore, etagBefore := distConfig(t, cf, id)

	motoEdgeFunction(t, env.c, "demo-edge", 10, map[string]string{"STAGE": "prod"})
	typ := typeOf(t, env.accounts, EdgeAssociationTypeName)
	fields := map[string]any{"account": "moto", "region": "us-east-1", "functionName": "edge", "distributionId": id, "eventType": "viewer-request"}
	msg := newStageRun(t, typ, fixtureApp, fields).mustFail()
	for _, want := range []string{"nothing was changed", "envVariables: version 1 has environment variables (STAGE)", "timeout: version 1 has 10 s; viewer-request functions may take at most 5 s"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q; want it to say %q", msg, want)
		}
	}
	cfgAfter, etagAfter := distConfig(t, cf, id)
	if etagAfter != etagBefore || configJSON(t, cfgAfter) != configJSON(t, cfgBefore) {
		t.Errorf("the distribution changed: ETag %s → %s", etagBefore, etagAfter)
	}

	// The same function in eu-west-1: the region is named too.
	eu, err := env.accounts.In("moto", "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	motoEdgeFunction(t, eu.Lambda, "demo-edge", 3, nil)
	msg = newStageRun(t, typ, fixtureApp, withFields(fields, map[string]any{"region": "eu-west-1", "eventType": "origin-request"})).mustFail()
	if !strings.Contains(msg, "region: the function is in eu-west-1; Lambda@Edge functions must be in us-east-1") {
		t.Errorf("eu-west-1: %q; want the region named", msg)
	}

	// A distribution that does not exist, and a behavior it lacks.
	motoEdgeFunction(t, env.c, "demo-ok", 3, nil)
	ok := withFields(fields, map[string]any{"functionName": "ok", "eventType": "origin-request"})
	msg = newStageRun(t, typ, fixtureApp, withFields(ok, map[string]any{"distributionId": "ENOSUCHDIST"})).mustFail()
	if !strings.Contains(msg, "distribution ENOSUCHDIST does not exist in account moto") {
		t.Errorf("missing distribution: %q", msg)
	}
	msg = newStageRun(t, typ, fixtureApp, withFields(ok, map[string]any{"cacheBehaviors": []any{"/img/*"}})).mustFail()
	if !strings.Contains(msg, `no cache behavior with path pattern "/img/*"; its behaviors are "*", "/api/*"`) {
		t.Errorf("missing behavior: %q", msg)
	}
	if _, etag := distConfig(t, cf, id); etag != etagBefore {
		t.Errorf("the distribution's ETag changed: %s → %s", etagBefore, etag)
	}
}

// TestEdgeValidate: the fields are checked when the pipeline is saved,
// each problem at its field.
func TestEdgeValidate(t *testing.T) {
	t.Parallel()
	typ := typeOf(t, nil, EdgeAssociationTypeName)
	base := map[string]any{"functionName": "edge", "distributionId": "E123ABC", "eventType": "viewer-request"}
	if errs := typ.Validate(base); len(errs) > 0 {
		t.Fatalf("Validate(%v) = %v", base, errs)
	}
	for _, tc := range []struct {
		name  string
		more  map[string]any
		field string
		want  string
	}{
		{"event type", map[string]any{"eventType": "viewer"}, "eventType", "viewer-request"},
		{"include body on a response", map[string]any{"eventType": "origin-response", "includeBody": true}, "includeBody", "only for viewer-request and origin-request"},
		{"distribution id", map[string]any{"distributionId": "e-1"}, "distributionId", ""},
		{"moving", map[string]any{"version": "$MOVING"}, "version", ""},
		{"all", map[string]any{"version": "$ALL"}, "version", "one numbered version"},
		{"empty behaviors", map[string]any{"cacheBehaviors": []any{}}, "cacheBehaviors", "at least one path pattern"},
		{"twice", map[string]any{"cacheBehaviors": []any{"*", "*"}}, "cacheBehaviors", "twice"},
		{"strategy", map[string]any{"deploymentStrategy": "$CANARY"}, "deploymentStrategy", "$STAGING"},
		{"staging missing", map[string]any{"deploymentStrategy": "$STAGING"}, "staging", "required"},
		{"weight too high", map[string]any{"deploymentStrategy": "$STAGING", "staging": map[string]any{"weight": 0.2}}, "staging.weight", "at most 0.15"},
		{"weight and header", map[string]any{"deploymentStrategy": "$STAGING", "staging": map[string]any{"weight": 0.1, "header": "aws-cf-cd-x", "headerValue": "1"}}, "staging", "both weight and header"},
		{"header name", map[string]any{"deploymentStrategy": "$STAGING", "staging": map[string]any{"header": "x-canary", "headerValue": "1"}}, "staging.header", "aws-cf-cd-"},
		{"ttl range", map[string]any{"deploymentStrategy": "$STAGING", "staging": map[string]any{"weight": 0.1, "idleTTL": 60, "maximumTTL": 600}}, "staging.idleTTL", ""},
		{"staging with $DIRECT", map[string]any{"deploymentStrategy": "$DIRECT", "staging": map[string]any{"weight": 0.1}}, "staging", "only with deploymentStrategy $STAGING"},
		{"staging without strategy", map[string]any{"staging": map[string]any{"weight": 0.1}}, "staging", "only with deploymentStrategy $STAGING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustRefuse(t, typ, withFields(base, tc.more), tc.field, tc.want)
		})
	}
	promote := typeOf(t, nil, EdgePromoteTypeName)
	mustRefuse(t, promote, map[string]any{"functionName": "edge", "distributionId": "E1", "action": "keep"}, "action", "promote")
	restore := typeOf(t, nil, EdgeRestoreTypeName)
	mustRefuse(t, restore, map[string]any{"functionName": "demo-edge", "distributionId": "E1", "behaviors": []any{map[string]any{"pathPattern": "*",
		"associations": []any{map[string]any{"lambdaFunctionARN": "arn:aws:lambda:us-east-1:1:function:f:1", "eventType": "origin-response", "includeBody": true}}}}},
		"behaviors", "includeBody")
}

// TestEdgeProblems: every constraint of lambda-api.md §3, by event type,
// on the local account and on an AWS one.
func TestEdgeProblems(t *testing.T) {
	t.Parallel()
	ok := &lambda.GetFunctionConfigurationOutput{Runtime: types.RuntimeNodejs20x, MemorySize: aws.Int32(128), Timeout: aws.Int32(5),
		CodeSize: 1000, State: types.StateActive, Architectures: []types.Architecture{types.ArchitectureX8664}}
	aws1 := &function{acct: awsAccount("prod", "us-east-1", false), name: "f"}
	local := &function{acct: awsAccount("local", "us-east-1", true), name: "f"}
	if p := edgeProblems(aws1, "3", ok, eventViewerRequest); len(p) > 0 {
		t.Fatalf("a conforming version: %v", p)
	}
	bad := *ok
	bad.Runtime = types.RuntimeProvidedal2023
	bad.MemorySize = aws.Int32(512)
	bad.Timeout = aws.Int32(10)
	bad.CodeSize = 3 << 20
	bad.Environment = &types.EnvironmentResponse{Variables: map[string]string{"B": "1", "A": "2"}}
	bad.VpcConfig = &types.VpcConfigResponse{SubnetIds: []string{"subnet-1"}}
	bad.Layers = []types.Layer{{Arn: aws.String("arn:layer")}}
	bad.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String("arn:aws:sqs:us-east-1:1:dlq")}
	bad.TracingConfig = &types.TracingConfigResponse{Mode: types.TracingModeActive}
	bad.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(1024)}
	bad.Architectures = []types.Architecture{types.ArchitectureArm64}
	bad.PackageType = types.PackageTypeImage
	got := strings.Join(edgeProblems(&function{acct: awsAccount("prod", "eu-west-1", false), name: "f"}, "3", &bad, eventViewerRequest), "\n")
	for _, want := range []string{"region: the function is in eu-west-1", "runtime: version 3 runs provided.al2023", "environment variables (A, B)",
		"memorySize: version 3 has 512 MB; viewer-request functions may have at most 128 MB", "timeout: version 3 has 10 s; viewer-request functions may take at most 5 s",
		"code size: version 3's package is 3 MB compressed; viewer-request functions may be at most 1 MB", "subnetIds/securityGroupIds", "layers:", "deadLetterConfig:",
		"tracingConfig:", "ephemeralStorage:", "architectures: version 3 is arm64", "packageType:"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems:\n%s\nwant %q", got, want)
		}
	}
	// Origin events allow more; the local account runs custom runtimes
	// and the machine's architecture.
	origin := *ok
	origin.Runtime, origin.MemorySize, origin.Timeout, origin.CodeSize = types.RuntimeProvidedal2023, aws.Int32(1024), aws.Int32(30), 40<<20
	origin.Architectures = []types.Architecture{types.ArchitectureArm64}
	if p := edgeProblems(local, "3", &origin, eventOriginRequest); len(p) > 0 {
		t.Errorf("origin-request on the local account: %v", p)
	}
	if p := edgeProblems(aws1, "3", &origin, eventOriginRequest); len(p) != 2 {
		t.Errorf("origin-request on AWS: %v; want the runtime and the architecture", p)
	}
	origin.Timeout = aws.Int32(31)
	if p := strings.Join(edgeProblems(local, "3", &origin, eventOriginResponse), "\n"); !strings.Contains(p, "origin-response functions may take at most 30 s") {
		t.Errorf("origin timeout: %q", p)
	}
}

// FuzzParseEdgeBehaviors: the restore record's parser never panics, and
// what it accepts names each pattern once with known event types.
func FuzzParseEdgeBehaviors(f *testing.F) {
	f.Add(`[{"pathPattern":"*","associations":[{"lambdaFunctionARN":"arn:aws:lambda:us-east-1:1:function:f:2","eventType":"viewer-request","includeBody":true}]}]`)
	f.Add(`[{"pathPattern":"/api/*","associations":[]}]`)
	f.Add(`{"pathPattern":"*"}`)
	f.Add(`[{"pathPattern":"*","associations":[{"eventType":"origin-response","includeBody":true}]}]`)
	f.Fuzz(func(t *testing.T, doc string) {
		if len(doc) > 4096 {
			return
		}
		var v any
		if json.Unmarshal([]byte(doc), &v) != nil {
			return
		}
		bs, err := parseEdgeBehaviors(v)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, b := range bs {
			if seen[b.PathPattern] || strings.TrimSpace(b.PathPattern) == "" {
				t.Fatalf("accepted %q: pattern %q", doc, b.PathPattern)
			}
			seen[b.PathPattern] = true
			for _, a := range b.Associations {
				if !strings.HasSuffix(a.EventType, "-request") && !strings.HasSuffix(a.EventType, "-response") {
					t.Fatalf("accepted %q: event %q", doc, a.EventType)
				}
			}
		}
	})
}

// FuzzEdgeFields: an edge stage's fields, whatever they are, validate
// without panicking, and a stage that validates has a known strategy.
func FuzzEdgeFields(f *testing.F) {
	f.Add(`{"functionName":"edge","distributionId":"E1","eventType":"viewer-request"}`)
	f.Add(`{"functionName":"edge","distributionId":"E1","eventType":"origin-request","deploymentStrategy":"$STAGING","staging":{"weight":0.1,"idleTTL":300,"maximumTTL":600}}`)
	f.Add(`{"functionName":"edge","distributionId":"E1","eventType":"origin-request","deploymentStrategy":"$STAGING","staging":{"header":"aws-cf-cd-a","headerValue":"b"}}`)
	f.Add(`{"functionName":"edge","distributionId":"E1","eventType":"viewer-request","cacheBehaviors":"*,/api/*","version":"$PROVIDED","versionNumber":"3"}`)
	f.Fuzz(func(t *testing.T, doc string) {
		if len(doc) > 4096 {
			return
		}
		var fields map[string]any
		if json.Unmarshal([]byte(doc), &fields) != nil {
			return
		}
		s := new(edgeSpec)
		if errs := stage.Validate(fields, s); len(errs) > 0 {
			return
		}
		if st := s.strategy(); st != edgeDirect && st != edgeStaging {
			t.Fatalf("validated %q with strategy %q", doc, st)
		}
		if s.strategy() == edgeStaging && s.Staging.trafficConfig() == nil {
			t.Fatalf("validated %q without a traffic config", doc)
		}
	})
}

// awsAccount is an account without clients, for the checks that read
// only its name, region and kind.
func awsAccount(name, region string, local bool) *awsclient.Account {
	return &awsclient.Account{Name: name, Region: region, Regions: []string{region}, Local: local}
}

// TestEdgeUnknownFieldsWarned: pipeline validation warns about a key the
// edge stages do not read, naming it and the nearest one they do, inside
// staging too; a stage with only known keys has no warning.
func TestEdgeUnknownFieldsWarned(t *testing.T) {
	t.Parallel()
	reg := stage.NewRegistry(Types(Options{})...)
	check := func(st string) string {
		t.Helper()
		p, err := pipeline.Parse([]byte(`{"application":"shop","name":"n","stages":[{"refId":"1","name":"Edge",` + st + `}]}`))
		if err != nil {
			t.Fatal(err)
		}
		warnings, err := p.Check(pipeline.ValidateOptions{StageTypes: reg})
		if err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		var s []string
		for _, w := range warnings {
			s = append(s, w.Path+": "+w.Msg)
		}
		return strings.Join(s, "\n")
	}
	edge := `"type":"Aws.LambdaEdgeAssociationStage","functionName":"edge","distributionId":"E1","eventType":"origin-request"`
	if w := check(edge + `,"deploymentStrategy":"$STAGING","staging":{"weight":0.1,"idleTTL":300,"maximumTTL":600}`); w != "" {
		t.Errorf("known keys warned about: %s", w)
	}
	w := check(edge + `,"distributionID":"E2","deploymentStrategy":"$STAGING","staging":{"weight":0.1,"stickiness":true}`)
	for _, want := range []string{"stages[0].distributionID", "distributionId", "stages[0].staging.stickiness"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings:\n%s\nwant %q", w, want)
		}
	}
	if w := check(`"type":"Aws.LambdaEdgePromoteStage","functionName":"edge","distributionId":"E1","action":"promote","stagingId":"E2"`); !strings.Contains(w, "stagingId") {
		t.Errorf("promote warnings: %q; want stagingId named", w)
	}
}

func TestValidDistributionID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"E2QWRUHAPOMQZL": true, " E2QWRUHAPOMQZL ": true, "0": true, strings.Repeat("A", 128): true,
		"": false, "   ": false, "e2qwruhapomqzl": false, "E2QW-RUHA": false, strings.Repeat("A", 129): false, "É1": false,
	} {
		if got := validDistributionID(id); got != want {
			t.Errorf("validDistributionID(%q) = %v, want %v", id, got, want)
		}
	}
}
