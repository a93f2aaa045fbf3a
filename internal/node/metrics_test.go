package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/node"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestMetricsScrapedByPrometheus runs a succeeding execution of one
// application and a failing one of another on a node, and has a real
// Prometheus scrape the node's /metrics with the admin token: the
// executions and stages are counted by application, pipeline or type,
// and final status, and the job queue's depth is there. A token that
// reads only the first application sees only its series; no token, no
// metrics.
func TestMetricsScrapedByPrometheus(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("auth:\n  applications:\n    shop: {read: [watchers]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(t.Context(), node.Options{DataDir: filepath.Join(dir, "data"), LambdaAddr: node.LambdaOff, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.API)
	defer srv.Close()
	defer closeNode(t, n)
	c, err := apiclient.New(srv.URL, apiclient.WithToken(n.AdminToken))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for app, doc := range map[string]string{
		"shop": `{"application":"shop","name":"release","stages":[{"refId":"1","name":"Pause","type":"wait","waitTime":0}]}`,
		"bank": `{"application":"bank","name":"release","stages":[{"refId":"1","name":"Check","type":"checkPreconditions",
		  "preconditions":[{"type":"expression","context":{"expression":"${1 == 2}"}}]}]}`,
	} {
		if _, err := c.PutPipeline(ctx, app, "release", []byte(doc), ""); err != nil {
			t.Fatal(err)
		}
		e, err := c.Trigger(ctx, app, "release", apitype.TriggerRequest{})
		if err != nil {
			t.Fatal(err)
		}
		sluicetest.WaitFor(t, "execution of "+app+" to end", 30*time.Second, func() bool {
			got, err := c.GetExecution(ctx, e.ID)
			return err == nil && got.Status.Complete()
		})
	}

	tokenFile := filepath.Join(dir, "prometheus.token")
	if err := os.WriteFile(tokenFile, []byte(n.AdminToken), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := sluicetest.StartPrometheusScraping(t, srv.URL+"/metrics", tokenFile)
	for query, want := range map[string]string{
		`sluice_executions_total{application="shop",pipeline="release",status="SUCCEEDED"}`:                 "1",
		`sluice_executions_total{application="bank",pipeline="release",status="TERMINAL"}`:                  "1",
		`sluice_stages_total{application="bank",type="checkPreconditions",status="TERMINAL"}`:               "1",
		`sluice_stage_duration_seconds_count{application="shop",type="wait",status="SUCCEEDED"}`:            "1",
		`sum(sluice_jobs{state=~"available|running"})`:                                                      "0",
		`sum(sluice_job_start_lag_seconds_count{kind=~"sluice.start_execution|sluice.run_stage"}) > bool 1`: "1",
	} {
		var last string
		sluicetest.WaitFor(t, query+" = "+want+" in Prometheus", 30*time.Second, func() bool {
			last = promQuery(t, prom, query)
			return last == want
		})
	}

	// A token that reads shop only sees shop's series, and the
	// engine's own; without a token there is nothing.
	secret, _, err := n.Auth.CreateToken(ctx, auth.TokenParams{Name: "watcher", Roles: []string{"watchers"}, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	body := getMetrics(t, srv.URL, secret, http.StatusOK)
	for _, want := range []string{`application="shop"`, `sluice_jobs{state="available"}`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("a shop reader's metrics lack %s", want)
		}
	}
	if strings.Contains(body, `application="bank"`) {
		t.Errorf("a shop reader's metrics show bank's series:\n%s", body)
	}
	getMetrics(t, srv.URL, "", http.StatusUnauthorized)

	checkDashboard(t, prom, getMetrics(t, srv.URL, n.AdminToken, http.StatusOK))
}

// checkDashboard evaluates every query of the example Grafana dashboard
// at Prometheus, with its variables set to match everything, and checks
// that each metric it names is one the server exports.
func checkDashboard(t *testing.T, prom, exported string) {
	t.Helper()
	b, err := os.ReadFile("../../examples/grafana/sluice-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard: %v", err)
	}
	vars := strings.NewReplacer("$application", ".+", "$job", ".+", "$__rate_interval", "1m", "$__range", "5m")
	metricName := regexp.MustCompile(`\b(?:sluice|process|go)_[a-z_]+\b`)
	queries := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			queries++
			promQuery(t, prom, vars.Replace(target.Expr)) // fails the test on an error
			for _, name := range metricName.FindAllString(target.Expr, -1) {
				if !strings.Contains(exported, "\n"+name) {
					t.Errorf("panel %q uses %s, which the server does not export", p.Title, name)
				}
			}
		}
	}
	if queries < 10 {
		t.Errorf("the dashboard has %d queries; did its format change?", queries)
	}
}

func getMetrics(t *testing.T, base, token string, want int) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("GET /metrics with token %q = %d, want %d: %s", token, resp.StatusCode, want, b)
	}
	return string(b)
}

// promQuery evaluates an instant query at Prometheus and returns its one
// sample's value, or "" when it has none.
func promQuery(t *testing.T, prom, query string) string {
	t.Helper()
	resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s", query, r.Error)
	}
	if len(r.Data.Result) != 1 {
		return ""
	}
	v, _ := r.Data.Result[0].Value[1].(string)
	return v
}
