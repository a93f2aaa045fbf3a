package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/httpapi"
)

// openapi.json checked against real traffic: setup serves the API through
// checkOpenAPI, so every request an httpapi test makes, and every answer,
// including each event of an event stream, is held against the document. TestOpenAPICoversRoutes checks the
// document against the route table; this checks it against what the
// handlers really accept and send.

// openAPI is the loaded document and a router over its operations.
type openAPI struct {
	doc    *openapi3.T
	router routers.Router
}

// loadOpenAPI loads and validates openapi.json once for all tests.
var loadOpenAPI = sync.OnceValues(func() (*openAPI, error) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument)
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	// The document's server is sluice serve's default address; the tests'
	// servers listen elsewhere, so match on the path alone.
	doc.Servers = nil
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route openapi.json: %w", err)
	}
	return &openAPI{doc: doc, router: r}, nil
})

// checkOpenAPI wraps the API handler so that a request or response under
// /api/ that does not match openapi.json fails t.
func checkOpenAPI(t *testing.T, next http.Handler) http.Handler {
	t.Helper()
	api, err := loadOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	return api.check(next, t.Errorf)
}

// check wraps next and calls fail for every exchange that does not match
// the document. A request the document rejects must be answered with an
// error status; a response must have a documented status, content type and
// body. An event stream must have a documented status and content type,
// and each event it sends must match the Event schema. Paths outside /api/
// belong to the console and pass through unchecked.
func (api *openAPI) check(next http.Handler, fail func(format string, args ...any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			fail("openapi check: read the body of %s %s: %v", r.Method, r.URL, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ex := &exchange{api: api, req: r.Clone(context.WithoutCancel(r.Context())), reqBody: body}
		cw := &checkedWriter{ResponseWriter: w, ex: ex, fail: fail}
		next.ServeHTTP(cw, r)
		cw.finish()
	})
}

// exchange is one request and its response as the check sees them.
type exchange struct {
	api     *openAPI
	req     *http.Request // a copy; the handler may change the original
	reqBody []byte
}

func (ex *exchange) String() string { return ex.req.Method + " " + ex.req.URL.RequestURI() }

// check holds the exchange against the document. The body of an event
// stream is checked event by event, by checkEvent.
func (ex *exchange) check(status int, header http.Header, body []byte, stream bool) error {
	ex.req.Body = io.NopCloser(bytes.NewReader(ex.reqBody))
	route, params, err := ex.api.router.FindRoute(ex.req)
	if err != nil {
		return ex.checkNoRoute(err, status, header, body)
	}
	opts := &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		SkipSettingDefaults:   true,
		AuthenticationFunc:    carriesCredential,
	}
	in := &openapi3filter.RequestValidationInput{Request: ex.req, PathParams: params, Route: route, Options: opts}
	ctx := context.Background()
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && status < 400 {
		return fmt.Errorf("the server answered %d to a request the document rejects: %w", status, err)
	}
	if stream {
		return checkStreamResponse(route, status, header)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: opts}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("response %d: %w", status, err)
	}
	return nil
}

// carriesCredential checks that a request carries what a security scheme
// of the document names (whether the server accepts it is the server's
// business): so a route the document says needs a credential must not
// answer a request without one with success.
func carriesCredential(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r, scheme := in.RequestValidationInput.Request, in.SecurityScheme
	switch {
	case scheme.Type == "http" && scheme.Scheme == "bearer":
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			return nil
		}
	case scheme.Type == "apiKey" && scheme.In == "cookie":
		if _, err := r.Cookie(scheme.Name); err == nil {
			return nil
		}
	case scheme.Type == "apiKey" && scheme.In == "header":
		if r.Header.Get(scheme.Name) != "" {
			return nil
		}
	default:
		return fmt.Errorf("the check does not know the security scheme %s", in.SecuritySchemeName)
	}
	return fmt.Errorf("no credential of the security scheme %s", in.SecuritySchemeName)
}

// checkNoRoute checks the answer to a request the document has no
// operation for: 404 for an unknown path, 405 for a known path with
// another method, with the document's ErrorBody.
func (ex *exchange) checkNoRoute(routeErr error, status int, header http.Header, body []byte) error {
	want := http.StatusNotFound
	if errors.Is(routeErr, routers.ErrMethodNotAllowed) {
		want = http.StatusMethodNotAllowed
	}
	if status != want {
		return fmt.Errorf("the document has no such operation (%v), yet the server answered %d, not %d", routeErr, status, want)
	}
	if ct := header.Get("Content-Type"); !isMediaType(ct, "application/json") {
		return fmt.Errorf("the %d for a path with no operation has Content-Type %q, not application/json", status, ct)
	}
	schema := ex.api.doc.Components.Schemas["ErrorBody"]
	if schema == nil {
		return errors.New("the document has no ErrorBody schema")
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("the %d body is not JSON: %w", status, err)
	}
	if err := schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("the %d body does not match ErrorBody: %w", status, err)
	}
	return nil
}

