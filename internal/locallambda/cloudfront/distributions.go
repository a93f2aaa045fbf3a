package cloudfront

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// location is the Location header of a created resource.
func location(kind, id string) string {
	return "https://cloudfront.amazonaws.com" + apiVersion + "/" + kind + "/" + id
}

// normalize adds what CloudFront always returns in a DistributionConfig
// and the client may have left out.
func normalize(cfg *node) {
	if !cfg.has("Staging") {
		cfg.set("Staging", "false")
	}
	if !cfg.has("ContinuousDeploymentPolicyId") {
		cfg.set("ContinuousDeploymentPolicyId", "")
	}
}

// distributionDoc is a Distribution element.
func (p *Plane) distributionDoc(d *distribution, now time.Time) *node {
	return el("Distribution",
		leaf("Id", d.ID),
		leaf("ARN", p.arn(d.ID)),
		leaf("Status", d.status(now)),
		leaf("LastModifiedTime", d.Modified.UTC().Format(timeFormat)),
		leaf("InProgressInvalidationBatches", "0"),
		leaf("DomainName", d.DomainName),
		el("ActiveTrustedSigners", leaf("Enabled", "false"), leaf("Quantity", "0")),
		el("ActiveTrustedKeyGroups", leaf("Enabled", "false"), leaf("Quantity", "0")),
		d.Config.clone(),
	)
}

// summaryDoc is a DistributionSummary element: the distribution's state
// and the config fields CloudFront summarizes.
func (p *Plane) summaryDoc(d *distribution, now time.Time) *node {
	n := el("DistributionSummary",
		leaf("Id", d.ID),
		leaf("ARN", p.arn(d.ID)),
		leaf("ETag", d.ETag),
		leaf("Status", d.status(now)),
		leaf("LastModifiedTime", d.Modified.UTC().Format(timeFormat)),
		leaf("DomainName", d.DomainName),
	)
	defaults := map[string]*node{
		"Aliases":              el("Aliases", leaf("Quantity", "0")),
		"OriginGroups":         el("OriginGroups", leaf("Quantity", "0")),
		"CacheBehaviors":       el("CacheBehaviors", leaf("Quantity", "0")),
		"CustomErrorResponses": el("CustomErrorResponses", leaf("Quantity", "0")),
		"PriceClass":           leaf("PriceClass", "PriceClass_All"),
		"WebACLId":             leaf("WebACLId", ""),
		"HttpVersion":          leaf("HttpVersion", "http2"),
		"IsIPV6Enabled":        leaf("IsIPV6Enabled", "true"),
		"Restrictions":         el("Restrictions", el("GeoRestriction", leaf("RestrictionType", "none"), leaf("Quantity", "0"))),
		"ViewerCertificate":    el("ViewerCertificate", leaf("CloudFrontDefaultCertificate", "true")),
	}
	for _, f := range []string{"Aliases", "Origins", "OriginGroups", "DefaultCacheBehavior", "CacheBehaviors", "CustomErrorResponses",
		"Comment", "PriceClass", "Enabled", "ViewerCertificate", "Restrictions", "WebACLId", "HttpVersion", "IsIPV6Enabled", "Staging"} {
		if c := d.Config.child(f); c != nil {
			n.Children = append(n.Children, c.clone())
		} else if def, ok := defaults[f]; ok {
			n.Children = append(n.Children, def)
		}
	}
	return n
}

// distributionResponse answers with the Distribution and its ETag.
func (p *Plane) distributionResponse(status int, d *distribution, withLocation bool) *response {
	res := &response{status: status, etag: d.ETag, body: p.distributionDoc(d, p.cfg.Clock())}
	if withLocation {
		res.location = location("distribution", d.ID)
	}
	return res
}

// checkConflicts refuses a config whose CallerReference or aliases belong
// to another distribution than self. The caller holds mu.
func (p *Plane) checkConflicts(c *distConfig, self string) error {
	for _, o := range p.m.Distributions {
		if o.ID == self {
			continue
		}
		if o.parsed.CallerReference == c.CallerReference {
			return errorf(http.StatusConflict, "DistributionAlreadyExists",
				"The caller reference you attempted to create the distribution with is associated with another distribution: %s.", o.ID)
		}
		for _, a := range c.Aliases {
			if slices.Contains(o.parsed.Aliases, a) {
				return errorf(http.StatusConflict, "CNAMEAlreadyExists", "One or more of the CNAMEs you provided are already associated with a different resource: %s is an alias of %s.", a, o.ID)
			}
		}
	}
	return nil
}

