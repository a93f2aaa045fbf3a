package control

import (
	"maps"
	"net/http"
	"slices"

	"github.com/google/uuid"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Alias operations: CreateAlias, GetAlias, UpdateAlias, DeleteAlias,
// ListAliases, with AWS's validation of weighted routing.

type routingConfigJSON struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights"`
}

type aliasConfiguration struct {
	AliasArn        string             `json:"AliasArn"`
	Name            string             `json:"Name"`
	FunctionVersion string             `json:"FunctionVersion"`
	Description     string             `json:"Description"`
	RoutingConfig   *routingConfigJSON `json:"RoutingConfig,omitempty"`
	RevisionId      string             `json:"RevisionId"`
}

func (a arns) aliasConfiguration(fn *lambdaFunction, al *functionAlias) aliasConfiguration {
	c := aliasConfiguration{
		AliasArn:        a.qualified(fn.Name, al.Name),
		Name:            al.Name,
		FunctionVersion: al.FunctionVersion,
		Description:     al.Description,
		RevisionId:      al.RevisionID,
	}
	if len(al.Weights) > 0 {
		c.RoutingConfig = &routingConfigJSON{AdditionalVersionWeights: maps.Clone(al.Weights)}
	}
	return c
}

func checkAliasName(name string) error {
	if name == "" {
		return awserr.Validation("null", "name", "Member must not be null")
	}
	if !validAliasName(name) {
		return awserr.Validation(name, "name", "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+) and have length between 1 and 128")
	}
	return nil
}

func checkAliasVersion(v string) error {
	if v == "" {
		return awserr.Validation("null", "functionVersion", "Member must not be null")
	}
	if v != latestQualif && !isVersionQualifier(v) {
		return awserr.Validation(v, "functionVersion", `Member must satisfy regular expression pattern: (\$LATEST|[0-9]+)`)
	}
	return nil
}

// checkRouting validates an alias's target and routing as AWS does (see
// lambda-api.md §1.4). A weight of exactly 1.0 is accepted: the model's
// range is [0.0, 1.0], and it sends every invocation to the additional
// version.
func (a arns) checkRouting(fn *lambdaFunction, primary string, weights map[string]float64) error {
	if fn.version(primary) == nil {
		return awserr.ResourceNotFound("Function not found: %s", a.qualified(fn.Name, primary))
	}
	if len(weights) == 0 {
		return nil
	}
	if len(weights) > 1 {
		return awserr.InvalidParameter("Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	for add, w := range weights {
		if !isVersionQualifier(add) || len(add) > 1024 {
			return awserr.Validation(fmtWeights(weights), "routingConfig.additionalVersionWeights",
				"Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]+, Member must have length between 1 and 1024]")
		}
		if !(w >= 0 && w <= 1) {
			return awserr.Validation(fmtWeights(weights), "routingConfig.additionalVersionWeights",
				"Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]")
		}
		if primary == latestQualif {
			return awserr.InvalidParameter("$LATEST is not supported for an alias pointing to more than 1 version")
		}
		if add == primary {
			return awserr.InvalidParameter("Invalid function version %s. Function version %s is already included in routing configuration.", add, add)
		}
		pv, av := fn.Versions[primary], fn.Versions[add]
		if av == nil {
			return awserr.ResourceNotFound("Function not found: %s", a.qualified(fn.Name, add))
		}
		if pv.Config.Role != av.Config.Role {
			return awserr.InvalidParameter("The function versions %s and %s must have the same execution role to be routed by one alias; version %s has %s, version %s has %s.",
				primary, add, primary, pv.Config.Role, add, av.Config.Role)
		}
		if pv.Config.DeadLetterTargetArn != av.Config.DeadLetterTargetArn {
			return awserr.InvalidParameter("The function versions %s and %s must have the same dead-letter queue configuration to be routed by one alias; version %s has %s, version %s has %s.",
				primary, add, primary, orNone(pv.Config.DeadLetterTargetArn), add, orNone(av.Config.DeadLetterTargetArn))
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

type createAliasRequest struct {
	Name            string             `json:"Name"`
	FunctionVersion string             `json:"FunctionVersion"`
	Description     string             `json:"Description"`
	RoutingConfig   *routingConfigJSON `json:"RoutingConfig"`
}

func (cp *Plane) createAlias(w http.ResponseWriter, r *http.Request) error {
	var req createAliasRequest
	if err := decodeRequest(r, "CreateAlias", &req); err != nil {
		return err
	}
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	if err := checkAliasName(req.Name); err != nil {
		return err
	}
	if err := checkAliasVersion(req.FunctionVersion); err != nil {
		return err
	}
	if len(req.Description) > 256 {
		return awserr.Validation(req.Description, "description", "Member must have length less than or equal to 256")
	}
	var weights map[string]float64
	if req.RoutingConfig != nil {
		weights = maps.Clone(req.RoutingConfig.AdditionalVersionWeights)
	}
	var resp aliasConfiguration
	err = cp.st.write(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		if fn.Aliases[req.Name] != nil {
			return awserr.ResourceConflict("Alias already exists: %s", cp.arns.qualified(fn.Name, req.Name))
		}
		if err := cp.arns.checkRouting(fn, req.FunctionVersion, weights); err != nil {
			return err
		}
		al := &functionAlias{Name: req.Name, FunctionVersion: req.FunctionVersion, Description: req.Description,
			Weights: nilIfEmpty(weights), RevisionID: uuid.NewString()}
		fn.Aliases[al.Name] = al
		cp.aliases.record(cp.cfg.Clock(), fn.Name, al.Name, "CreateAlias", al)
		resp = cp.arns.aliasConfiguration(fn, al)
		return nil
	})
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusCreated, resp)
}

func nilIfEmpty(m map[string]float64) map[string]float64 {
	if len(m) == 0 {
		return nil
	}
	return m
}

func (cp *Plane) getAlias(w http.ResponseWriter, r *http.Request) error {
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	var resp aliasConfiguration
	err = cp.st.read(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		al := fn.Aliases[r.PathValue("alias")]
		if al == nil {
			return awserr.ResourceNotFound("Cannot find alias arn: %s", cp.arns.qualified(fn.Name, r.PathValue("alias")))
		}
		resp = cp.arns.aliasConfiguration(fn, al)
		return nil
	})
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusOK, resp)
}

