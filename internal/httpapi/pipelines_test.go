package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
)

// testBundle is what a test may need besides the client.
type testBundle struct {
	server *httptest.Server
	store  store.Store
	logs   *syncBuffer
	// auth is the server's Authenticator; token is the secret of the
	// admin token "alice" (acting as token:alice) the client sends.
	auth  *auth.Authenticator
	token string
}

// testUser is whom the client of setup acts as: every record it makes
// carries this name.
const testUser = "token:alice"

// sign gives req the admin token.
func (b *testBundle) sign(req *http.Request) {
	req.Header.Set("Authorization", "Bearer "+b.token)
}

// do sends a raw request with the admin token; a body is sent as
// contentType.
func (b *testBundle) do(t *testing.T, method, path, contentType, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, b.server.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	b.sign(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openStore opens a fresh SQLite store in the test's temp directory.
func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// setup serves the API on a real SQLite store and returns a client acting
// as testUser, an admin. edit may change the config (its Store and Auth
// are already set).
func setup(t *testing.T, edit func(*httpapi.Config)) (*apiclient.Client, *testBundle) {
	t.Helper()
	logs := &syncBuffer{}
	st := openStore(t)
	a, token := sluicetest.Auth(t, st, "alice", auth.RoleAdmin)
	cfg := httpapi.Config{
		Store:   st,
		Auth:    a,
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Version: "v0.0.0-test",
		Metrics: prometheus.NewRegistry(),
	}
	if edit != nil {
		edit(&cfg)
	}
	srv := httptest.NewServer(checkOpenAPI(t, httpapi.New(cfg)))
	t.Cleanup(srv.Close)
	c, err := apiclient.New(srv.URL, apiclient.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return c, &testBundle{server: srv, store: cfg.Store, logs: logs, auth: cfg.Auth, token: token}
}

// apiError returns err as *apiclient.Error with the wanted status, or fails.
func apiError(t *testing.T, err error, wantStatus int, wantCode string) *apiclient.Error {
	t.Helper()
	var e *apiclient.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *apiclient.Error with status %d", err, err, wantStatus)
	}
	if e.Status != wantStatus || e.Code != wantCode {
		t.Fatalf("error = %d %s %q, want %d %s", e.Status, e.Code, e.Message, wantStatus, wantCode)
	}
	return e
}

// detailPaths returns the paths of an error's details.
func detailPaths(e *apiclient.Error) []string {
	var paths []string
	for _, d := range e.Details {
		paths = append(paths, d.Path)
	}
	return paths
}

func containsAll(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s = %q, missing %q", what, got, w)
		}
	}
}

const waitPipelineJSON = `{
  "application": "demo",
  "name": "hello",
  "stages": [
    {"refId": "1", "type": "wait", "name": "Pause", "waitTime": 1},
    {"refId": "2", "type": "wait", "requisiteStageRefIds": ["1"], "waitTime": 2}
  ],
  "somethingSpinnakerHas": {"kept": true}
}`

const waitPipelineYAML = `
application: demo
name: hello
stages:
  - refId: "1"
    type: wait
    name: Pause
    waitTime: 5
`

// document decodes a pipeline's document.
func document(t *testing.T, p *apitype.Pipeline) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(p.Document, &doc); err != nil {
		t.Fatalf("document %s: %v", p.Document, err)
	}
	return doc
}

func TestPutPipelineSavesRevisions(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := context.Background()

	first, err := c.PutPipeline(ctx, "demo", "hello", []byte(waitPipelineJSON), "application/json")
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if first.Revision != 1 || first.UpdatedBy != testUser || first.ID == "" || first.UpdatedAt == 0 {
		t.Errorf("first save = %+v, want revision 1 by %s with an id and a time", first, testUser)
	}
	doc := document(t, first)
	if doc["id"] != first.ID {
		t.Errorf("document id = %v, want the pipeline's id %q", doc["id"], first.ID)
	}
	if _, ok := doc["somethingSpinnakerHas"]; !ok {
		t.Errorf("unknown key was dropped: %s", first.Document)
	}

	second, err := c.PutPipeline(ctx, "demo", "hello", []byte(waitPipelineYAML), "application/yaml")
	if err != nil {
		t.Fatalf("put YAML: %v", err)
	}
	if second.Revision != 2 || second.ID != first.ID {
		t.Errorf("second save = revision %d id %q, want revision 2 with id %q", second.Revision, second.ID, first.ID)
	}

	got, err := c.GetPipeline(ctx, "demo", "hello")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Revision != 2 || len(document(t, got)["stages"].([]any)) != 1 {
		t.Errorf("get = revision %d %s, want revision 2 with one stage", got.Revision, got.Document)
	}

	revs, err := c.ListRevisions(ctx, "demo", "hello")
	if err != nil {
		t.Fatalf("revisions: %v", err)
	}
	if len(revs) != 2 || revs[0].Revision != 2 || revs[1].Revision != 1 || revs[1].CreatedBy != testUser {
		t.Errorf("revisions = %+v, want 2 then 1, by %s", revs, testUser)
	}

	old, err := c.GetRevision(ctx, "demo", "hello", 1)
	if err != nil {
		t.Fatalf("get revision 1: %v", err)
	}
	if len(document(t, old)["stages"].([]any)) != 2 {
		t.Errorf("revision 1 = %s, want the two-stage document", old.Document)
	}
}

