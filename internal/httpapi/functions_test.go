package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/httpapi"
)

// fixedFunctions is a Functions with fixed answers.
type fixedFunctions struct {
	accounts  []apitype.Account
	functions map[string][]apitype.Function
	err       error
	// queries, when set, receives every query asked.
	queries chan apitype.FunctionQuery
}

func (f fixedFunctions) Accounts(context.Context) []apitype.Account { return f.accounts }

func (f fixedFunctions) Functions(_ context.Context, account string, q apitype.FunctionQuery) ([]apitype.Function, error) {
	if f.queries != nil {
		f.queries <- q
	}
	return f.functions[account], f.err
}

func TestFunctionRoutesWithoutAccounts(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := context.Background()
	accounts, err := c.ListAccounts(ctx)
	if err != nil || accounts == nil || len(accounts) != 0 {
		t.Errorf("accounts = %v, %v; want an empty list", accounts, err)
	}
	_, err = c.ListFunctions(ctx, "local")
	e := apiError(t, err, 404, "not_found")
	if !strings.Contains(e.Message, "no accounts") {
		t.Errorf("message = %q", e.Message)
	}
}

func TestFunctionRoutes(t *testing.T) {
	t.Parallel()
	fns := fixedFunctions{
		accounts: []apitype.Account{{Name: "local", Region: "us-east-1", Local: true}, {Name: "prod", Region: "eu-west-1"}},
		functions: map[string][]apitype.Function{"local": {{
			Name:     "hello",
			ARN:      "arn:aws:lambda:us-east-1:000000000000:function:hello",
			Versions: []apitype.FunctionVersion{{Version: "1", CodeSha256: "abc", LastModified: 1700000000000}},
			Aliases:  []apitype.FunctionAlias{{Name: "live", FunctionVersion: "1", AdditionalVersionWeights: map[string]float64{"2": 0.1}}},
		}}},
	}
	c, _ := setup(t, func(cfg *httpapi.Config) { cfg.Functions = fns })
	ctx := context.Background()
	accounts, err := c.ListAccounts(ctx)
	if err != nil || len(accounts) != 2 || !reflect.DeepEqual(accounts[0], fns.accounts[0]) {
		t.Errorf("accounts = %+v, %v", accounts, err)
	}
	got, err := c.ListFunctions(ctx, "local")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "hello" || got[0].Aliases[0].AdditionalVersionWeights["2"] != 0.1 {
		t.Errorf("functions = %+v", got)
	}
	// An account without functions answers an empty list, not null.
	got, err = c.ListFunctions(ctx, "prod")
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("functions of prod = %v, %v; want an empty list", got, err)
	}
	_, err = c.ListFunctions(ctx, "staging")
	e := apiError(t, err, 404, "not_found")
	if !strings.Contains(e.Message, `"staging"`) || !strings.Contains(e.Message, "local, prod") {
		t.Errorf("message = %q, want the account and the ones there are", e.Message)
	}
}

// TestFunctionQuery: function and since reach the lister as asked, since
// as an RFC 3339 time or epoch milliseconds; a since that is not a time in
// the past is refused naming it.
func TestFunctionQuery(t *testing.T) {
	t.Parallel()
	fns := fixedFunctions{accounts: []apitype.Account{{Name: "local", Local: true}}, queries: make(chan apitype.FunctionQuery, 1)}
	c, tb := setup(t, func(cfg *httpapi.Config) { cfg.Functions = fns })
	ctx := context.Background()
	since := time.Now().Add(-time.Minute).UnixMilli()
	if _, err := c.QueryFunctions(ctx, "local", apitype.FunctionQuery{Function: "hello", Since: since}); err != nil {
		t.Fatal(err)
	}
	if got, want := <-fns.queries, (apitype.FunctionQuery{Function: "hello", Since: since}); got != want {
		t.Errorf("query %+v, want %+v", got, want)
	}
	hc := &http.Client{}
	for _, tt := range []struct {
		since string
		want  int64
		code  int
	}{
		{"2026-01-02T15:04:05Z", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC).UnixMilli(), 200},
		{"yesterday", 0, 400},
		{strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10), 0, 400},
	} {
		req, _ := http.NewRequest(http.MethodGet, c.BaseURL()+"/api/v1/accounts/local/functions?since="+url.QueryEscape(tt.since), nil)
		req.Header.Set("Authorization", "Bearer "+tb.token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("since=%s: %d %s, want %d", tt.since, resp.StatusCode, body, tt.code)
			continue
		}
		if tt.code == 200 {
			if got := <-fns.queries; got.Since != tt.want {
				t.Errorf("since=%s reached the lister as %d, want %d", tt.since, got.Since, tt.want)
			}
		} else if !strings.Contains(string(body), "since") {
			t.Errorf("since=%s: the error %s does not name since", tt.since, body)
		}
	}
}

