package cloudfront

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/locallambda/invoke"
)

// EventType is a Lambda@Edge event type.
type EventType string

const (
	ViewerRequest  EventType = "viewer-request"
	OriginRequest  EventType = "origin-request"
	OriginResponse EventType = "origin-response"
	ViewerResponse EventType = "viewer-response"
)

// viewer says whether t is a viewer event (5 s, 40 KB, 128 MB limits).
func (t EventType) viewer() bool { return t == ViewerRequest || t == ViewerResponse }

// Lambda@Edge quotas per event type (lambda-api.md §3).
const (
	viewerTimeout       = 5 * time.Second
	originTimeout       = 30 * time.Second
	viewerMemoryMB      = 128
	viewerGenerated     = 40 * 1024 // generated response, headers and body
	originGenerated     = 1 << 20
	maxAssocPerBehavior = 4
)

func (t EventType) timeout() time.Duration {
	if t.viewer() {
		return viewerTimeout
	}
	return originTimeout
}

// association is a LambdaFunctionAssociation.
type association struct {
	ARN         string // a numbered version's ARN
	Function    string // the ARN without the version
	Version     string
	EventType   EventType
	IncludeBody bool
}

// behavior is a cache behavior as the edge proxy uses it.
type behavior struct {
	PathPattern    string // "" for the default behavior
	TargetOriginID string
	Associations   map[EventType]association
}

// origin is an origin as the edge proxy uses it.
type origin struct {
	ID, DomainName, Path string
	Custom               bool
	HTTPPort, HTTPSPort  int
	ProtocolPolicy       string // http-only, https-only, match-viewer
	CustomHeaders        [][2]string
}

// distConfig is what the edge proxy and the control plane act on of a
// DistributionConfig; the whole document is kept beside it.
type distConfig struct {
	CallerReference string
	Enabled         bool
	Staging         bool
	PolicyID        string // ContinuousDeploymentPolicyId
	Aliases         []string
	Origins         map[string]origin
	Default         behavior
	Behaviors       []behavior // in order: the first whose pattern matches serves
}