func TestPutPipelineWithoutContentTypeSniffsYAML(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	p, err := c.PutPipeline(context.Background(), "demo", "hello", []byte(waitPipelineYAML), "")
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if p.Revision != 1 {
		t.Errorf("revision = %d, want 1", p.Revision)
	}
}

func TestPutPipelineFillsApplicationAndName(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	p, err := c.PutPipeline(context.Background(), "shop", "release", []byte(`{"stages":[{"refId":"1","type":"wait","waitTime":1}]}`), "application/json")
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	doc := document(t, p)
	if doc["application"] != "shop" || doc["name"] != "release" || p.Application != "shop" || p.Name != "release" {
		t.Errorf("saved %+v with document %s, want application shop and name release filled in", p, p.Document)
	}
}

func TestPutPipelineRejects(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := context.Background()
	tests := []struct {
		name        string
		doc         string
		contentType string
		wantStatus  int
		wantCode    string
		wantPaths   []string
		wantMessage string
	}{
		{
			name:       "application differs from the URL",
			doc:        `{"application":"other","name":"hello","stages":[]}`,
			wantStatus: 400, wantCode: "invalid_pipeline",
			wantPaths: []string{"application"},
		},
		{
			name:       "name differs from the URL",
			doc:        `{"application":"demo","name":"bye","stages":[]}`,
			wantStatus: 400, wantCode: "invalid_pipeline",
			wantPaths: []string{"name"},
		},
		{
			name: "every problem at once",
			doc: `{"application":"demo","name":"hello","stages":[
				{"refId":"1","type":"wait"},
				{"refId":"1","type":"wait"},
				{"refId":"3","type":"wait","requisiteStageRefIds":["9"]}]}`,
			wantStatus: 400, wantCode: "invalid_pipeline",
			wantPaths: []string{"stages[1].refId", "stages[2].requisiteStageRefIds[0]"},
		},
		{
			name:       "syntax error",
			doc:        "{\"application\": \"demo\",\n \"stages\": [}",
			wantStatus: 400, wantCode: "invalid_pipeline",
			wantMessage: "line 2",
		},
		{
			name:       "not an object",
			doc:        `[1, 2]`,
			wantStatus: 400, wantCode: "invalid_pipeline",
		},
		{
			name:       "empty body",
			doc:        ``,
			wantStatus: 400, wantCode: "invalid_pipeline",
		},
		{
			name:        "unsupported media type",
			doc:         `<pipeline/>`,
			contentType: "application/xml",
			wantStatus:  415, wantCode: "unsupported_media_type",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutPipeline(ctx, "demo", "hello", []byte(tt.doc), tt.contentType)
			e := apiError(t, err, tt.wantStatus, tt.wantCode)
			containsAll(t, "paths", detailPaths(e), tt.wantPaths...)
			if !strings.Contains(e.Message, tt.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", e.Message, tt.wantMessage)
			}
		})
	}
	if _, err := c.GetPipeline(ctx, "demo", "hello"); !apiclient.IsNotFound(err) {
		t.Errorf("after rejected saves, get = %v, want 404", err)
	}
}

