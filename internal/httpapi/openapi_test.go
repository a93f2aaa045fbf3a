package httpapi

import (
	"encoding/json"
	"reflect"
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

// TestOpenAPIDescribesAccess holds each operation's x-sluice-access,
// security and error statuses against the route table: a public route
// needs no credential (security: []); every other route says 401, a
// state-changing one needs the CSRF token with a session and says 403 and
// 415; a route that checks a right says 403; every route says 421. The
// security suite (security_test.go) plays its attacks from these fields,
// so they must be true.
func TestOpenAPIDescribesAccess(t *testing.T) {
	var doc struct {
		Security   []map[string][]string `json:"security"`
		Paths      map[string]map[string]json.RawMessage
		Components struct {
			SecuritySchemes map[string]struct {
				Type, Scheme, In, Name string
			} `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	schemes := doc.Components.SecuritySchemes
	if s := schemes["bearerToken"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("securitySchemes.bearerToken = %+v, want http bearer", s)
	}
	if s := schemes["sessionCookie"]; s.Type != "apiKey" || s.In != "cookie" || s.Name != SessionCookie {
		t.Errorf("securitySchemes.sessionCookie = %+v, want the cookie %s", s, SessionCookie)
	}
	if s := schemes["csrfToken"]; s.Type != "apiKey" || s.In != "header" || s.Name != CSRFHeader {
		t.Errorf("securitySchemes.csrfToken = %+v, want the header %s", s, CSRFHeader)
	}
	global := []map[string][]string{{"bearerToken": {}}, {"sessionCookie": {}}}
	if !reflect.DeepEqual(doc.Security, global) {
		t.Errorf("global security = %v, want %v", doc.Security, global)
	}
	withCSRF := []map[string][]string{{"bearerToken": {}}, {"sessionCookie": {}, "csrfToken": {}}}
	for _, rt := range (&server{}).routes() {
		raw := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
		if raw == nil {
			continue // TestOpenAPICoversRoutes reports it
		}
		var op struct {
			Access    string                 `json:"x-sluice-access"`
			Security  *[]map[string][]string `json:"security"`
			Responses map[string]json.RawMessage
		}
		if err := json.Unmarshal(raw, &op); err != nil {
			t.Fatal(err)
		}
		key := rt.pattern()
		if want := accessName(rt.Access); op.Access != want {
			t.Errorf("%s: x-sluice-access = %q, want %q", key, op.Access, want)
		}
		unsafe := unsafeMethod(rt.Method)
		var wantSecurity *[]map[string][]string // the global one
		withSignature := append(slices.Clone(withCSRF), map[string][]string{"triggerSignature": {}})
		switch {
		case rt.Access.Public:
			wantSecurity = &[]map[string][]string{}
		case rt.Access.Delivery:
			// A delivery may be signed instead of carrying a credential.
			wantSecurity = &withSignature
		case unsafe:
			wantSecurity = &withCSRF
		}
		if !reflect.DeepEqual(op.Security, wantSecurity) {
			t.Errorf("%s: security = %v, want %v", key, deref(op.Security), deref(wantSecurity))
		}
		want := map[string]bool{
			"401": !rt.Access.Public,
			"403": unsafe || rt.Access.Admin || rt.Access.Perm != 0,
			"415": unsafe,
			"421": true,
		}
		for status, must := range want {
			if _, ok := op.Responses[status]; must && !ok {
				t.Errorf("%s: response %s is not documented", key, status)
			}
		}
		if _, ok := op.Responses["401"]; ok && rt.Access.Public {
			// POST /session answers 401 for a bad token in its body.
			if rt.pattern() != "POST /api/v1/session" {
				t.Errorf("%s: a public route documents 401", key)
			}
		}
	}
}

func deref(s *[]map[string][]string) any {
	if s == nil {
		return "(global)"
	}
	return *s
}

// accessName is how openapi.json's x-sluice-access spells a: public,
// authenticated, admin, read, execute or write.
func accessName(a access) string {
	switch {
	case a.Public:
		return "public"
	case a.Admin:
		return "admin"
	case a.Perm != 0:
		return a.Perm.String()
	}
	return "authenticated"
}