// TestFunctionRoutesOfARestrictedAccount checks Fiat's account
// permissions as Sluice reads them: an account restricted to some
// applications shows its functions to admins and to readers of one of those
// applications, and to nobody else, who does not see it listed either.
func TestFunctionRoutesOfARestrictedAccount(t *testing.T) {
	t.Parallel()
	fns := fixedFunctions{accounts: []apitype.Account{
		{Name: "payments-prod", Region: "eu-west-1", Applications: []string{"payments"}},
		{Name: "shared", Region: "eu-west-1"},
	}}
	c, b := setup(t, func(cfg *httpapi.Config) {
		cfg.Functions = fns
		cfg.Policy = auth.NewPolicy(auth.Config{Applications: map[string]auth.Grants{
			"payments": {Read: []string{"payments-team"}},
			"blog":     {Write: []string{"bloggers"}},
		}})
	})
	ctx := context.Background()
	as := func(role string) *apiclient.Client {
		secret, _, err := b.auth.CreateToken(ctx, auth.TokenParams{Name: role, Roles: []string{role}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := apiclient.New(b.server.URL, apiclient.WithToken(secret))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		who  string
		c    *apiclient.Client
		sees bool
	}{
		{"an admin", c, true},
		{"a reader of payments", as("payments-team"), true},
		{"a writer of another application", as("bloggers"), false},
	} {
		accounts, err := tc.c.ListAccounts(ctx)
		if err != nil {
			t.Fatalf("%s: list accounts: %v", tc.who, err)
		}
		listed := slices.ContainsFunc(accounts, func(a apitype.Account) bool { return a.Name == "payments-prod" })
		_, err = tc.c.ListFunctions(ctx, "payments-prod")
		if listed != tc.sees || (err == nil) != tc.sees {
			t.Errorf("%s: payments-prod listed %v, its functions: %v; want seen %v", tc.who, listed, err, tc.sees)
		}
		if !tc.sees {
			apiError(t, err, 403, "forbidden")
		}
		if _, err := tc.c.ListFunctions(ctx, "shared"); err != nil {
			t.Errorf("%s: functions of an account open to every application: %v", tc.who, err)
		}
	}
}

func TestFunctionRoutesSayWhatLambdaSaid(t *testing.T) {
	t.Parallel()
	fns := fixedFunctions{
		accounts: []apitype.Account{{Name: "prod", Region: "eu-west-1"}},
		err:      errors.New("list functions: AccessDeniedException: not authorized to perform lambda:ListFunctions"),
	}
	c, _ := setup(t, func(cfg *httpapi.Config) { cfg.Functions = fns })
	_, err := c.ListFunctions(context.Background(), "prod")
	e := apiError(t, err, 502, "unavailable")
	if !strings.Contains(e.Message, "AccessDeniedException") || !strings.Contains(e.Message, "prod") {
		t.Errorf("message = %q, want the account and Lambda's answer", e.Message)
	}
}

func TestConsoleIsMountedOutsideTheAPI(t *testing.T) {
	t.Parallel()
	var gotAPI http.Handler
	_, b := setup(t, func(cfg *httpapi.Config) {
		cfg.Console = func(api http.Handler) http.Handler {
			gotAPI = api
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "console "+r.URL.Path)
			})
		}
	})
	if gotAPI == nil {
		t.Fatal("the console was not given the API handler")
	}
	tests := []struct {
		method, path string
		wantStatus   int
		wantBody     string
	}{
		{"GET", "/", 200, "console /"},
		{"GET", "/executions/abc", 200, "console /executions/abc"},
		{"GET", "/api/v1/health", 200, `"status":"ok"`},
		{"GET", "/api/v1/nope", 404, `"code":"not_found"`},
		{"GET", "/api/other", 404, `"code":"not_found"`},
		{"POST", "/api/v1/health", 405, `"code":"method_not_allowed"`},
	}
	for _, tt := range tests {
		resp := b.do(t, tt.method, tt.path, "application/json", "")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
			t.Errorf("%s %s = %d %q, want %d with %q", tt.method, tt.path, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
		}
	}
	// The API handler the console gets serves the API in-process.
	req, _ := http.NewRequest("GET", "http://localhost/api/v1/version", nil)
	b.sign(req)
	rec := &recorder{header: http.Header{}}
	gotAPI.ServeHTTP(rec, req)
	if rec.status != 200 || !strings.Contains(rec.body.String(), "v0.0.0-test") {
		t.Errorf("in-process GET /api/v1/version = %d %q", rec.status, rec.body.String())
	}
}

// recorder is a minimal http.ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(200)
	return r.body.Write(b)
}

// TestFunctionRoutesRegion: ?region= picks one of the account's regions,
// and one it does not list is refused naming those it does.
func TestFunctionRoutesRegion(t *testing.T) {
	t.Parallel()
	queries := make(chan apitype.FunctionQuery, 1)
	fns := fixedFunctions{
		accounts: []apitype.Account{{Name: "prod", Region: "us-east-1", Regions: []string{"us-east-1", "eu-west-1"}}},
		queries:  queries,
	}
	c, _ := setup(t, func(cfg *httpapi.Config) { cfg.Functions = fns })
	ctx := context.Background()
	if _, err := c.QueryFunctions(ctx, "prod", apitype.FunctionQuery{Region: "eu-west-1"}); err != nil {
		t.Fatal(err)
	}
	if q := <-queries; q.Region != "eu-west-1" {
		t.Errorf("query region = %q, want eu-west-1", q.Region)
	}
	_, err := c.QueryFunctions(ctx, "prod", apitype.FunctionQuery{Region: "us-west-2"})
	e := apiError(t, err, 400, "bad_request")
	if !strings.Contains(e.Message, "us-east-1, eu-west-1") || !strings.Contains(e.Message, "us-west-2") {
		t.Errorf("message = %q, want the account's regions", e.Message)
	}
}
