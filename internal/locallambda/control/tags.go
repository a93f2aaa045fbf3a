package control

import (
	"maps"
	"net/http"
	"strings"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Tag operations: TagResource, UntagResource, ListTags, on functions
// (unqualified function ARNs: tags cover every version) and event source
// mappings.

// taggable finds the tag map of the resource an ARN names, creating it if
// create is set.
func (cp *Plane) taggable(m *catalog, resource string, create bool) (map[string]string, error) {
	if mm := esmResourceARN().FindStringSubmatch(resource); mm != nil {
		if mm[2] != cp.arns.region || mm[3] != cp.arns.account {
			return nil, awserr.ResourceNotFound("The resource you requested does not exist. (%s)", resource)
		}
		m.touchMapping(mm[4])
		esm := m.Mappings[mm[4]]
		if esm == nil {
			return nil, awserr.ResourceNotFound("The resource you requested does not exist. (%s)", resource)
		}
		if esm.Tags == nil && create {
			esm.Tags = map[string]string{}
		}
		return esm.Tags, nil
	}
	if !strings.HasPrefix(resource, "arn:") {
		return nil, awserr.Validation(resource, "resource", "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
	}
	ref, err := cp.arns.parseFunctionName(resource)
	if err != nil {
		return nil, err
	}
	if ref.Qualifier != "" {
		return nil, awserr.InvalidParameter("Tags are not supported on function versions or aliases; tag the function itself: %s", cp.arns.function(ref.Name))
	}
	fn, err := cp.st.lookup(m, ref, "")
	if err != nil {
		return nil, err
	}
	if fn.Tags == nil && create {
		fn.Tags = map[string]string{}
	}
	return fn.Tags, nil
}

func (cp *Plane) tagResource(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Tags map[string]string `json:"Tags"`
	}
	if err := decodeRequest(r, "TagResource", &req); err != nil {
		return err
	}
	if req.Tags == nil {
		return awserr.Validation("null", "tags", "Member must not be null")
	}
	err := cp.st.write(func(m *catalog) error {
		tags, err := cp.taggable(m, r.PathValue("resource"), true)
		if err != nil {
			return err
		}
		added := 0
		for k := range req.Tags {
			if _, ok := tags[k]; !ok {
				added++
			}
		}
		if err := validateTags(req.Tags, len(tags)+added-len(req.Tags)); err != nil {
			return err
		}
		maps.Copy(tags, req.Tags)
		return nil
	})
	if err != nil {
		return err
	}
	return respondEmpty(w, http.StatusNoContent)
}

func (cp *Plane) untagResource(w http.ResponseWriter, r *http.Request) error {
	keys := r.URL.Query()["tagKeys"]
	if len(keys) == 0 {
		return awserr.Validation("null", "tagKeys", "Member must not be null")
	}
	err := cp.st.write(func(m *catalog) error {
		tags, err := cp.taggable(m, r.PathValue("resource"), false)
		if err != nil {
			return err
		}
		for _, k := range keys {
			delete(tags, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return respondEmpty(w, http.StatusNoContent)
}

func (cp *Plane) listTags(w http.ResponseWriter, r *http.Request) error {
	resp := struct {
		Tags map[string]string `json:"Tags"`
	}{Tags: map[string]string{}}
	err := cp.st.read(func(m *catalog) error {
		tags, err := cp.taggable(m, r.PathValue("resource"), false)
		if err != nil {
			return err
		}
		maps.Copy(resp.Tags, tags)
		return nil
	})
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusOK, resp)
}