// parseBool reads an XML boolean; ok is false for anything else.
func parseBool(s string) (v, ok bool) {
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// checkQuantities reports the first {Quantity, Items} list whose Quantity
// is not the number of its items, as CloudFront does.
func checkQuantities(n *node, where string) *apiError {
	if q := n.child("Quantity"); q != nil {
		want, err := strconv.Atoi(strings.TrimSpace(q.Text))
		if err != nil || want < 0 {
			return errorf(http.StatusBadRequest, "MalformedInput", "%s/Quantity must be a number, not %q.", where, q.Text)
		}
		got := 0
		if items := n.child("Items"); items != nil {
			got = len(items.Children)
		}
		if got != want {
			return errorf(http.StatusBadRequest, "InconsistentQuantities",
				"The value of Quantity and the size of Items don't match: %s/Quantity is %d but %s/Items has %d.", where, want, where, got)
		}
	}
	for _, c := range n.Children {
		if err := checkQuantities(c, where+"/"+c.Name); err != nil {
			return err
		}
	}
	return nil
}

// parseDistConfig checks a DistributionConfig element's shape and reads
// the fields the local CloudFront acts on. Function associations are
// checked against the local Lambda by checkAssociations.
func parseDistConfig(n *node) (*distConfig, *apiError) {
	if n == nil || n.Name != "DistributionConfig" {
		return nil, errorf(http.StatusBadRequest, "MalformedInput", "The request body must be a DistributionConfig document.")
	}
	if err := checkQuantities(n, "DistributionConfig"); err != nil {
		return nil, err
	}
	for _, f := range []string{"CallerReference", "Origins", "DefaultCacheBehavior", "Comment", "Enabled"} {
		if !n.has(f) {
			return nil, errorf(http.StatusBadRequest, "MalformedInput", "DistributionConfig/%s is required.", f)
		}
	}
	c := &distConfig{CallerReference: n.text("CallerReference"), PolicyID: n.text("ContinuousDeploymentPolicyId"), Origins: map[string]origin{}}
	if c.CallerReference == "" {
		return nil, invalidArgument("DistributionConfig/CallerReference must not be empty.")
	}
	var ok bool
	if c.Enabled, ok = parseBool(n.text("Enabled")); !ok {
		return nil, invalidArgument("DistributionConfig/Enabled must be true or false, not %q.", n.text("Enabled"))
	}
	if s := n.text("Staging"); s != "" {
		if c.Staging, ok = parseBool(s); !ok {
			return nil, invalidArgument("DistributionConfig/Staging must be true or false, not %q.", s)
		}
	}
	for _, a := range n.items("Aliases") {
		c.Aliases = append(c.Aliases, strings.ToLower(strings.TrimSpace(a.Text)))
	}
	origins := n.items("Origins")
	if len(origins) == 0 {
		return nil, invalidArgument("DistributionConfig/Origins must hold at least one origin.")
	}
	for i, o := range origins {
		or := origin{ID: o.text("Id"), DomainName: o.text("DomainName"), Path: o.text("OriginPath")}
		where := "DistributionConfig/Origins/Items[" + strconv.Itoa(i) + "]"
		if or.ID == "" || or.DomainName == "" {
			return nil, errorf(http.StatusBadRequest, "InvalidOrigin", "%s needs an Id and a DomainName.", where)
		}
		if _, dup := c.Origins[or.ID]; dup {
			return nil, invalidArgument("%s: the origin Id %q is used twice.", where, or.ID)
		}
		if co := o.child("CustomOriginConfig"); co != nil {
			or.Custom = true
			or.HTTPPort, _ = strconv.Atoi(co.text("HTTPPort"))
			or.HTTPSPort, _ = strconv.Atoi(co.text("HTTPSPort"))
			or.ProtocolPolicy = co.text("OriginProtocolPolicy")
			switch or.ProtocolPolicy {
			case "http-only", "https-only", "match-viewer":
			default:
				return nil, invalidArgument("%s/CustomOriginConfig/OriginProtocolPolicy must be http-only, https-only or match-viewer, not %q.", where, or.ProtocolPolicy)
			}
			if or.HTTPPort < 1 || or.HTTPPort > 65535 || or.HTTPSPort < 1 || or.HTTPSPort > 65535 {
				return nil, invalidArgument("%s/CustomOriginConfig needs HTTPPort and HTTPSPort from 1 to 65535.", where)
			}
		}
		for _, h := range o.items("CustomHeaders") {
			or.CustomHeaders = append(or.CustomHeaders, [2]string{h.text("HeaderName"), h.text("HeaderValue")})
		}
		c.Origins[or.ID] = or
	}
	def, err := parseBehavior(n.child("DefaultCacheBehavior"), "DistributionConfig/DefaultCacheBehavior", c.Origins)
	if err != nil {
		return nil, err
	}
	c.Default = def
	for i, b := range n.items("CacheBehaviors") {
		where := "DistributionConfig/CacheBehaviors/Items[" + strconv.Itoa(i) + "]"
		cb, err := parseBehavior(b, where, c.Origins)
		if err != nil {
			return nil, err
		}
		if cb.PathPattern = b.text("PathPattern"); cb.PathPattern == "" {
			return nil, invalidArgument("%s/PathPattern is required.", where)
		}
		c.Behaviors = append(c.Behaviors, cb)
	}
	return c, nil
}

func parseBehavior(n *node, where string, origins map[string]origin) (behavior, *apiError) {
	b := behavior{TargetOriginID: n.text("TargetOriginId"), Associations: map[EventType]association{}}
	if _, ok := origins[b.TargetOriginID]; !ok {
		return b, errorf(http.StatusNotFound, "NoSuchOrigin", "%s/TargetOriginId %q is not the Id of one of the distribution's origins.", where, b.TargetOriginID)
	}
	items := n.items("LambdaFunctionAssociations")
	if len(items) > maxAssocPerBehavior {
		return b, errorf(http.StatusBadRequest, "TooManyLambdaFunctionAssociations",
			"Your request contains more Lambda@Edge function associations than are allowed per cache behavior: %s has %d, the most is %d (one per event type).", where, len(items), maxAssocPerBehavior)
	}
	for i, it := range items {
		w := where + "/LambdaFunctionAssociations/Items[" + strconv.Itoa(i) + "]"
		a, err := parseAssociation(it, w)
		if err != nil {
			return b, err
		}
		if _, dup := b.Associations[a.EventType]; dup {
			return b, invalidAssociation("%s: a cache behavior can have only one function association per event type, and %s has two for %s.", w, where, a.EventType)
		}
		b.Associations[a.EventType] = a
	}
	return b, nil
}

func parseAssociation(n *node, where string) (association, *apiError) {
	a := association{ARN: n.text("LambdaFunctionARN"), EventType: EventType(n.text("EventType"))}
	switch a.EventType {
	case ViewerRequest, ViewerResponse, OriginRequest, OriginResponse:
	default:
		return a, invalidAssociation("%s/EventType must be viewer-request, viewer-response, origin-request or origin-response, not %q.", where, a.EventType)
	}
	if s := n.text("IncludeBody"); s != "" {
		var ok bool
		if a.IncludeBody, ok = parseBool(s); !ok {
			return a, invalidAssociation("%s/IncludeBody must be true or false, not %q.", where, s)
		}
	}
	if a.IncludeBody && a.EventType != ViewerRequest && a.EventType != OriginRequest {
		return a, invalidAssociation("%s: IncludeBody is only supported for viewer-request and origin-request events, not %s.", where, a.EventType)
	}
	// arn:aws:lambda:REGION:ACCOUNT:function:NAME:VERSION
	parts := strings.Split(a.ARN, ":")
	if len(parts) < 7 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" || parts[6] == "" {
		return a, invalidAssociation("%s/LambdaFunctionARN %q is not a Lambda function version ARN (arn:aws:lambda:us-east-1:ACCOUNT:function:NAME:VERSION).", where, a.ARN)
	}
	if len(parts) != 8 || !isVersionNumber(parts[7]) {
		return a, invalidAssociation("The function ARN must reference a specific function version. (The ARN must end with the version number, not $LATEST or an alias.) ARN: %s", a.ARN)
	}
	if parts[3] != "us-east-1" {
		return a, invalidAssociation("The function must be in region 'us-east-1'. ARN: %s", a.ARN)
	}
	a.Function, a.Version = strings.Join(parts[:7], ":"), parts[7]
	return a, nil
}

