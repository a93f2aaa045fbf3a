package lambda

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/smithy-go"
)

// The CloudFront side of the edge stages: reading a distribution's
// behaviors and their Lambda@Edge associations, changing them with
// If-Match, and waiting for Deployed. Each read is fresh (rule 6).

// edgeUpdateAttempts bounds how often one run re-reads and retries an
// update refused with PreconditionFailed (someone changed the
// distribution between the read and the update); after that the task
// runs again later, until waitTimeoutSeconds.
const edgeUpdateAttempts = 5

// validDistributionID reports whether s (spaces around it aside) is
// shaped like a CloudFront distribution ID: 1 to 128 upper-case letters
// and digits.
func validDistributionID(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// edgeAssociation is one LambdaFunctionAssociation, as records keep it.
type edgeAssociation struct {
	LambdaFunctionARN string `json:"lambdaFunctionARN"`
	EventType         string `json:"eventType"`
	IncludeBody       bool   `json:"includeBody"`
}

func (a edgeAssociation) String() string {
	s := a.EventType + " " + a.LambdaFunctionARN
	if a.IncludeBody {
		s += " (includeBody)"
	}
	return s
}

// edgeBehavior is one cache behavior's associations.
type edgeBehavior struct {
	PathPattern  string            `json:"pathPattern"`
	Associations []edgeAssociation `json:"associations"`
}

// previousAssociations is the rollback record of an edge stage: the
// associations of the behaviors it changes, before it changed them.
type previousAssociations struct {
	Account        string         `json:"account"`
	Region         string         `json:"region"`
	FunctionName   string         `json:"functionName"`
	DistributionID string         `json:"distributionId"`
	Behaviors      []edgeBehavior `json:"behaviors"`
}

func (r *previousAssociations) behavior(pattern string) ([]edgeAssociation, bool) {
	for _, b := range r.Behaviors {
		if b.PathPattern == pattern {
			return b.Associations, true
		}
	}
	return nil, false
}

// readDistributionConfig is GetDistributionConfig, its errors classified.
func readDistributionConfig(ctx context.Context, f *function, cf *cloudfront.Client, id string) (*cloudfront.GetDistributionConfigOutput, error) {
	out, err := cf.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: aws.String(id)})
	if err != nil {
		return nil, cfError(f, "GetDistributionConfig", id, err)
	}
	if out.DistributionConfig == nil || out.DistributionConfig.DefaultCacheBehavior == nil {
		return nil, fail("GetDistributionConfig of distribution %s: the response carries no DistributionConfig with a DefaultCacheBehavior", id)
	}
	return out, nil
}

// patterns lists a config's behaviors by path pattern, "*" first.
func patterns(cfg *types.DistributionConfig) []string {
	out := []string{defaultBehavior}
	if cfg.CacheBehaviors != nil {
		for _, b := range cfg.CacheBehaviors.Items {
			out = append(out, aws.ToString(b.PathPattern))
		}
	}
	return out
}

// behaviorFields returns pointers to the association fields of the
// behavior with path pattern p ("*": the default behavior).
func behaviorFields(cfg *types.DistributionConfig, p string) (**types.LambdaFunctionAssociations, *types.FunctionAssociations, bool) {
	if p == defaultBehavior {
		d := cfg.DefaultCacheBehavior
		return &d.LambdaFunctionAssociations, d.FunctionAssociations, true
	}
	if cfg.CacheBehaviors == nil {
		return nil, nil, false
	}
	for i := range cfg.CacheBehaviors.Items {
		if b := &cfg.CacheBehaviors.Items[i]; aws.ToString(b.PathPattern) == p {
			return &b.LambdaFunctionAssociations, b.FunctionAssociations, true
		}
	}
	return nil, nil, false
}

// behaviorAssociations reads the associations of behavior p.
func behaviorAssociations(cfg *types.DistributionConfig, p string) ([]edgeAssociation, bool) {
	lfa, _, ok := behaviorFields(cfg, p)
	if !ok {
		return nil, false
	}
	var out []edgeAssociation
	if *lfa != nil {
		for _, a := range (*lfa).Items {
			out = append(out, edgeAssociation{LambdaFunctionARN: aws.ToString(a.LambdaFunctionARN), EventType: string(a.EventType), IncludeBody: aws.ToBool(a.IncludeBody)})
		}
	}
	return out, true
}

