package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/examples"
	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/expr"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	lambdastage "github.com/sluice-cd/sluice/internal/stage/lambda"
	"github.com/sluice-cd/sluice/internal/stage/preconditions"
	"github.com/sluice-cd/sluice/internal/stage/variables"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/web"
)

// testServer is a whole Sluice in this process, as `sluice serve` builds
// it: the SQLite store, the engine with the built-in stage types, and the
// API with the console mounted, on a real HTTP listener.
type testServer struct {
	URL    string
	client *apiclient.Client
}

// newTestServer starts a server; functions, when not nil, lists accounts.
func newTestServer(t *testing.T, functions httpapi.Functions) *testServer {
	t.Helper()
	return newTestServerWith(t, serverOptions{functions: functions})
}

// serverOptions add to a test server what the Lambda scenarios need.
type serverOptions struct {
	// functions lists accounts for the Functions pages.
	functions httpapi.Functions
	// accounts, when set, adds the Lambda stage types bound to them.
	accounts *awsclient.Accounts
}

func newTestServerWith(t *testing.T, opts serverOptions) *testServer {
	t.Helper()
	functions := opts.functions
	st := sluicetest.OpenSQLite(t)
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() && os.Getenv("SLUICE_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	types := []stage.Type{wait.Type{}, judgment.Type{}, variables.Type{}, preconditions.Type{}}
	if opts.accounts != nil {
		types = append(types, lambdastage.Types(opts.accounts, "")...)
	}
	reg := stage.NewRegistry(types...)
	eng := sluicetest.StartEngine(t, engine.Config{Store: st, Stages: reg, Logger: log})
	api := httpapi.New(httpapi.Config{
		Store:     st,
		Engine:    eng,
		Validate:  pipeline.ValidateOptions{StageTypes: reg, CheckExpression: expr.Check},
		Logger:    log,
		Version:   "v0.0.0-test",
		Functions: functions,
		Console: func(api http.Handler) http.Handler {
			return web.New(api, web.Config{Logger: log})
		},
	})
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.CloseClientConnections() // event streams
		srv.Close()
	})
	c, err := apiclient.New(srv.URL, apiclient.WithUser("tester"))
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{URL: srv.URL, client: c}
}

// apply saves a pipeline document.
func (s *testServer) apply(t *testing.T, app, name string, doc []byte) {
	t.Helper()
	if _, err := s.client.PutPipeline(context.Background(), app, name, doc, ""); err != nil {
		t.Fatalf("save %s/%s: %v", app, name, err)
	}
}

// applyExample saves examples/pipelines/<file> under its own app and name.
func (s *testServer) applyExample(t *testing.T, file string) (app, name string) {
	t.Helper()
	doc, err := examples.Pipelines.ReadFile("pipelines/" + file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	s.apply(t, p.Application, p.Name, doc)
	return p.Application, p.Name
}

// get fetches a page and returns its status and body.
func (s *testServer) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitExecution polls the API until cond holds.
func (s *testServer) waitExecution(t *testing.T, id, what string, cond func(*apitype.Execution) bool) *apitype.Execution {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last *apitype.Execution
	for time.Now().Before(deadline) {
		e, err := s.client.GetExecution(context.Background(), id)
		if err != nil {
			t.Fatalf("get execution: %v", err)
		}
		if cond(e) {
			return e
		}
		last = e
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("execution %s never got %s; last seen %s", id, what, last.Status)
	return nil
}

func stageIs(ref, status string) func(*apitype.Execution) bool {
	return func(e *apitype.Execution) bool {
		for _, s := range e.Stages {
			if s.RefID == ref {
				return string(s.Status) == status
			}
		}
		return false
	}
}

// failingPipeline has a precondition that does not hold.
const failingPipeline = `{
  "application": "hello", "name": "broken",
  "stages": [
    {"refId": "1", "type": "evaluateVariables", "name": "Plan", "variables": [{"key": "ready", "value": false}]},
    {"refId": "2", "requisiteStageRefIds": ["1"], "type": "checkPreconditions", "name": "Gate",
     "preconditions": [{"type": "expression", "context": {"expression": "${ready == true}"}}]}
  ]
}`

func contains(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("the page lacks %q", w)
		}
	}
}