// checkPolicyAttachment checks the ContinuousDeploymentPolicyId of the
// config of distribution self. The caller holds mu.
func (p *Plane) checkPolicyAttachment(c *distConfig, self string) error {
	if c.PolicyID == "" {
		return nil
	}
	if c.Staging {
		return errorf(http.StatusBadRequest, "IllegalUpdate", "A staging distribution cannot have a continuous deployment policy; attach %s to the primary distribution.", c.PolicyID)
	}
	pol, ok := p.m.Policies[c.PolicyID]
	if !ok {
		return noSuchPolicy(c.PolicyID)
	}
	for _, o := range p.m.Distributions {
		if o.ID != self && o.parsed.PolicyID == c.PolicyID {
			return errorf(http.StatusConflict, "ContinuousDeploymentPolicyInUse",
				"The continuous deployment policy %s is already attached to distribution %s.", c.PolicyID, o.ID)
		}
	}
	if p.distributionByDomain(pol.parsed.StagingDomain) == nil {
		return invalidArgument("The continuous deployment policy %s names staging distribution %s, which does not exist.", c.PolicyID, pol.parsed.StagingDomain)
	}
	return nil
}

// distributionByDomain finds a distribution by its domain name. The
// caller holds mu.
func (p *Plane) distributionByDomain(domain string) *distribution {
	for _, d := range p.m.Distributions {
		if strings.EqualFold(d.DomainName, domain) {
			return d
		}
	}
	return nil
}

// changed stamps d as changed now: a new ETag, InProgress until the
// deploy delay has passed.
func (p *Plane) changed(d *distribution) {
	now := p.cfg.Clock()
	d.ETag, d.Modified, d.DeployedAt = newID(), now, now.Add(p.cfg.DeployDelay)
}

// addDistribution adds and saves a new distribution of config cfg. The
// caller holds mu.
func (p *Plane) addDistribution(cfg *node, c *distConfig) (*distribution, error) {
	d := &distribution{ID: newID(), DomainName: newDomainName(), Config: cfg, parsed: c}
	p.changed(d)
	p.m.Distributions[d.ID] = d
	if err := p.save(); err != nil {
		delete(p.m.Distributions, d.ID)
		return nil, err
	}
	return d, nil
}

// replaceConfig gives d the config cfg and saves it; a failed save leaves
// d as it was. The caller holds mu.
func (p *Plane) replaceConfig(d *distribution, cfg *node, c *distConfig) error {
	old := *d
	d.Config, d.parsed = cfg, c
	p.changed(d)
	if err := p.save(); err != nil {
		*d = old
		return err
	}
	return nil
}

func (p *Plane) createDistribution(r *http.Request) (*response, error) {
	if r.URL.Query().Has("WithTags") {
		return nil, errorf(http.StatusNotImplemented, "NotImplemented", "The local CloudFront does not implement CreateDistributionWithTags; use CreateDistribution.")
	}
	cfg, err := readDocument(r, "DistributionConfig")
	if err != nil {
		return nil, err
	}
	c, apiErr := parseDistConfig(cfg)
	if apiErr != nil {
		return nil, apiErr
	}
	if c.Staging {
		return nil, invalidArgument("A staging distribution is made with CopyDistribution (Staging: true) from its primary, not with CreateDistribution.")
	}
	if err := checkAssociations(r.Context(), p.cfg.Functions, c); err != nil {
		return nil, err
	}
	normalize(cfg)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.checkConflicts(c, ""); err != nil {
		return nil, err
	}
	if err := p.checkPolicyAttachment(c, ""); err != nil {
		return nil, err
	}
	d, err := p.addDistribution(cfg, c)
	if err != nil {
		return nil, err
	}
	p.log.Info("local cloudfront: created a distribution", "id", d.ID, "domain", d.DomainName)
	return p.distributionResponse(http.StatusCreated, d, true), nil
}

func (p *Plane) getDistribution(r *http.Request) (*response, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	d, ok := p.m.Distributions[r.PathValue("id")]
	if !ok {
		return nil, noSuchDistribution(r.PathValue("id"))
	}
	return p.distributionResponse(http.StatusOK, d, false), nil
}

func (p *Plane) getDistributionConfig(r *http.Request) (*response, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	d, ok := p.m.Distributions[r.PathValue("id")]
	if !ok {
		return nil, noSuchDistribution(r.PathValue("id"))
	}
	return &response{status: http.StatusOK, etag: d.ETag, body: d.Config.clone()}, nil
}