// setBehaviorAssociations replaces the associations of behavior p.
func setBehaviorAssociations(cfg *types.DistributionConfig, p string, as []edgeAssociation) {
	lfa, _, ok := behaviorFields(cfg, p)
	if !ok {
		return
	}
	items := make([]types.LambdaFunctionAssociation, len(as))
	for i, a := range as {
		items[i] = types.LambdaFunctionAssociation{LambdaFunctionARN: aws.String(a.LambdaFunctionARN),
			EventType: types.EventType(a.EventType), IncludeBody: aws.Bool(a.IncludeBody)}
	}
	*lfa = &types.LambdaFunctionAssociations{Quantity: aws.Int32(int32(len(items))), Items: items}
}

// checkBehaviors checks that the distribution has every behavior named,
// and that none runs a CloudFront Function on the same viewer event
// (CloudFront refuses both on one event).
func checkBehaviors(cfg *types.DistributionConfig, id string, want []string, eventType string) error {
	have := patterns(cfg)
	for _, p := range want {
		_, fn, ok := behaviorFields(cfg, p)
		if !ok {
			return fail("cacheBehaviors: distribution %s has no cache behavior with path pattern %q; its behaviors are %s (* is the default behavior)",
				id, p, strings.Join(quoteAll(have), ", "))
		}
		if fn == nil {
			continue
		}
		for _, a := range fn.Items {
			if string(a.EventType) == eventType {
				return fail("distribution %s's behavior %s runs the CloudFront Function %s on %s, and CloudFront allows a Lambda@Edge function or a CloudFront Function on an event, not both; remove the CloudFront Function association first, or choose another eventType",
					id, describePattern(p), aws.ToString(a.FunctionARN), eventType)
			}
		}
	}
	return nil
}

// snapshotBehaviors records the associations of the named behaviors.
func snapshotBehaviors(cfg *types.DistributionConfig, want []string) []edgeBehavior {
	out := make([]edgeBehavior, 0, len(want))
	for _, p := range want {
		as, _ := behaviorAssociations(cfg, p)
		if as == nil {
			as = []edgeAssociation{}
		}
		out = append(out, edgeBehavior{PathPattern: p, Associations: as})
	}
	return out
}

// withAssociation returns cur with want in place of any association of
// the same event type (CloudFront allows one per event and behavior).
func withAssociation(cur []edgeAssociation, want edgeAssociation) []edgeAssociation {
	out := make([]edgeAssociation, 0, len(cur)+1)
	replaced := false
	for _, a := range cur {
		if a.EventType == want.EventType {
			if !replaced {
				out = append(out, want)
				replaced = true
			}
			continue
		}
		out = append(out, a)
	}
	if !replaced {
		out = append(out, want)
	}
	return out
}

// sameAssociations compares two lists as sets.
func sameAssociations(a, b []edgeAssociation) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slicesContains(b, x) {
			return false
		}
	}
	return true
}

func slicesContains(as []edgeAssociation, a edgeAssociation) bool { return slices.Contains(as, a) }

// concurrentChange is a behavior whose associations someone else changed
// after the stage recorded them: the stage does not overwrite them.
type concurrentChange struct {
	id, pattern string
	was, now    []edgeAssociation
}

func (c *concurrentChange) Error() string {
	return fmt.Sprintf("distribution %s's behavior %s was changed while the stage ran: it had %s when the stage read it and now has %s; Sluice did not overwrite that change — run the stage again",
		c.id, describePattern(c.pattern), describeAssociations(c.was), describeAssociations(c.now))
}

func asConcurrent(err error, c **concurrentChange) bool { return errors.As(err, c) }

