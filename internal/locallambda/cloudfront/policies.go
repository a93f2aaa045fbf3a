package cloudfront

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Continuous-deployment traffic types.
const (
	singleWeight = "SingleWeight"
	singleHeader = "SingleHeader"
	// maxWeight is the largest share of requests a SingleWeight policy may
	// send to the staging distribution.
	maxWeight = 0.15
	// headerPrefix starts every SingleHeader header name.
	headerPrefix = "aws-cf-cd-"
)

// policyConfig is what the edge proxy acts on of a
// ContinuousDeploymentPolicyConfig.
type policyConfig struct {
	Enabled       bool
	StagingDomain string
	Type          string
	Weight        float64
	// Sticky, with IdleTTL and MaxTTL in seconds, is the weight's
	// SessionStickinessConfig.
	Sticky          bool
	IdleTTL, MaxTTL int
	Header, Value   string
}

func parsePolicyConfig(n *node) (*policyConfig, *apiError) {
	const where = "ContinuousDeploymentPolicyConfig"
	if n == nil || n.Name != where {
		return nil, errorf(http.StatusBadRequest, "MalformedInput", "The request body must be a ContinuousDeploymentPolicyConfig document.")
	}
	if err := checkQuantities(n, where); err != nil {
		return nil, err
	}
	c := &policyConfig{}
	var ok bool
	if c.Enabled, ok = parseBool(n.text("Enabled")); !ok {
		return nil, invalidArgument("%s/Enabled must be true or false, not %q.", where, n.text("Enabled"))
	}
	names := n.items("StagingDistributionDnsNames")
	if len(names) != 1 {
		return nil, invalidArgument("%s/StagingDistributionDnsNames must hold exactly one name, the staging distribution's domain name; it has %d.", where, len(names))
	}
	c.StagingDomain = strings.ToLower(strings.TrimSpace(names[0].Text))
	tc := n.child("TrafficConfig")
	if tc == nil {
		return nil, invalidArgument("%s/TrafficConfig is required.", where)
	}
	c.Type = tc.text("Type")
	switch c.Type {
	case singleWeight:
		wc := tc.child("SingleWeightConfig")
		if wc == nil {
			return nil, invalidArgument("%s/TrafficConfig/SingleWeightConfig is required for Type SingleWeight.", where)
		}
		w, err := strconv.ParseFloat(wc.text("Weight"), 64)
		if err != nil || w < 0 || w > maxWeight {
			return nil, invalidArgument("%s/TrafficConfig/SingleWeightConfig/Weight must be a number from 0 to %.2f, not %q.", where, maxWeight, wc.text("Weight"))
		}
		c.Weight = w
		if sc := wc.child("SessionStickinessConfig"); sc != nil {
			idle, err1 := strconv.Atoi(sc.text("IdleTTL"))
			maxTTL, err2 := strconv.Atoi(sc.text("MaximumTTL"))
			if err1 != nil || err2 != nil || idle < 300 || idle > 3600 || maxTTL < 300 || maxTTL > 3600 || idle > maxTTL {
				return nil, invalidArgument("%s/TrafficConfig/SingleWeightConfig/SessionStickinessConfig needs IdleTTL and MaximumTTL from 300 to 3600 seconds, IdleTTL at most MaximumTTL; got %q and %q.",
					where, sc.text("IdleTTL"), sc.text("MaximumTTL"))
			}
			c.Sticky, c.IdleTTL, c.MaxTTL = true, idle, maxTTL
		}
	case singleHeader:
		hc := tc.child("SingleHeaderConfig")
		if hc == nil {
			return nil, invalidArgument("%s/TrafficConfig/SingleHeaderConfig is required for Type SingleHeader.", where)
		}
		c.Header, c.Value = strings.ToLower(hc.text("Header")), hc.text("Value")
		if !strings.HasPrefix(c.Header, headerPrefix) || len(c.Header) == len(headerPrefix) {
			return nil, invalidArgument("%s/TrafficConfig/SingleHeaderConfig/Header must start with %q, not %q.", where, headerPrefix, hc.text("Header"))
		}
		if c.Value == "" {
			return nil, invalidArgument("%s/TrafficConfig/SingleHeaderConfig/Value is required.", where)
		}
	default:
		return nil, invalidArgument("%s/TrafficConfig/Type must be SingleWeight or SingleHeader, not %q.", where, c.Type)
	}
	return c, nil
}

// checkPolicy checks that c names a staging distribution no other policy
// than self uses. The caller holds mu.
func (p *Plane) checkPolicy(c *policyConfig, self string) error {
	d := p.distributionByDomain(c.StagingDomain)
	if d == nil || !d.parsed.Staging {
		return invalidArgument("StagingDistributionDnsNames: %s is not the domain name of a staging distribution (make one with CopyDistribution, Staging true).", c.StagingDomain)
	}
	for _, o := range p.m.Policies {
		if o.ID != self && o.parsed.StagingDomain == c.StagingDomain {
			return errorf(http.StatusConflict, "StagingDistributionInUse", "The staging distribution %s is already used by continuous deployment policy %s.", d.ID, o.ID)
		}
	}
	return nil
}