func (p *Plane) updateDistribution(r *http.Request) (*response, error) {
	id := r.PathValue("id")
	cfg, err := readDocument(r, "DistributionConfig")
	if err != nil {
		return nil, err
	}
	match, err := ifMatch(r)
	if err != nil {
		return nil, err
	}
	c, apiErr := parseDistConfig(cfg)
	if apiErr != nil {
		return nil, apiErr
	}
	if err := checkAssociations(r.Context(), p.cfg.Functions, c); err != nil {
		return nil, err
	}
	normalize(cfg)
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.m.Distributions[id]
	if !ok {
		return nil, noSuchDistribution(id)
	}
	if match != d.ETag {
		return nil, preconditionFailed(match, d.ETag)
	}
	if c.CallerReference != d.parsed.CallerReference {
		return nil, errorf(http.StatusBadRequest, "IllegalUpdate", "The CallerReference of a distribution cannot change: it is %q, not %q.", d.parsed.CallerReference, c.CallerReference)
	}
	if c.Staging != d.parsed.Staging {
		return nil, errorf(http.StatusBadRequest, "IllegalUpdate", "Staging cannot change: distribution %s has Staging %t.", id, d.parsed.Staging)
	}
	if err := p.checkConflicts(c, id); err != nil {
		return nil, err
	}
	if err := p.checkPolicyAttachment(c, id); err != nil {
		return nil, err
	}
	if err := p.replaceConfig(d, cfg, c); err != nil {
		return nil, err
	}
	p.log.Info("local cloudfront: updated a distribution", "id", id, "etag", d.ETag)
	return p.distributionResponse(http.StatusOK, d, false), nil
}