// checkStreamResponse checks an event stream's status and content type
// against the operation; checkEvent checks its events.
func checkStreamResponse(route *routers.Route, status int, header http.Header) error {
	resp := route.Operation.Responses.Status(status)
	if resp == nil || resp.Value == nil {
		return fmt.Errorf("status %d is not documented", status)
	}
	ct := header.Get("Content-Type")
	if resp.Value.Content.Get(ct) == nil {
		return fmt.Errorf("the %d response has Content-Type %q, which the document does not list", status, ct)
	}
	return nil
}

// checkEvent holds one event of a stream, the JSON of a data: line,
// against the document's Event schema.
func (ex *exchange) checkEvent(data []byte) error {
	schema := ex.api.doc.Components.Schemas["Event"]
	if schema == nil {
		return errors.New("the document has no Event schema")
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("the event %s is not JSON: %w", data, err)
	}
	if err := schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("the event %s does not match the Event schema: %w", data, err)
	}
	return nil
}

// isMediaType reports whether the Content-Type value ct is of media type
// want, parameters aside.
func isMediaType(ct, want string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == want
}

// checkedWriter holds back a response until the handler is done so that
// the whole of it can be checked, then sends it on. An event stream is
// checked when its header is written, and each event as it is written; it
// streams through unbuffered.
type checkedWriter struct {
	http.ResponseWriter
	ex        *exchange
	fail      func(format string, args ...any)
	status    int
	body      bytes.Buffer
	streaming bool
	line      []byte // the unfinished last line of an event stream
}

func (w *checkedWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if isMediaType(w.Header().Get("Content-Type"), "text/event-stream") {
		w.streaming = true
		w.report(w.ex.check(code, w.Header(), nil, true))
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *checkedWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.streaming {
		w.checkEvents(b)
		return w.ResponseWriter.Write(b)
	}
	return w.body.Write(b)
}

// checkEvents checks the events of an event stream's data: lines as the
// lines are completed.
func (w *checkedWriter) checkEvents(b []byte) {
	w.line = append(w.line, b...)
	for {
		line, rest, ok := bytes.Cut(w.line, []byte("\n"))
		if !ok {
			return
		}
		if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			w.report(w.ex.checkEvent(data))
		}
		w.line = append(w.line[:0], rest...)
	}
}

