package restapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// testRouter routes a few operations that answer with what they saw: the
// operation and its decoded path values.
func testRouter(t *testing.T) http.Handler {
	t.Helper()
	echo := func(op string) Handler {
		return func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Content-Type", "application/json")
			return json.NewEncoder(w).Encode(map[string]string{
				"op": op, "function": r.PathValue("function"), "alias": r.PathValue("alias"),
				"path": r.URL.EscapedPath(), "query": r.URL.RawQuery,
			})
		}
	}
	return New(Config{
		Routes: []Route{
			{Method: "GET", Path: "/2015-03-31/functions", Op: "ListFunctions", Handle: echo("ListFunctions")},
			{Method: "GET", Path: "/2015-03-31/functions/{function}", Op: "GetFunction", Handle: echo("GetFunction")},
			{Method: "GET", Path: "/2015-03-31/functions/{function}/configuration", Op: "GetFunctionConfiguration", Handle: echo("GetFunctionConfiguration")},
			{Method: "GET", Path: "/2015-03-31/functions/{function}/aliases/{alias}", Op: "GetAlias", Handle: echo("GetAlias")},
			{Method: "POST", Path: "/2015-03-31/functions/{function}/invocations", Op: "Invoke", Raw: true, Handle: echo("Invoke")},
			{Method: "DELETE", Path: "/2015-03-31/functions/{function}", Op: "DeleteFunction", Handle: func(http.ResponseWriter, *http.Request) error {
				return awserr.ResourceNotFound("Function not found: x")
			}},
			{Method: "PUT", Path: "/2015-03-31/functions/{function}", Op: "Panics", Handle: func(http.ResponseWriter, *http.Request) error {
				panic("kaboom")
			}},
		},
		NotFound: http.HandlerFunc(UnknownOperation),
	})
}

type routed struct {
	status              int
	op, function, alias string
	path, query         string
	errorType           string
	requestID           bool
}