func (p *Plane) deleteDistribution(r *http.Request) (*response, error) {
	id := r.PathValue("id")
	match, err := ifMatch(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.m.Distributions[id]
	if !ok {
		return nil, noSuchDistribution(id)
	}
	if err != nil {
		return nil, err
	}
	if match != d.ETag {
		return nil, preconditionFailed(match, d.ETag)
	}
	if d.parsed.Enabled {
		return nil, errorf(http.StatusConflict, "DistributionNotDisabled",
			"The distribution you are trying to delete has not been disabled: update it with Enabled false, wait for Deployed, then delete it.")
	}
	if d.status(p.cfg.Clock()) != "Deployed" {
		return nil, errorf(http.StatusConflict, "DistributionNotDisabled",
			"The distribution you are trying to delete is still InProgress: wait for Deployed (the DistributionDeployed waiter), then delete it.")
	}
	for _, pol := range p.m.Policies {
		if strings.EqualFold(pol.parsed.StagingDomain, d.DomainName) {
			return nil, errorf(http.StatusConflict, "ResourceInUse", "Distribution %s is the staging distribution of continuous deployment policy %s; delete the policy first.", id, pol.ID)
		}
	}
	delete(p.m.Distributions, id)
	if err := p.save(); err != nil {
		p.m.Distributions[id] = d
		return nil, err
	}
	return &response{status: http.StatusNoContent}, nil
}

// page is the IDs of a list's page: those after marker, in order, at most
// max, and whether more follow.
func page[V any](m map[string]V, marker string, max int) (ids []string, truncated bool) {
	ids = slices.Sorted(func(yield func(string) bool) {
		for id := range m {
			if id > marker && !yield(id) {
				return
			}
		}
	})
	if len(ids) > max {
		return ids[:max], true
	}
	return ids, false
}

func (p *Plane) listDistributions(r *http.Request) (*response, error) {
	marker, max, err := listParams(r)
	if err != nil {
		return nil, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	ids, truncated := page(p.m.Distributions, marker, max)
	now := p.cfg.Clock()
	items := el("Items")
	for _, id := range ids {
		items.Children = append(items.Children, p.summaryDoc(p.m.Distributions[id], now))
	}
	list := el("DistributionList", leaf("Marker", marker))
	if truncated {
		list.Children = append(list.Children, leaf("NextMarker", ids[len(ids)-1]))
	}
	list.Children = append(list.Children, leaf("MaxItems", strconv.Itoa(max)), leaf("IsTruncated", strconv.FormatBool(truncated)),
		leaf("Quantity", strconv.Itoa(len(ids))))
	if len(ids) > 0 {
		list.Children = append(list.Children, items)
	}
	return &response{status: http.StatusOK, body: list}, nil
}

func (p *Plane) copyDistribution(r *http.Request) (*response, error) {
	id := r.PathValue("id")
	req, err := readDocument(r, "CopyDistributionRequest")
	if err != nil {
		return nil, err
	}
	ref := req.text("CallerReference")
	if ref == "" {
		return nil, errorf(http.StatusBadRequest, "MalformedInput", "CopyDistributionRequest/CallerReference is required.")
	}
	staging := false
	if s := r.Header.Get("Staging"); s != "" {
		var ok bool
		if staging, ok = parseBool(s); !ok {
			return nil, invalidArgument("The Staging header must be true or false, not %q.", s)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	primary, ok := p.m.Distributions[id]
	if !ok {
		return nil, noSuchDistribution(id)
	}
	if m := strings.TrimSpace(r.Header.Get("If-Match")); m != "" && m != primary.ETag {
		return nil, preconditionFailed(m, primary.ETag)
	}
	if primary.parsed.Staging {
		return nil, invalidArgument("Distribution %s is a staging distribution; copy its primary instead.", id)
	}
	cfg := primary.Config.clone()
	cfg.set("CallerReference", ref)
	cfg.set("Staging", strconv.FormatBool(staging))
	cfg.set("ContinuousDeploymentPolicyId", "")
	if e := req.text("Enabled"); e != "" {
		cfg.set("Enabled", e)
	}
	if staging {
		// A staging distribution answers through its primary, never by a
		// name of its own.
		if a := cfg.child("Aliases"); a != nil {
			a.Children = []*node{leaf("Quantity", "0")}
		}
	}
	c, apiErr := parseDistConfig(cfg)
	if apiErr != nil {
		return nil, apiErr
	}
	if err := p.checkConflicts(c, ""); err != nil {
		return nil, err
	}
	d, err := p.addDistribution(cfg, c)
	if err != nil {
		return nil, err
	}
	p.log.Info("local cloudfront: copied a distribution", "primary", id, "id", d.ID, "staging", staging)
	return p.distributionResponse(http.StatusCreated, d, true), nil
}

// promoteStagingConfig is UpdateDistributionWithStagingConfig: the
// staging distribution's configuration becomes the primary's, except for
// what identifies the primary (CallerReference, Aliases, Staging,
// ContinuousDeploymentPolicyId).
func (p *Plane) promoteStagingConfig(r *http.Request) (*response, error) {
	id, stagingID := r.PathValue("id"), r.URL.Query().Get("StagingDistributionId")
	p.mu.Lock()
	defer p.mu.Unlock()
	primary, ok := p.m.Distributions[id]
	if !ok {
		return nil, noSuchDistribution(id)
	}
	if stagingID == "" {
		return nil, invalidArgument("StagingDistributionId is required.")
	}
	staging, ok := p.m.Distributions[stagingID]
	if !ok {
		return nil, noSuchDistribution(stagingID)
	}
	if !staging.parsed.Staging {
		return nil, invalidArgument("Distribution %s is not a staging distribution.", stagingID)
	}
	// If-Match: "<primary ETag>, <staging ETag>".
	m := strings.TrimSpace(r.Header.Get("If-Match"))
	pm, sm, ok := strings.Cut(m, ",")
	if m == "" || !ok {
		return nil, errorf(http.StatusBadRequest, "InvalidIfMatchVersion",
			"The If-Match version is missing or not valid: UpdateDistributionWithStagingConfig takes both ETags, \"<primary ETag>, <staging ETag>\".")
	}
	pm, sm = strings.TrimSpace(pm), strings.TrimSpace(sm)
	if pm != primary.ETag {
		return nil, preconditionFailed(pm, primary.ETag)
	}
	if sm != staging.ETag {
		return nil, preconditionFailed(sm, staging.ETag)
	}
	cfg := staging.Config.clone()
	for _, keep := range []string{"CallerReference", "Aliases", "Staging", "ContinuousDeploymentPolicyId"} {
		cfg.remove(keep)
		if c := primary.Config.child(keep); c != nil {
			cfg.Children = append(cfg.Children, c.clone())
		}
	}
	c, apiErr := parseDistConfig(cfg)
	if apiErr != nil {
		return nil, apiErr
	}
	if err := p.replaceConfig(primary, cfg, c); err != nil {
		return nil, err
	}
	p.log.Info("local cloudfront: promoted a staging configuration", "primary", id, "staging", stagingID)
	return p.distributionResponse(http.StatusOK, primary, false), nil
}