// FlushError flushes an event stream; a held-back response is sent whole
// by finish.
func (w *checkedWriter) FlushError() error {
	if w.streaming {
		return http.NewResponseController(w.ResponseWriter).Flush()
	}
	return nil
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (w *checkedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish checks a held-back response and sends it on.
func (w *checkedWriter) finish() {
	if w.streaming {
		return
	}
	w.WriteHeader(http.StatusOK)
	w.report(w.ex.check(w.status, w.Header(), w.body.Bytes(), false))
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(w.body.Bytes())
}

func (w *checkedWriter) report(err error) {
	if err != nil {
		w.fail("openapi.json does not match %s: %v", w.ex, err)
	}
}

// TestOpenAPICheck makes sure the check fails a test when traffic and
// document disagree, and only then.
func TestOpenAPICheck(t *testing.T) {
	t.Parallel()
	api, err := loadOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	answer := func(status int, contentType, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
	}
	const errBody = `{"error":{"code":"unsupported_media_type","message":"no"}}`
	const stageEvent = `{"id":7,"executionId":"e1","stageId":"s1","type":"stage.status","data":{"status":"RUNNING","refId":"1","name":"Wait"},"time":1}`
	tests := []struct {
		name         string
		method, path string
		contentType  string // of the request
		body         string // of the request
		handler      http.HandlerFunc
		wantFailure  string // "" when the exchange matches
	}{
		{"documented answer", "GET", "/api/v1/version", "", "",
			answer(200, "application/json", `{"version":"v1","goVersion":"go1.26"}`), ""},
		{"body off the schema", "GET", "/api/v1/version", "", "",
			answer(200, "application/json", `{"version":1}`), "doesn't match schema"},
		{"undocumented status", "GET", "/api/v1/version", "", "",
			answer(418, "application/json", errBody), "status is not supported"},
		{"accepts what the document rejects", "POST", "/api/v1/pipelines/validate", "application/xml", "<p/>",
			answer(200, "application/json", `{"valid":true}`), "a request the document rejects"},
		{"rejects what the document rejects", "POST", "/api/v1/pipelines/validate", "application/xml", "<p/>",
			answer(415, "application/json", errBody), ""},
		{"answers a path the document lacks", "GET", "/api/v1/nope", "", "",
			answer(200, "application/json", `{}`), "no such operation"},
		{"404 for a path the document lacks", "GET", "/api/v1/nope", "", "",
			answer(404, "application/json", `{"error":{"code":"not_found","message":"no"}}`), ""},
		{"405 without an error body", "POST", "/api/v1/health", "", "",
			answer(405, "application/json", `{}`), "does not match ErrorBody"},
		{"event stream", "GET", "/api/v1/events", "", "",
			answer(200, "text/event-stream", "retry: 2000\n\n"), ""},
		{"event on the schema", "GET", "/api/v1/events", "", "",
			answer(200, "text/event-stream", "retry: 2000\n\nid: 7\ndata: "+stageEvent+"\n\n"), ""},
		{"event off the schema", "GET", "/api/v1/events", "", "",
			answer(200, "text/event-stream", "id: 7\ndata: "+strings.Replace(stageEvent, `"refId":"1",`, "", 1)+"\n\n"), "does not match the Event schema"},
		{"event of an undocumented type", "GET", "/api/v1/events", "", "",
			answer(200, "text/event-stream", "id: 7\ndata: "+strings.Replace(stageEvent, "stage.status", "stage.exploded", 1)+"\n\n"), "does not match the Event schema"},
		{"event stream that is not one", "GET", "/api/v1/events", "", "",
			answer(200, "application/json", `{}`), "Content-Type"},
		{"success without a credential", "GET", "/api/v1/version", "", "",
			answer(200, "application/json", `{"version":"v1","goVersion":"go1.26"}`), "a request the document rejects"},
		{"401 without a credential", "GET", "/api/v1/version", "", "",
			answer(401, "application/json", `{"error":{"code":"unauthenticated","message":"no"}}`), ""},
		{"public route without a credential", "GET", "/api/v1/health", "", "",
			answer(200, "application/json", `{"status":"ok","version":"v1","database":"sqlite"}`), ""},
		{"console", "GET", "/pipelines", "", "",
			answer(200, "text/html", "<html>"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var failures []string
			fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if !strings.Contains(tt.name, "without a credential") {
				req.Header.Set("Authorization", "Bearer sluice_test")
			}
			api.check(tt.handler, fail).ServeHTTP(httptest.NewRecorder(), req)
			switch {
			case tt.wantFailure == "" && len(failures) > 0:
				t.Errorf("failures %q, want none", failures)
			case tt.wantFailure != "" && (len(failures) != 1 || !strings.Contains(failures[0], tt.wantFailure)):
				t.Errorf("failures %q, want one about %q", failures, tt.wantFailure)
			}
		})
	}
}

// TestOpenAPIDescribesEventPayloads holds each event type's payload struct
// in apitype against the document: the Event schema has a variant for the
// type whose data schema lists the struct's JSON keys, and requires those
// that are always sent (not omitempty). The event types of the document
// are those of this table.
func TestOpenAPIDescribesEventPayloads(t *testing.T) {
	t.Parallel()
	payloads := map[apitype.EventType]any{
		apitype.EventExecutionCreated:  apitype.ExecutionCreatedData{},
		apitype.EventExecutionStatus:   apitype.ExecutionStatusData{},
		apitype.EventExecutionRollback: apitype.ExecutionRollbackData{},
		apitype.EventStageStatus:       apitype.StageStatusData{},
		apitype.EventStageJudged:       apitype.StageJudgedData{},
		apitype.EventStageRestarted:    apitype.StageRestartedData{},
		apitype.EventTaskStatus:        apitype.TaskStatusData{},
		apitype.EventStageProgress:     apitype.StageProgressData{},
	}
	api, err := loadOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	event := api.doc.Components.Schemas["Event"].Value
	var documented []string
	for _, v := range api.doc.Components.Schemas["EventType"].Value.Enum {
		documented = append(documented, fmt.Sprint(v))
	}
	var inGo []string
	for typ := range payloads {
		inGo = append(inGo, string(typ))
	}
	slices.Sort(documented)
	slices.Sort(inGo)
	if !slices.Equal(documented, inGo) {
		t.Errorf("openapi.json's EventType lists %v; apitype has %v", documented, inGo)
	}
	for typ, payload := range payloads {
		var data *openapi3.Schema
		for _, v := range event.OneOf {
			if tp := v.Value.Properties["type"]; tp != nil && tp.Value.Const == string(typ) {
				data = v.Value.Properties["data"].Value
			}
		}
		if data == nil {
			t.Errorf("openapi.json's Event has no variant for %s", typ)
			continue
		}
		var keys, required []string
		rt := reflect.TypeOf(payload)
		for i := range rt.NumField() {
			name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			keys = append(keys, name)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
		docKeys := slices.Sorted(maps.Keys(data.Properties))
		docRequired := slices.Sorted(slices.Values(data.Required))
		slices.Sort(keys)
		slices.Sort(required)
		if !slices.Equal(docKeys, keys) {
			t.Errorf("%s: openapi.json describes data keys %v; %s has %v", typ, docKeys, rt.Name(), keys)
		}
		if !slices.Equal(docRequired, required) {
			t.Errorf("%s: openapi.json requires data keys %v; %s always sends %v", typ, docRequired, rt.Name(), required)
		}
	}
}