func serve(h http.Handler, method, target string) routed {
	req := httptest.NewRequest(method, target, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var got map[string]string
	_ = json.Unmarshal(rec.Body.Bytes(), &got)
	return routed{
		status: rec.Code, op: got["op"], function: got["function"], alias: got["alias"],
		path: got["path"], query: got["query"],
		errorType: rec.Header().Get("X-Amzn-ErrorType"), requestID: rec.Header().Get("X-Amzn-RequestId") != "",
	}
}

// TestRouterPathValues: a wildcard is one segment of the path as sent,
// percent-decoded once — an ARN the SDK escapes, an unescaped one, a name
// with an escaped "/" — and empty and dot segments are values, not
// redirects.
func TestRouterPathValues(t *testing.T) {
	t.Parallel()
	h := testRouter(t)
	arn := "arn:aws:lambda:us-east-1:000000000000:function:fn"
	tests := []struct {
		target       string
		op, function string
	}{
		{"/2015-03-31/functions/fn", "GetFunction", "fn"},
		{"/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afn", "GetFunction", arn},
		{"/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afn%3A%24LATEST/configuration", "GetFunctionConfiguration", arn + ":$LATEST"},
		{"/2015-03-31/functions/" + arn + ":live/configuration", "GetFunctionConfiguration", arn + ":live"},
		{"/2015-03-31/functions/fn%3A7", "GetFunction", "fn:7"},
		{"/2015-03-31/functions/a%2Fb/configuration", "GetFunctionConfiguration", "a/b"},
		{"/2015-03-31/functions/%252F", "GetFunction", "%2F"},
		{"/2015-03-31/functions//configuration", "GetFunctionConfiguration", ""},
		{"/2015-03-31/functions/./configuration", "GetFunctionConfiguration", "."},
		{"/2015-03-31/functions/../configuration", "GetFunctionConfiguration", ".."},
		{"/2015-03-31/functions/%2E%2E/configuration", "GetFunctionConfiguration", ".."},
		{"/2015-03-31/functions/fn/", "GetFunction", "fn"},
		{"/2015-03-31/functions/", "ListFunctions", ""},
		{"/2015-03-31/functions/fn/invocations", "Invoke", "fn"},
	}
	for _, tt := range tests {
		method := "GET"
		if tt.op == "Invoke" {
			method = "POST"
		}
		got := serve(h, method, tt.target)
		if got.status != 200 || got.op != tt.op || got.function != tt.function {
			t.Errorf("%s %s: status %d, op %q, function %q; want 200, %q, %q", method, tt.target, got.status, got.op, got.function, tt.op, tt.function)
		}
	}
	got := serve(h, "GET", "/2015-03-31/functions/f%6E/aliases/l%69ve?Qualifier=%24LATEST")
	if got.function != "fn" || got.alias != "live" || got.path != "/2015-03-31/functions/f%6E/aliases/l%69ve" || got.query != "Qualifier=%24LATEST" {
		t.Errorf("GetAlias saw %+v; want function fn, alias live and the request's own path and query", got)
	}
}

// TestRouterUnknown: a literal segment matches only as sent, the method
// must be the route's own (GET does not serve HEAD), and what matches no
// route gets NotFound with the request's own path — never ServeMux's
// plain-text 404 or 405, nor a redirect.
func TestRouterUnknown(t *testing.T) {
	t.Parallel()
	h := testRouter(t)
	tests := []struct{ method, target string }{
		{"HEAD", "/2015-03-31/functions/fn"},
		{"PATCH", "/2015-03-31/functions/fn"},
		{"POST", "/2015-03-31/functions/fn"},
		{"GET", "/2015-03-31/%66unctions/fn"},
		{"GET", "/2015-03-31//functions/fn"},
		{"GET", "/2015-03-31/functions/fn/./configuration"},
		{"GET", "/2015-03-31/functions/fn/configuration/more"},
		{"GET", "/2015-03-31/functions/fn/invocations"},
		{"GET", "/2099-01-01/functions"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.target, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 404 || rec.Header().Get("X-Amzn-ErrorType") != awserr.TypeUnknownOperation || rec.Header().Get("X-Amzn-RequestId") != "" {
			t.Errorf("%s %s: %d %v; want 404 UnknownOperationException without a request ID", tt.method, tt.target, rec.Code, rec.Header())
			continue
		}
		if tt.method == "HEAD" {
			continue
		}
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["message"] != "The local Lambda does not implement "+tt.method+" "+tt.target+"." {
			t.Errorf("%s %s: body %s (%v)", tt.method, tt.target, rec.Body.Bytes(), err)
		}
	}
	// Without a NotFound handler: net/http's 404.
	plain := New(Config{Routes: []Route{{Method: "GET", Path: "/_x/{name}", Handle: func(http.ResponseWriter, *http.Request) error { return nil }}}})
	for _, method := range []string{"HEAD", "POST"} {
		rec := httptest.NewRecorder()
		plain.ServeHTTP(rec, httptest.NewRequest(method, "/_x/y", nil))
		if rec.Code != 404 {
			t.Errorf("%s with no NotFound handler: %d; want 404", method, rec.Code)
		}
	}
}

// TestRouterFrame: an operation gets a request ID and its error rendered
// as its AWS envelope, a panic becomes a ServiceException; a Raw one
// writes its own response.
func TestRouterFrame(t *testing.T) {
	t.Parallel()
	h := testRouter(t)
	if got := serve(h, "GET", "/2015-03-31/functions/fn"); !got.requestID {
		t.Errorf("GetFunction: no X-Amzn-RequestId")
	}
	if got := serve(h, "POST", "/2015-03-31/functions/fn/invocations"); got.requestID || got.op != "Invoke" {
		t.Errorf("Invoke (raw): %+v; want its own response, without a request ID", got)
	}
	if got := serve(h, "DELETE", "/2015-03-31/functions/fn"); got.status != 404 || got.errorType != awserr.TypeResourceNotFound || !got.requestID {
		t.Errorf("an *awserr.Error: %+v", got)
	}
	req := httptest.NewRequest("PUT", "/2015-03-31/functions/fn", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 500 || rec.Header().Get("X-Amzn-ErrorType") != awserr.TypeService || !strings.Contains(rec.Body.String(), "Panics: internal error: kaboom") {
		t.Errorf("a panic: %d %s", rec.Code, rec.Body.String())
	}
}

// TestUnsupportedFeatures: what the local Lambda lacks is named, not
// unknown.
func TestUnsupportedFeatures(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"/2018-10-31/layers": "Layers are",
		"/2019-09-30/functions/fn/provisioned-concurrency":        "Provisioned concurrency is",
		"/2021-10-31/functions/fn/url":                            "Function URLs are",
		"/2014-11-13/functions/fn/invoke-async/":                  "InvokeAsync",
		"/2021-11-15/functions/fn/response-streaming-invocations": "InvokeWithResponseStream is",
	}
	for path, want := range tests {
		err := unknownOperation("GET", path)
		var ae *awserr.Error
		if !errors.As(err, &ae) || ae.Type != awserr.TypeInvalidParameterValue || !strings.Contains(ae.Message, want) {
			t.Errorf("%s: %v; want InvalidParameterValueException naming %q", path, err, want)
		}
	}
}