func isVersionNumber(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == "" && s[0] != '0'
}

// checkAssociations checks each associated version against the local
// Lambda as CloudFront checks the function it replicates: it exists, has
// no environment variables, and fits the event type's timeout and memory.
func checkAssociations(ctx context.Context, fns invoke.Resolver, c *distConfig) *apiError {
	if fns == nil {
		return nil
	}
	for _, b := range append([]behavior{c.Default}, c.Behaviors...) {
		for _, t := range []EventType{ViewerRequest, OriginRequest, OriginResponse, ViewerResponse} {
			a, ok := b.Associations[t]
			if !ok {
				continue
			}
			target, err := fns.ResolveInvoke(ctx, a.Function, a.Version)
			if err != nil || target == nil || target.Primary == nil {
				return invalidAssociation("The function does not exist in the local Lambda: create and publish it first. ARN: %s", a.ARN)
			}
			spec := target.Primary
			if len(spec.Env) > 0 {
				return invalidAssociation("The function cannot have environment variables. ARN: %s", a.ARN)
			}
			timeout := spec.Timeout
			if timeout == 0 {
				timeout = 3 * time.Second
			}
			if timeout > t.timeout() {
				return invalidAssociation("The function execution time must be at most %d seconds for %s events; its Timeout is %s. ARN: %s",
					int(t.timeout().Seconds()), t, timeout, a.ARN)
			}
			if t.viewer() && spec.MemoryMB > viewerMemoryMB {
				return invalidAssociation("The function memory must be at most %d MB for viewer events; its MemorySize is %d. ARN: %s", viewerMemoryMB, spec.MemoryMB, a.ARN)
			}
		}
	}
	return nil
}
