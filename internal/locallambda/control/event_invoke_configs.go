package control

import (
	"maps"
	"net/http"
	"slices"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Asynchronous invocation configuration: Put/Update/Get/Delete
// FunctionEventInvokeConfig and ListFunctionEventInvokeConfigs. The
// configuration is stored and validated per qualifier ($LATEST, a version
// or an alias).

type destinationJSON struct {
	Destination string `json:"Destination,omitempty"`
}

type destinationConfigJSON struct {
	OnSuccess *destinationJSON `json:"OnSuccess,omitempty"`
	OnFailure *destinationJSON `json:"OnFailure,omitempty"`
}

type eventInvokeConfigRequest struct {
	MaximumRetryAttempts     *int                   `json:"MaximumRetryAttempts"`
	MaximumEventAgeInSeconds *int                   `json:"MaximumEventAgeInSeconds"`
	DestinationConfig        *destinationConfigJSON `json:"DestinationConfig"`
}

type eventInvokeConfigJSON struct {
	LastModified             float64                `json:"LastModified"`
	FunctionArn              string                 `json:"FunctionArn"`
	MaximumRetryAttempts     *int                   `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int                   `json:"MaximumEventAgeInSeconds,omitempty"`
	DestinationConfig        *destinationConfigJSON `json:"DestinationConfig,omitempty"`
}

func (a arns) eventInvokeConfigJSON(fn *lambdaFunction, c *eventInvokeConfig) eventInvokeConfigJSON {
	out := eventInvokeConfigJSON{
		LastModified:             awsTimestamp(c.LastModified),
		FunctionArn:              a.qualified(fn.Name, c.Qualifier),
		MaximumRetryAttempts:     c.MaximumRetryAttempts,
		MaximumEventAgeInSeconds: c.MaximumEventAgeInSeconds,
	}
	if c.OnSuccess != "" || c.OnFailure != "" {
		out.DestinationConfig = &destinationConfigJSON{}
		if c.OnSuccess != "" {
			out.DestinationConfig.OnSuccess = &destinationJSON{Destination: c.OnSuccess}
		}
		if c.OnFailure != "" {
			out.DestinationConfig.OnFailure = &destinationJSON{Destination: c.OnFailure}
		}
	}
	return out
}

// checkDestination accepts what AWS accepts as an asynchronous-invocation
// destination: SQS, SNS, Lambda and EventBridge, and S3 for failures.
func checkDestination(arn string, onFailure bool) error {
	if arn == "" {
		return nil
	}
	a, ok := parseARN(arn)
	if !ok || !(destinationService[a.Service] || (onFailure && a.Service == "s3")) {
		return awserr.InvalidParameter("The destination ARN %s is invalid: use an Amazon SQS queue, Amazon SNS topic, Lambda function or EventBridge event bus%s.",
			arn, map[bool]string{true: " (or an Amazon S3 bucket for OnFailure)", false: ""}[onFailure])
	}
	return nil
}

func (req *eventInvokeConfigRequest) validate() error {
	if n := req.MaximumRetryAttempts; n != nil && (*n < 0 || *n > 2) {
		return awserr.Validation(*n, "maximumRetryAttempts", "Member must have value between 0 and 2")
	}
	if n := req.MaximumEventAgeInSeconds; n != nil && (*n < 60 || *n > 21600) {
		return awserr.Validation(*n, "maximumEventAgeInSeconds", "Member must have value between 60 and 21600")
	}
	if d := req.DestinationConfig; d != nil {
		if d.OnSuccess != nil {
			if err := checkDestination(d.OnSuccess.Destination, false); err != nil {
				return err
			}
		}
		if d.OnFailure != nil {
			if err := checkDestination(d.OnFailure.Destination, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// eventInvokeTarget parses the function and qualifier of an event invoke
// config request and checks that the qualifier exists.
func (cp *Plane) eventInvokeTarget(m *catalog, r *http.Request) (*lambdaFunction, string, error) {
	fn, q, err := cp.requestFunction(m, r)
	if err != nil {
		return nil, "", err
	}
	if q == "" {
		q = latestQualif
	}
	if _, _, err := cp.st.resolveQualifier(fn, q); err != nil {
		return nil, "", err
	}
	return fn, q, nil
}

// putFunctionEventInvokeConfig replaces the configuration; members left
// out are unset.
func (cp *Plane) putFunctionEventInvokeConfig(w http.ResponseWriter, r *http.Request) error {
	return cp.writeEventInvokeConfig(w, r, "PutFunctionEventInvokeConfig", true)
}

// updateFunctionEventInvokeConfig changes the members present.
func (cp *Plane) updateFunctionEventInvokeConfig(w http.ResponseWriter, r *http.Request) error {
	return cp.writeEventInvokeConfig(w, r, "UpdateFunctionEventInvokeConfig", false)
}

func (cp *Plane) writeEventInvokeConfig(w http.ResponseWriter, r *http.Request, op string, replace bool) error {
	var req eventInvokeConfigRequest
	if err := decodeRequest(r, op, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	var resp eventInvokeConfigJSON
	err := cp.st.write(func(m *catalog) error {
		fn, q, err := cp.eventInvokeTarget(m, r)
		if err != nil {
			return err
		}
		c := fn.EventInvokeConfigs[q]
		if c == nil || replace {
			c = &eventInvokeConfig{Qualifier: q}
		} else {
			cp := *c
			c = &cp
		}
		if req.MaximumRetryAttempts != nil || replace {
			c.MaximumRetryAttempts = req.MaximumRetryAttempts
		}
		if req.MaximumEventAgeInSeconds != nil || replace {
			c.MaximumEventAgeInSeconds = req.MaximumEventAgeInSeconds
		}
		if d := req.DestinationConfig; d != nil {
			if d.OnSuccess != nil {
				c.OnSuccess = d.OnSuccess.Destination
			}
			if d.OnFailure != nil {
				c.OnFailure = d.OnFailure.Destination
			}
		}
		c.LastModified = cp.cfg.Clock().UTC()
		if fn.EventInvokeConfigs == nil {
			fn.EventInvokeConfigs = map[string]*eventInvokeConfig{}
		}
		fn.EventInvokeConfigs[q] = c
		resp = cp.arns.eventInvokeConfigJSON(fn, c)
		return nil
	})
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusOK, resp)
}

func (cp *Plane) getFunctionEventInvokeConfig(w http.ResponseWriter, r *http.Request) error {
	var resp eventInvokeConfigJSON
	err := cp.st.read(func(m *catalog) error {
		fn, q, err := cp.eventInvokeTarget(m, r)
		if err != nil {
			return err
		}
		c := fn.EventInvokeConfigs[q]
		if c == nil {
			return awserr.ResourceNotFound("The function %s doesn't have an EventInvokeConfig", cp.arns.qualified(fn.Name, q))
		}
		resp = cp.arns.eventInvokeConfigJSON(fn, c)
		return nil
	})
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusOK, resp)
}

func (cp *Plane) deleteFunctionEventInvokeConfig(w http.ResponseWriter, r *http.Request) error {
	err := cp.st.write(func(m *catalog) error {
		fn, q, err := cp.eventInvokeTarget(m, r)
		if err != nil {
			return err
		}
		if fn.EventInvokeConfigs[q] == nil {
			return awserr.ResourceNotFound("The function %s doesn't have an EventInvokeConfig", cp.arns.qualified(fn.Name, q))
		}
		delete(fn.EventInvokeConfigs, q)
		return nil
	})
	if err != nil {
		return err
	}
	return respondEmpty(w, http.StatusNoContent)
}

func (cp *Plane) listFunctionEventInvokeConfigs(w http.ResponseWriter, r *http.Request) error {
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	max, err := parseMaxItems(q.Get("MaxItems"), 50, 50)
	if err != nil {
		return err
	}
	var all []eventInvokeConfigJSON
	var keys []string
	err = cp.st.read(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(fn.EventInvokeConfigs)) {
			all = append(all, cp.arns.eventInvokeConfigJSON(fn, fn.EventInvokeConfigs[k]))
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	idx := make([]int, len(all))
	for i := range idx {
		idx[i] = i
	}
	page, next, err := paginate(idx, func(i int) string { return keys[i] }, q.Get("Marker"), max)
	if err != nil {
		return err
	}
	resp := struct {
		FunctionEventInvokeConfigs []eventInvokeConfigJSON `json:"FunctionEventInvokeConfigs"`
		NextMarker                 string                  `json:"NextMarker,omitempty"`
	}{FunctionEventInvokeConfigs: []eventInvokeConfigJSON{}, NextMarker: next}
	for _, i := range page {
		resp.FunctionEventInvokeConfigs = append(resp.FunctionEventInvokeConfigs, all[i])
	}
	return respondJSON(w, http.StatusOK, resp)
}