type updateAliasRequest struct {
	FunctionVersion *string            `json:"FunctionVersion"`
	Description     *string            `json:"Description"`
	RoutingConfig   *routingConfigJSON `json:"RoutingConfig"`
	RevisionId      string             `json:"RevisionId"`
}

func (cp *Plane) updateAlias(w http.ResponseWriter, r *http.Request) error {
	var req updateAliasRequest
	if err := decodeRequest(r, "UpdateAlias", &req); err != nil {
		return err
	}
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	if req.FunctionVersion != nil {
		if err := checkAliasVersion(*req.FunctionVersion); err != nil {
			return err
		}
	}
	if req.Description != nil && len(*req.Description) > 256 {
		return awserr.Validation(*req.Description, "description", "Member must have length less than or equal to 256")
	}
	var resp aliasConfiguration
	err = cp.st.write(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		al := fn.Aliases[r.PathValue("alias")]
		if al == nil {
			return awserr.ResourceNotFound("Alias not found: %s", cp.arns.qualified(fn.Name, r.PathValue("alias")))
		}
		if req.RevisionId != "" && req.RevisionId != al.RevisionID {
			return awserr.PreconditionFailed()
		}
		primary := al.FunctionVersion
		if req.FunctionVersion != nil {
			primary = *req.FunctionVersion
		}
		// RoutingConfig left out keeps the routing; {} clears it.
		weights := al.Weights
		if req.RoutingConfig != nil {
			weights = req.RoutingConfig.AdditionalVersionWeights
		}
		if err := cp.arns.checkRouting(fn, primary, weights); err != nil {
			return err
		}
		al.FunctionVersion = primary
		al.Weights = nilIfEmpty(maps.Clone(weights))
		if req.Description != nil {
			al.Description = *req.Description
		}
		al.RevisionID = uuid.NewString()
		cp.aliases.record(cp.cfg.Clock(), fn.Name, al.Name, "UpdateAlias", al)
		resp = cp.arns.aliasConfiguration(fn, al)
		return nil
	})
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusOK, resp)
}

func (cp *Plane) deleteAlias(w http.ResponseWriter, r *http.Request) error {
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	err = cp.st.write(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		// Deleting an alias that does not exist is a 204 on AWS.
		if fn.Aliases[r.PathValue("alias")] != nil {
			cp.aliases.record(cp.cfg.Clock(), fn.Name, r.PathValue("alias"), "DeleteAlias", nil)
		}
		delete(fn.Aliases, r.PathValue("alias"))
		delete(fn.EventInvokeConfigs, r.PathValue("alias"))
		delete(fn.Policies, r.PathValue("alias"))
		return nil
	})
	if err != nil {
		return err
	}
	return respondEmpty(w, http.StatusNoContent)
}

func (cp *Plane) listAliases(w http.ResponseWriter, r *http.Request) error {
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	max, err := parseMaxItems(q.Get("MaxItems"), 50, 10000)
	if err != nil {
		return err
	}
	onlyVersion := q.Get("FunctionVersion")
	if onlyVersion != "" {
		if err := checkAliasVersion(onlyVersion); err != nil {
			return err
		}
	}
	var all []aliasConfiguration
	err = cp.st.read(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		for _, name := range slices.Sorted(maps.Keys(fn.Aliases)) {
			al := fn.Aliases[name]
			if onlyVersion == "" || al.references(onlyVersion) {
				all = append(all, cp.arns.aliasConfiguration(fn, al))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	page, next, err := paginate(all, func(a aliasConfiguration) string { return a.Name }, q.Get("Marker"), max)
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusOK, struct {
		Aliases    []aliasConfiguration `json:"Aliases"`
		NextMarker string               `json:"NextMarker,omitempty"`
	}{page, next})
}