func (p *Plane) policyDoc(pol *policy) *node {
	return el("ContinuousDeploymentPolicy",
		leaf("Id", pol.ID),
		leaf("LastModifiedTime", pol.Modified.UTC().Format(timeFormat)),
		pol.Config.clone(),
	)
}

func (p *Plane) createPolicy(r *http.Request) (*response, error) {
	cfg, err := readDocument(r, "ContinuousDeploymentPolicyConfig")
	if err != nil {
		return nil, err
	}
	c, apiErr := parsePolicyConfig(cfg)
	if apiErr != nil {
		return nil, apiErr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.checkPolicy(c, ""); err != nil {
		return nil, err
	}
	pol := &policy{ID: uuid.NewString(), ETag: newID(), Modified: p.cfg.Clock(), Config: cfg, parsed: c}
	p.m.Policies[pol.ID] = pol
	if err := p.save(); err != nil {
		delete(p.m.Policies, pol.ID)
		return nil, err
	}
	return &response{status: http.StatusCreated, etag: pol.ETag, location: location("continuous-deployment-policy", pol.ID), body: p.policyDoc(pol)}, nil
}

func (p *Plane) getPolicy(r *http.Request) (*response, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	pol, ok := p.m.Policies[r.PathValue("id")]
	if !ok {
		return nil, noSuchPolicy(r.PathValue("id"))
	}
	return &response{status: http.StatusOK, etag: pol.ETag, body: p.policyDoc(pol)}, nil
}

func (p *Plane) getPolicyConfig(r *http.Request) (*response, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	pol, ok := p.m.Policies[r.PathValue("id")]
	if !ok {
		return nil, noSuchPolicy(r.PathValue("id"))
	}
	return &response{status: http.StatusOK, etag: pol.ETag, body: pol.Config.clone()}, nil
}

func (p *Plane) updatePolicy(r *http.Request) (*response, error) {
	id := r.PathValue("id")
	cfg, err := readDocument(r, "ContinuousDeploymentPolicyConfig")
	if err != nil {
		return nil, err
	}
	match, err := ifMatch(r)
	if err != nil {
		return nil, err
	}
	c, apiErr := parsePolicyConfig(cfg)
	if apiErr != nil {
		return nil, apiErr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pol, ok := p.m.Policies[id]
	if !ok {
		return nil, noSuchPolicy(id)
	}
	if match != pol.ETag {
		return nil, preconditionFailed(match, pol.ETag)
	}
	if err := p.checkPolicy(c, id); err != nil {
		return nil, err
	}
	old := *pol
	pol.Config, pol.parsed, pol.ETag, pol.Modified = cfg, c, newID(), p.cfg.Clock()
	if err := p.save(); err != nil {
		*pol = old
		return nil, err
	}
	return &response{status: http.StatusOK, etag: pol.ETag, body: p.policyDoc(pol)}, nil
}

func (p *Plane) deletePolicy(r *http.Request) (*response, error) {
	id := r.PathValue("id")
	match, err := ifMatch(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	pol, ok := p.m.Policies[id]
	if !ok {
		return nil, noSuchPolicy(id)
	}
	if err != nil {
		return nil, err
	}
	if match != pol.ETag {
		return nil, preconditionFailed(match, pol.ETag)
	}
	for _, d := range p.m.Distributions {
		if d.parsed.PolicyID == id {
			return nil, errorf(http.StatusConflict, "ContinuousDeploymentPolicyInUse",
				"The continuous deployment policy %s is attached to distribution %s; update the distribution without it first.", id, d.ID)
		}
	}
	delete(p.m.Policies, id)
	if err := p.save(); err != nil {
		p.m.Policies[id] = pol
		return nil, err
	}
	return &response{status: http.StatusNoContent}, nil
}

func (p *Plane) listPolicies(r *http.Request) (*response, error) {
	marker, max, err := listParams(r)
	if err != nil {
		return nil, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	ids, truncated := page(p.m.Policies, marker, max)
	list := el("ContinuousDeploymentPolicyList")
	if truncated {
		list.Children = append(list.Children, leaf("NextMarker", ids[len(ids)-1]))
	}
	list.Children = append(list.Children, leaf("MaxItems", strconv.Itoa(max)), leaf("Quantity", strconv.Itoa(len(ids))))
	if len(ids) > 0 {
		items := el("Items")
		for _, id := range ids {
			items.Children = append(items.Children, el("ContinuousDeploymentPolicySummary", p.policyDoc(p.m.Policies[id])))
		}
		list.Children = append(list.Children, items)
	}
	return &response{status: http.StatusOK, body: list}, nil
}