func TestPutPipelineIDMustMatch(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := context.Background()
	p, err := c.PutPipeline(ctx, "demo", "hello", []byte(waitPipelineJSON), "")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(waitPipelineJSON, `"name": "hello",`, `"name": "hello", "id": "someone-else",`, 1)
	_, err = c.PutPipeline(ctx, "demo", "hello", []byte(doc), "")
	e := apiError(t, err, 400, "invalid_pipeline")
	containsAll(t, "paths", detailPaths(e), "id")
	if !strings.Contains(e.Error(), p.ID) {
		t.Errorf("error %q does not name the saved id %q", e.Error(), p.ID)
	}

	// Keeping the saved id is fine.
	doc = strings.Replace(waitPipelineJSON, `"name": "hello",`, `"name": "hello", "id": "`+p.ID+`",`, 1)
	if _, err := c.PutPipeline(ctx, "demo", "hello", []byte(doc), ""); err != nil {
		t.Errorf("put with the saved id: %v", err)
	}
}

func TestPutPipelineTooLarge(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, func(cfg *httpapi.Config) { cfg.MaxDocumentBytes = 100 })
	_, err := c.PutPipeline(context.Background(), "demo", "hello", []byte(waitPipelineJSON), "")
	e := apiError(t, err, 413, "request_too_large")
	if !strings.Contains(e.Message, "100 bytes") {
		t.Errorf("message = %q, want the limit", e.Message)
	}
}

// TestPipelineRecordsUser checks that a revision records the
// authenticated principal, and that X-Sluice-User, which once named the
// user, changes nothing.
func TestPipelineRecordsUser(t *testing.T) {
	t.Parallel()
	_, b := setup(t, nil)
	req, err := http.NewRequest("PUT", b.server.URL+"/api/v1/pipelines/demo/hello", strings.NewReader(waitPipelineJSON))
	if err != nil {
		t.Fatal(err)
	}
	b.sign(req)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Sluice-User", "admin@example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p apitype.Pipeline
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != 200 {
		t.Fatalf("put = %d (%v), want 200", resp.StatusCode, err)
	}
	if p.UpdatedBy != testUser {
		t.Errorf("updatedBy = %q, want the token's principal %s", p.UpdatedBy, testUser)
	}
	entries, err := b.store.AuditList(t.Context(), &store.AuditListParams{Action: "pipeline.save", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].User != testUser {
		t.Errorf("audit entries of the save = %+v, want one by %s", entries, testUser)
	}

	// Without a credential, the header gets nobody in.
	req, err = http.NewRequest("PUT", b.server.URL+"/api/v1/pipelines/demo/hello", strings.NewReader(waitPipelineJSON))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Sluice-User", "admin@example.com")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readErrorBody(t, resp); resp.StatusCode != 401 || body.Error.Code != "unauthenticated" {
		t.Errorf("put with X-Sluice-User and no credential = %d %+v, want 401", resp.StatusCode, body.Error)
	}
}

