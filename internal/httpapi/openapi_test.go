package httpapi

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// openAPIDoc is the part of the OpenAPI document the tests read.
type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Parameters map[string]openAPIParam `json:"parameters"`
	} `json:"components"`
}

type openAPIParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

var wildcard = regexp.MustCompile(`\{([^}.]+)(\.\.\.)?\}`)

// TestOpenAPICoversRoutes fails when a route of the table is missing from
// openapi.json, when the document describes a route that does not exist,
// or when a path wildcard is not declared as a path parameter.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	resolve := func(raw json.RawMessage) []openAPIParam {
		var ps []openAPIParam
		if err := json.Unmarshal(raw, &ps); err != nil {
			t.Fatalf("parameters %s: %v", raw, err)
		}
		for i, p := range ps {
			if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
				def, found := doc.Components.Parameters[name]
				if !found {
					t.Errorf("parameter $ref %q is not defined", p.Ref)
				}
				ps[i] = def
			}
		}
		return ps
	}

	routes := (&server{}).routes()
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			if method != "parameters" {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	seen := map[string]bool{}
	for _, rt := range routes {
		key := rt.pattern()
		if seen[key] {
			t.Errorf("route %s is in the table twice", key)
		}
		seen[key] = true
		item, ok := doc.Paths[rt.Path]
		if !ok || item[strings.ToLower(rt.Method)] == nil {
			t.Errorf("route %s is missing from openapi.json", key)
			continue
		}
		// Every wildcard is a declared path parameter, at the path or
		// the operation.
		var params []openAPIParam
		if raw, ok := item["parameters"]; ok {
			params = append(params, resolve(raw)...)
		}
		var op struct {
			Parameters json.RawMessage `json:"parameters"`
		}
		if err := json.Unmarshal(item[strings.ToLower(rt.Method)], &op); err != nil {
			t.Fatal(err)
		}
		if op.Parameters != nil {
			params = append(params, resolve(op.Parameters)...)
		}
		for _, m := range wildcard.FindAllStringSubmatch(rt.Path, -1) {
			if !slices.ContainsFunc(params, func(p openAPIParam) bool { return p.Name == m[1] && p.In == "path" }) {
				t.Errorf("route %s: path parameter %q is not declared in openapi.json", key, m[1])
			}
		}
	}
	for key := range documented {
		if !seen[key] {
			t.Errorf("openapi.json describes %s, which is not a route", key)
		}
	}
}
