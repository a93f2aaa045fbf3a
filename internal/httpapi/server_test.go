package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

func TestHealthAndVersion(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, func(cfg *httpapi.Config) { cfg.LocalLambdaURL = "http://127.0.0.1:9001" })
	ctx := context.Background()
	h, err := c.Health(ctx)
	if err != nil {
		t.Fatalf("health: %v", err)
	}
	want := apitype.Health{Status: "ok", Version: "v0.0.0-test", Database: "sqlite", LocalLambdaURL: "http://127.0.0.1:9001"}
	if *h != want {
		t.Errorf("health = %+v, want %+v", *h, want)
	}
	v, err := c.Version(ctx)
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	if v.Version != "v0.0.0-test" || !strings.HasPrefix(v.GoVersion, "go") {
		t.Errorf("version = %+v", v)
	}
}

func TestOpenAPIDocumentIsServed(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	raw, err := c.OpenAPI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || len(doc.Paths) == 0 {
		t.Errorf("openapi = %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
}

func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	_, b := setup(t, nil)
	tests := []struct {
		method, path string
		wantStatus   int
		wantCode     string
		wantAllow    string
	}{
		{"GET", "/api/v1/nope", 404, "not_found", ""},
		{"GET", "/", 404, "not_found", ""},
		{"POST", "/api/v1/health", 405, "method_not_allowed", "GET"},
		{"DELETE", "/api/v1/executions/x", 405, "method_not_allowed", "GET"},
		{"POST", "/api/v1/pipelines/demo/hello", 405, "method_not_allowed", "GET, PUT, DELETE"},
		{"GET", "/api/v1/pipelines/validate", 405, "method_not_allowed", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp := b.do(t, tt.method, tt.path, "application/json", "")
			body := readErrorBody(t, resp)
			if resp.StatusCode != tt.wantStatus || body.Error.Code != tt.wantCode {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, body.Error.Code, tt.wantStatus, tt.wantCode)
			}
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if resp.Header.Get(httpapi.RequestIDHeader) == "" {
				t.Errorf("no %s header", httpapi.RequestIDHeader)
			}
		})
	}
}

func TestExecutionRoutesWithoutEngine(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := context.Background()
	if _, err := c.PutPipeline(ctx, "demo", "hello", []byte(waitPipelineJSON), ""); err != nil {
		t.Fatal(err)
	}
	_, err := c.Trigger(ctx, "demo", "hello", apitype.TriggerRequest{})
	e := apiError(t, err, 503, "unavailable")
	if !strings.Contains(e.Message, "engine") {
		t.Errorf("message = %q", e.Message)
	}
	// Reads of the store still work.
	if _, err := c.ListExecutions(ctx, apiclient.ListOptions{}); err != nil {
		t.Errorf("list executions: %v", err)
	}
}

func TestListExecutionsRejectsBadQueries(t *testing.T) {
	t.Parallel()
	c, b := setup(t, nil)
	ctx := context.Background()
	_, err := c.ListExecutions(ctx, apiclient.ListOptions{Statuses: []status.Status{status.Running, "DONE"}})
	e := apiError(t, err, 400, "bad_request")
	if !strings.Contains(e.Message, `"DONE"`) || !strings.Contains(e.Message, "SUCCEEDED") {
		t.Errorf("message = %q, want the bad status and the valid ones", e.Message)
	}
	for _, q := range []string{"limit=0", "limit=abc", "limit=100000"} {
		resp := b.do(t, "GET", "/api/v1/executions?"+q, "", "")
		body := readErrorBody(t, resp)
		if resp.StatusCode != 400 || !strings.Contains(body.Error.Message, "limit") {
			t.Errorf("?%s: %d %q, want 400 about limit", q, resp.StatusCode, body.Error.Message)
		}
	}
	// Lower case statuses are fine.
	if _, err := c.ListExecutions(ctx, apiclient.ListOptions{Statuses: []status.Status{"running"}}); err != nil {
		t.Errorf("status=running: %v", err)
	}
}

func TestGetMissingExecution(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	_, err := c.GetExecution(context.Background(), "no-such-id")
	e := apiError(t, err, 404, "not_found")
	if !strings.Contains(e.Message, "no-such-id") {
		t.Errorf("message = %q, want the id", e.Message)
	}
}

// brokenStore fails or panics in PipelineList; everything else is the
// real store.
type brokenStore struct {
	store.Store
	panic bool
}

func (s brokenStore) PipelineList(ctx context.Context, p *store.PipelineListParams) ([]*store.Pipeline, error) {
	if s.panic {
		panic("secret panic detail")
	}
	return nil, errors.New("secret database detail")
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	for _, panics := range []bool{false, true} {
		c, b := setup(t, func(cfg *httpapi.Config) { cfg.Store = brokenStore{Store: cfg.Store, panic: panics} })
		_, err := c.ListPipelines(context.Background(), "")
		e := apiError(t, err, 500, "internal")
		if strings.Contains(e.Message, "secret") {
			t.Errorf("500 message leaks the cause: %q", e.Message)
		}
		if e.RequestID == "" || !strings.Contains(e.Message, e.RequestID) {
			t.Errorf("500 = %+v, want the request id in the body and the message", e)
		}
		logs := b.logs.String()
		if !strings.Contains(logs, "secret") || !strings.Contains(logs, e.RequestID) {
			t.Errorf("the log lacks the cause or the request id %s:\n%s", e.RequestID, logs)
		}
	}
}

func TestNewPanicsWithoutStore(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("New without a store did not panic")
		}
	}()
	httpapi.New(httpapi.Config{})
}
