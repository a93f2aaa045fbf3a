package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/examples"
	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/auth/oidc"
	"github.com/sluice-cd/sluice/internal/auth/oidc/oidctest"
	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/canary/savedconfigs"
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
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/trigger"
	"github.com/sluice-cd/sluice/internal/web"
)

// testServer is a whole Sluice in this process, as `sluice serve` builds
// it: the SQLite store, the engine with the built-in stage types, and the
// API with the console mounted, on a real HTTP listener.
//
// client calls the API with an admin token, and web is a browser without
// JavaScript: an HTTP client with a cookie jar, signed in to the console
// with that token through the login form.
type testServer struct {
	URL string
	// handler is the API with the console, as the listener serves it.
	handler    http.Handler
	store      store.Store
	auth       *auth.Authenticator
	adminToken string
	client     *apiclient.Client
	web        *http.Client
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
	// localLambdaURL is the local account's endpoint, whose metrics the
	// canary analyses read.
	localLambdaURL string
	// policy grants rights to principals that are not admins.
	policy *auth.Policy
	// sso, when set, offers single sign-on through a real OpenID Connect
	// provider in the test, which signs everyone in as this user.
	sso *oidctest.User
}

func newTestServerWith(t testing.TB, opts serverOptions) *testServer {
	t.Helper()
	functions := opts.functions
	st := sluicetest.OpenSQLite(t)
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() && os.Getenv("SLUICE_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	types := []stage.Type{wait.Type{}, judgment.Type{}, variables.Type{}, preconditions.Type{}}
	if opts.accounts != nil {
		types = append(types, lambdastage.Types(lambdastage.Options{Accounts: opts.accounts,
			Analysis: lambdastage.Analysis{Configs: savedconfigs.Of(st), LocalLambdaURL: opts.localLambdaURL}})...)
	}
	reg := stage.NewRegistry(types...)
	eng := sluicetest.StartEngine(t, engine.Config{Store: st, Stages: reg, Logger: log})
	authn, adminToken := sluicetest.Auth(t, st, "tester", auth.RoleAdmin)
	// The handler is made once the server's URL, which single sign-on's
	// callback names, is known.
	var api http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	t.Cleanup(func() {
		srv.CloseClientConnections() // event streams
		srv.Close()
	})
	var sso *oidc.Provider
	if opts.sso != nil {
		idp := oidctest.Start(t, *opts.sso)
		var err error
		if sso, err = oidc.New(t.Context(), idp.Config(srv.URL+"/auth/oidc/callback"), oidc.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	api = httpapi.New(httpapi.Config{
		Auth:   authn,
		Policy: opts.policy,
		OIDC:   sso,
		// Told to loopback clients, as the browser is here.
		AdminTokenFile: "/data/admin.token",
		Store:          st,
		Engine:         eng,
		Stages:         reg,
		Validate:       pipeline.ValidateOptions{StageTypes: reg, CheckExpression: expr.Check, TriggerTypes: trigger.Builtin(nil)},
		Logger:         log,
		Version:        "v0.0.0-test",
		Functions:      functions,
		Console: func(api http.Handler) http.Handler {
			return web.New(api, web.Config{Logger: log})
		},
	})
	c, err := apiclient.New(srv.URL, apiclient.WithToken(adminToken))
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{URL: srv.URL, handler: api, store: st, auth: authn, adminToken: adminToken, client: c}
	s.web = s.signIn(t, adminToken)
	return s
}

// signIn returns an HTTP client with a cookie jar that signed in to the
// console with token, through the login form as a browser would.
func (s *testServer) signIn(t testing.TB, token string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar}
	resp, err := hc.PostForm(s.URL+"/login", url.Values{"token": {token}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("sign in: %d at %s:\n%.500s", resp.StatusCode, resp.Request.URL, b)
	}
	return hc
}

// newToken makes an API token with roles, which the policy may grant
// rights to as "token:NAME".
func (s *testServer) newToken(t *testing.T, name string, roles ...string) string {
	t.Helper()
	secret, _, err := s.auth.CreateToken(t.Context(), auth.TokenParams{Name: name, Roles: roles, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// apply saves a pipeline document.
func (s *testServer) apply(t testing.TB, app, name string, doc []byte) {
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

// get fetches a page as the signed-in admin and returns its status and
// body.
func (s *testServer) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return getWith(t, s.web, s.URL+path)
}

// getWith fetches a URL with hc and returns its status and body.
func getWith(t *testing.T, hc *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := hc.Get(u)
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
func (s *testServer) waitExecution(t testing.TB, id, what string, cond func(*apitype.Execution) bool) *apitype.Execution {
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
