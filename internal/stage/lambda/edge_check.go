package lambda

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Lambda@Edge's constraints on a function version (lambda-api.md §3,
// CloudFront's "Restrictions on edge functions" and quotas), checked on
// the version's configuration before anything changes. CloudFront checks
// some of them itself when the distribution is updated
// (InvalidLambdaFunctionAssociation), after a change has been started;
// Sluice checks them all first so that a refused version changes nothing.

// edgeLimits are the quotas that differ by event type.
type edgeLimits struct {
	memoryMB   int32
	timeoutSec int32
	codeBytes  int64 // compressed package, libraries included
}

func limitsFor(eventType string) edgeLimits {
	if strings.HasPrefix(eventType, "viewer-") {
		return edgeLimits{memoryMB: 128, timeoutSec: 5, codeBytes: 1 << 20}
	}
	return edgeLimits{memoryMB: 10240, timeoutSec: 30, codeBytes: 50 << 20}
}

// localEdgeRuntimes are the runtimes the local Lambda runs, accepted on
// the local account only: AWS runs Node.js and Python at the edge, the
// local Lambda only custom runtimes, so a team tries its edge release
// locally with a Go function before publishing a Node.js or Python one.
var localEdgeRuntimes = []types.Runtime{types.RuntimeProvidedal2023, types.RuntimeProvidedal2}

// edgeProblems returns every reason version v of f (configuration cfg)
// cannot run as a Lambda@Edge function for eventType, each naming the
// setting and what to do; none when it can.
func edgeProblems(f *function, v string, cfg *lambda.GetFunctionConfigurationOutput, eventType string) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	const republish = "change it (Deploy stage) and publish a new version"
	lim := limitsFor(eventType)

	if f.acct.Region != "us-east-1" {
		add("region: the function is in %s; Lambda@Edge functions must be in us-east-1 (CloudFront replicates them from there): deploy it to us-east-1 and set region to us-east-1", f.acct.Region)
	}
	if !isVersionNumber(v) {
		add("version: %q is not a numbered version; Lambda@Edge takes a numbered version, not $LATEST or an alias", v)
	}
	if cfg.State != "" && cfg.State != types.StateActive {
		add("state: version %s is %s, not Active; wait until it is Active or publish another version", v, cfg.State)
	}
	if cfg.PackageType == types.PackageTypeImage {
		add("packageType: version %s is a container image; Lambda@Edge takes .zip packages only", v)
	}
	rt := cfg.Runtime
	switch {
	case strings.HasPrefix(string(rt), "nodejs") || strings.HasPrefix(string(rt), "python"):
	case f.acct.Local && slices.Contains(localEdgeRuntimes, rt):
	default:
		extra := ""
		if f.acct.Local {
			extra = " (on the local account also provided.al2023 and provided.al2, which the local Lambda runs)"
		}
		add("runtime: version %s runs %s; Lambda@Edge runs Node.js and Python runtimes only%s", v, orNone(string(rt)), extra)
	}
	if cfg.Environment != nil && len(cfg.Environment.Variables) > 0 {
		names := make([]string, 0, len(cfg.Environment.Variables))
		for k := range cfg.Environment.Variables {
			names = append(names, k)
		}
		sort.Strings(names)
		add("envVariables: version %s has environment variables (%s); Lambda@Edge allows none: set envVariables to {} in the Deploy stage and publish a new version",
			v, strings.Join(names, ", "))
	}
	if m := aws.ToInt32(cfg.MemorySize); m > lim.memoryMB {
		add("memorySize: version %s has %d MB; %s functions may have at most %d MB: %s", v, m, eventType, lim.memoryMB, republish)
	}
	if t := aws.ToInt32(cfg.Timeout); t > lim.timeoutSec {
		add("timeout: version %s has %d s; %s functions may take at most %d s: %s", v, t, eventType, lim.timeoutSec, republish)
	}
	if cfg.CodeSize > lim.codeBytes {
		add("code size: version %s's package is %s compressed; %s functions may be at most %s: make the package smaller, or attach it to an origin event (50 MB)",
			v, bytesText(cfg.CodeSize), eventType, bytesText(lim.codeBytes))
	}
	if vpc := cfg.VpcConfig; vpc != nil && (len(vpc.SubnetIds) > 0 || len(vpc.SecurityGroupIds) > 0) {
		add("subnetIds/securityGroupIds: version %s is in a VPC; Lambda@Edge functions cannot be: set both to [] and publish a new version", v)
	}
	if len(cfg.Layers) > 0 {
		add("layers: version %s uses %d layer(s); Lambda@Edge functions cannot: bundle them into the package and publish a new version", v, len(cfg.Layers))
	}
	if dlq := cfg.DeadLetterConfig; dlq != nil && aws.ToString(dlq.TargetArn) != "" {
		add("deadLetterConfig: version %s has a dead-letter queue (%s); Lambda@Edge functions cannot: remove it and publish a new version", v, aws.ToString(dlq.TargetArn))
	}
	if tc := cfg.TracingConfig; tc != nil && tc.Mode == types.TracingModeActive {
		add("tracingConfig: version %s has active X-Ray tracing; Lambda@Edge functions cannot: set mode to PassThrough and publish a new version", v)
	}
	if es := cfg.EphemeralStorage; es != nil && aws.ToInt32(es.Size) > 512 {
		add("ephemeralStorage: version %s has %d MB of /tmp; Lambda@Edge allows 512 MB: %s", v, aws.ToInt32(es.Size), republish)
	}
	if !f.acct.Local && slices.Contains(cfg.Architectures, types.ArchitectureArm64) {
		add("architectures: version %s is arm64; Lambda@Edge runs x86_64 functions only: %s", v, republish)
	}
	return p
}

// bytesText is a size for messages: 1 MB, 3.2 MB, 512 KB.
func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<20)), ".0") + " MB"
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
