package cloudfront

import (
	"bytes"
	"reflect"
	"testing"
)

// maxFuzzInput bounds the fuzzed documents.
const maxFuzzInput = 64 << 10

const seedConfig = `<?xml version="1.0" encoding="UTF-8"?>
<DistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><CallerReference>r</CallerReference>
<Origins><Quantity>1</Quantity><Items><Origin><Id>app</Id><DomainName>127.0.0.1</DomainName>
<CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort><OriginProtocolPolicy>http-only</OriginProtocolPolicy></CustomOriginConfig></Origin></Items></Origins>
<DefaultCacheBehavior><TargetOriginId>app</TargetOriginId><ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy>
<LambdaFunctionAssociations><Quantity>1</Quantity><Items><LambdaFunctionAssociation>
<LambdaFunctionARN>arn:aws:lambda:us-east-1:000000000000:function:f:1</LambdaFunctionARN><EventType>viewer-request</EventType><IncludeBody>true</IncludeBody>
</LambdaFunctionAssociation></Items></LambdaFunctionAssociations></DefaultCacheBehavior>
<CacheBehaviors><Quantity>1</Quantity><Items><CacheBehavior><PathPattern>/api/*</PathPattern><TargetOriginId>app</TargetOriginId></CacheBehavior></Items></CacheBehaviors>
<Comment>a &amp; b</Comment><Enabled>true</Enabled></DistributionConfig>`

const seedPolicy = `<ContinuousDeploymentPolicyConfig><StagingDistributionDnsNames><Quantity>1</Quantity><Items><DnsName>d1.cloudfront.net</DnsName></Items></StagingDistributionDnsNames>
<Enabled>true</Enabled><TrafficConfig><SingleWeightConfig><Weight>0.1</Weight><SessionStickinessConfig><IdleTTL>300</IdleTTL><MaximumTTL>600</MaximumTTL></SessionStickinessConfig></SingleWeightConfig><Type>SingleWeight</Type></TrafficConfig></ContinuousDeploymentPolicyConfig>`

// FuzzParseDocument: any request body either is refused or parses into a
// tree that renders back to itself, and the config readers never panic.
func FuzzParseDocument(f *testing.F) {
	for _, s := range []string{seedConfig, seedPolicy, "<a><b>x</b><b/></a>", "<a>&lt;</a>", "<a", "", "<a></b>", "<a/><b/>", "<x:a xmlns:x='u'><x:b>1</x:b></x:a>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxFuzzInput {
			return
		}
		n, err := parseDocument(bytes.NewReader(b))
		if err != nil {
			return
		}
		again, err := parseDocument(bytes.NewReader(n.render()))
		if err != nil {
			t.Fatalf("the rendered tree does not parse: %v\n%s", err, n.render())
		}
		if !reflect.DeepEqual(n, again) {
			t.Fatalf("the tree changed through render and parse:\n%#v\n%#v", n, again)
		}
		_, _ = parseDistConfig(n)
		_, _ = parsePolicyConfig(n)
	})
}

// FuzzParseOutput: whatever a function returns is taken or refused with a
// validation error, never a panic.
func FuzzParseOutput(f *testing.F) {
	for _, s := range []string{`{"status":"200","headers":{"x-a":[{"key":"X-A","value":"1"}]},"body":"hi"}`, `{"status":302}`,
		`{"method":"GET","uri":"/","headers":{"host":[{"value":"h"}]},"body":{"action":"replace","encoding":"text","data":"x"}}`,
		`null`, `[]`, `{"status":"abc"}`, `{"uri":"x"}`} {
		f.Add([]byte(s))
	}
	before := cfHeaders{"host": {{Key: "Host", Value: "h"}}, "via": {{Value: "v"}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxFuzzInput {
			return
		}
		for _, et := range []EventType{ViewerRequest, OriginRequest, OriginResponse, ViewerResponse} {
			out, err := parseOutput(et, b)
			if err != nil {
				continue
			}
			switch {
			case out.request != nil:
				_ = checkHeaders(et, before, out.request.Headers)
			case out.response != nil:
				_ = checkHeaders(et, nil, out.response.Headers)
			default:
				t.Fatalf("parseOutput(%s, %s) returned neither a request nor a response", et, b)
			}
		}
	})
}

func TestPathMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/api/*", "/api/x", true},
		{"/api/*", "/api/", true},
		{"/api/*", "/api", false},
		{"api/*", "/api/a/b", true},
		{"*.jpg", "/img/a.jpg", true},
		{"/images/*.jpg", "/images/a/b.jpg", true},
		{"/images/*.jpg", "/images/a.png", false},
		{"/a?c", "/abc", true},
		{"/a?c", "/ac", false},
		{"/API/*", "/api/x", false},
		{"*", "/anything", true},
		{"/a*b*c", "/axxbyyc", true},
		{"/a*b*c", "/axxbyy", false},
	}
	for _, tt := range tests {
		if got := pathMatch(tt.pattern, tt.path); got != tt.want {
			t.Errorf("pathMatch(%q, %q) = %t; want %t", tt.pattern, tt.path, got, tt.want)
		}
	}
}