func TestListAndDeletePipelines(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := context.Background()
	for _, ref := range [][2]string{{"demo", "b"}, {"demo", "a"}, {"shop", "release"}} {
		if _, err := c.PutPipeline(ctx, ref[0], ref[1], []byte(`{"stages":[]}`), ""); err != nil {
			t.Fatalf("put %v: %v", ref, err)
		}
	}
	names := func(app string) []string {
		t.Helper()
		ps, err := c.ListPipelines(ctx, app)
		if err != nil {
			t.Fatalf("list %q: %v", app, err)
		}
		var out []string
		for _, p := range ps {
			if p.Document != nil {
				t.Errorf("list entry %s/%s has a document", p.Application, p.Name)
			}
			out = append(out, p.Application+"/"+p.Name)
		}
		return out
	}
	if got, want := strings.Join(names(""), " "), "demo/a demo/b shop/release"; got != want {
		t.Errorf("list all = %q, want %q", got, want)
	}
	if got, want := strings.Join(names("demo"), " "), "demo/a demo/b"; got != want {
		t.Errorf("list demo = %q, want %q", got, want)
	}

	if err := c.DeletePipeline(ctx, "demo", "a"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got, want := strings.Join(names("demo"), " "), "demo/b"; got != want {
		t.Errorf("after delete, list demo = %q, want %q", got, want)
	}
	_, err := c.GetPipeline(ctx, "demo", "a")
	e := apiError(t, err, 404, "not_found")
	if !strings.Contains(e.Message, "demo/a") {
		t.Errorf("404 message = %q, want it to name demo/a", e.Message)
	}
	apiError(t, c.DeletePipeline(ctx, "demo", "a"), 404, "not_found")

	// Saving again revives it with the next revision.
	p, err := c.PutPipeline(ctx, "demo", "a", []byte(`{"stages":[]}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Revision != 2 {
		t.Errorf("revived revision = %d, want 2", p.Revision)
	}
}

func TestGetRevisionErrors(t *testing.T) {
	t.Parallel()
	c, b := setup(t, nil)
	ctx := context.Background()
	if _, err := c.PutPipeline(ctx, "demo", "hello", []byte(waitPipelineJSON), ""); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetRevision(ctx, "demo", "hello", 7)
	e := apiError(t, err, 404, "not_found")
	if !strings.Contains(e.Message, "no revision 7") {
		t.Errorf("message = %q", e.Message)
	}
	_, err = c.GetRevision(ctx, "demo", "nope", 1)
	apiError(t, err, 404, "not_found")

	resp := b.do(t, "GET", "/api/v1/pipelines/demo/hello/revisions/latest", "", "")
	body := readErrorBody(t, resp)
	if resp.StatusCode != 400 || body.Error.Code != "bad_request" || !strings.Contains(body.Error.Message, `"latest"`) {
		t.Errorf("GET revisions/latest = %d %+v, want 400 naming the bad revision", resp.StatusCode, body.Error)
	}
}

func TestValidatePipeline(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := context.Background()
	res, err := c.ValidatePipeline(ctx, []byte(waitPipelineYAML), "application/yaml")
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	if !res.Valid || !strings.Contains(res.Summary, "demo/hello") {
		t.Errorf("result = %+v, want valid with a summary naming demo/hello", res)
	}
	_, err = c.ValidatePipeline(ctx, []byte(`{"application":"demo","name":"x","stages":[{"type":"wait"},{"refId":"2","type":"wait","requisiteStageRefIds":["2"]}]}`), "")
	e := apiError(t, err, 400, "invalid_pipeline")
	if len(e.Details) < 2 {
		t.Errorf("details = %+v, want a problem per fault", e.Details)
	}
	// Nothing was saved.
	if _, err := c.GetPipeline(ctx, "demo", "hello"); !apiclient.IsNotFound(err) {
		t.Errorf("validate saved the pipeline: %v", err)
	}
}

// readErrorBody decodes an error response.
func readErrorBody(t *testing.T, resp *http.Response) apitype.ErrorBody {
	t.Helper()
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var body apitype.ErrorBody
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatalf("%d response body %q is not an error body: %v", resp.StatusCode, data, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return body
}

// TestPipelineWarnings: validate and save answer with the document's
// warnings, each at its path, and still accept it; a read has none.
func TestPipelineWarnings(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, func(cfg *httpapi.Config) {
		cfg.Validate = pipeline.ValidateOptions{StageTypes: stage.NewRegistry(wait.Type{})}
	})
	ctx := context.Background()
	doc := []byte(`{"application": "demo", "name": "hello", "limitConcurent": false,
	  "stages": [{"refId": "1", "type": "wait", "waitTime": 1, "waitTiem": 2,
	    "notifications": [{"type": "slack", "address": "#deploys", "when": ["stage.failed"]}]}]}`)
	want := []apitype.ErrorDetail{
		{Path: "limitConcurent", Message: "unknown field; did you mean limitConcurrent?"},
		{Path: "stages[0].sendNotifications", Message: "the stage's notifications are not sent: as in Spinnaker, set sendNotifications to true to send them"},
		{Path: "stages[0].waitTiem", Message: "unknown field; did you mean waitTime?"},
	}

	res, err := c.ValidatePipeline(ctx, doc, "")
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	if !res.Valid || !slices.Equal(res.Warnings, want) {
		t.Errorf("validate = %+v, want valid with warnings %+v", res, want)
	}

	saved, err := c.PutPipeline(ctx, "demo", "hello", doc, "")
	if err != nil {
		t.Fatalf("save: %v", err)
	}
	if saved.Revision != 1 || !slices.Equal(saved.Warnings, want) {
		t.Errorf("save = revision %d, warnings %+v; want revision 1 with warnings %+v", saved.Revision, saved.Warnings, want)
	}
	got, err := c.GetPipeline(ctx, "demo", "hello")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if len(got.Warnings) > 0 {
		t.Errorf("get has warnings %+v, want none", got.Warnings)
	}

	clean, err := c.ValidatePipeline(ctx, []byte(`{"application":"demo","name":"x","stages":[{"refId":"1","type":"wait","waitTime":1}]}`), "")
	if err != nil || clean.Warnings == nil || len(clean.Warnings) != 0 {
		t.Errorf("validate of a clean document = %+v, %v; want an empty warnings list", clean, err)
	}
}