// setAssociations sets, on distribution id, each named behavior's
// associations to edit(its path pattern, its current ones): GetDistributionConfig, the
// change, UpdateDistribution with the ETag read as If-Match. Refused with
// PreconditionFailed, it reads again and retries, edgeUpdateAttempts times
// at most in one run. With guard, a behavior whose associations are
// neither the recorded ones nor the wanted ones is someone else's change:
// the update is not made (a *concurrentChange). It reports whether it
// updated the distribution; nothing to change is not an error.
func setAssociations(ctx context.Context, f *function, cf *cloudfront.Client, id string, want []string,
	edit func(pattern string, cur []edgeAssociation) []edgeAssociation, guard *previousAssociations) (bool, error) {
	for attempt := 1; ; attempt++ {
		out, err := readDistributionConfig(ctx, f, cf, id)
		if err != nil {
			return false, err
		}
		cfg := out.DistributionConfig
		need := false
		for _, p := range want {
			cur, ok := behaviorAssociations(cfg, p)
			if !ok {
				return false, fail("cacheBehaviors: distribution %s has no cache behavior with path pattern %q any more; its behaviors are %s",
					id, p, strings.Join(quoteAll(patterns(cfg)), ", "))
			}
			next := edit(p, cur)
			if sameAssociations(cur, next) {
				continue
			}
			if guard != nil {
				if was, ok := guard.behavior(p); ok && !sameAssociations(cur, was) {
					return false, &concurrentChange{id: id, pattern: p, was: was, now: cur}
				}
			}
			setBehaviorAssociations(cfg, p, next)
			need = true
		}
		if !need {
			return false, nil
		}
		_, err = cf.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: aws.String(id), IfMatch: out.ETag, DistributionConfig: cfg})
		if err == nil {
			return true, nil
		}
		if !isPreconditionFailed(err) {
			return false, cfError(f, "UpdateDistribution", id, err)
		}
		if attempt >= edgeUpdateAttempts {
			return false, retry("UpdateDistribution of distribution %s was refused with PreconditionFailed %d times in a row: someone keeps changing it; trying again", id, attempt)
		}
	}
}

// waitDeployed reads the distribution once: Deployed returns it, any other
// status makes the task poll again (stage.RetryAfter).
func waitDeployed(ctx context.Context, f *function, cf *cloudfront.Client, id string) (*types.Distribution, error) {
	out, err := cf.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: aws.String(id)})
	if err != nil {
		return nil, cfError(f, "GetDistribution", id, err)
	}
	d := out.Distribution
	if d == nil || d.DistributionConfig == nil {
		return nil, fail("GetDistribution of distribution %s: the response carries no Distribution", id)
	}
	if st := aws.ToString(d.Status); st != "Deployed" {
		return nil, retry("distribution %s is %s; waiting for CloudFront to deploy it (Status Deployed)", id, orNone(st))
	}
	return d, nil
}

// isPreconditionFailed reports CloudFront's PreconditionFailed: the
// If-Match ETag is not the current one.
func isPreconditionFailed(err error) bool {
	var pf *types.PreconditionFailed
	var ae smithy.APIError
	return errors.As(err, &pf) || errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed"
}

// cfError turns a CloudFront error of op on distribution id into a
// failure or a notYet, as apiError does for Lambda.
func cfError(f *function, op, id string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg := ae.ErrorCode(), strings.TrimSpace(ae.ErrorMessage())
		if msg == "" {
			msg = "(AWS sent no message)"
		}
		switch code {
		case "NoSuchDistribution":
			return fail("%s: distribution %s does not exist in account %s; check distributionId (%s)", op, id, f.acct.Name, msg)
		case "PreconditionFailed", "Throttling", "ThrottlingException", "ServiceUnavailable", "InternalError", "InternalFailure":
			return retry("%s of distribution %s: %s: %s", op, id, code, msg)
		case "AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken":
			return fail("%s of distribution %s: AWS refused the credentials of account %s (%s: %s); check the account's profile or roleArn and its CloudFront permissions",
				op, id, f.acct.Name, code, msg)
		}
		return fail("%s of distribution %s: %s: %s", op, id, code, msg)
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &ne) || errors.As(err, &oe) {
		return retry("%s of distribution %s: cannot reach the CloudFront endpoint of account %s: %v", op, id, f.acct.Name, err)
	}
	return fail("%s of distribution %s: %v", op, id, err)
}

func describePattern(p string) string {
	if p == defaultBehavior {
		return "Default (*)"
	}
	return fmt.Sprintf("%q", p)
}

func describeAssociations(as []edgeAssociation) string {
	if len(as) == 0 {
		return "no Lambda@Edge association"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, "; ")
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
