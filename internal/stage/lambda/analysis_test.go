package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/stage"
)

// TestDeckKayentaCanary: a kayentaCanary stage as Deck writes it — numbers
// as strings, "" for the interval it leaves empty, storage and locations
// Sluice does not use — loads, plans Orca's single interval of the whole
// hour, and names what it will not use.
func TestDeckKayentaCanary(t *testing.T) {
	t.Parallel()
	var fields map[string]any
	if err := json.Unmarshal([]byte(`{"type":"kayentaCanary","name":"Canary Analysis","analysisType":"realTime",
	  "functionName":"orders-api","aliasName":"live",
	  "canaryConfig":{"beginCanaryAnalysisAfterMins":"0","canaryAnalysisIntervalMins":"","canaryConfigId":"a1b2c3d4-0000-4000-8000-000000000001",
	   "lifetimeDuration":"PT1H0M","lookbackMins":0,"metricsAccountName":"my-prometheus","storageAccountName":"my-s3",
	   "scopes":[{"controlLocation":"us-east-1","controlScope":"$PREVIOUS","experimentLocation":"us-east-1","experimentScope":"$LATEST","extendedScopeParams":{},"scopeName":"default","step":60}],
	   "scoreThresholds":{"marginal":"75","pass":"95"}}}`), &fields); err != nil {
		t.Fatal(err)
	}
	typ := typeWith(t, KayentaCanaryTypeName, Options{})
	if errs := typ.Validate(fields); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	var s canarySpec
	if err := stage.Decode(fields, &s); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	p, err := s.CanaryConfig.newPlan(start)
	if err != nil {
		t.Fatal(err)
	}
	if p.Count != 1 || p.Interval != time.Hour || p.Warmup != 0 || p.Step != time.Minute {
		t.Errorf("plan %+v; want one interval of an hour, 60 s steps", p)
	}
	if th := s.CanaryConfig.thresholds(); th.Pass != 95 || th.Marginal != 75 {
		t.Errorf("thresholds %+v; want 95 and 75", th)
	}
	w := s.CanaryConfig.warnings()
	if len(w) != 3 || !strings.Contains(w[0].(string), `storageAccountName "my-s3" is not used`) {
		t.Errorf("warnings %v; want storageAccountName and both locations named", w)
	}
}

// FuzzAnalysisFields: any stage object is validated by kayentaCanary and
// by a $PROGRESSIVE Route without panicking, within a time bound, and the
// same way twice; every problem names a field.
func FuzzAnalysisFields(f *testing.F) {
	for _, seed := range []string{
		`{"functionName":"f","canaryConfig":{"canaryConfigName":"c","lifetimeDuration":"PT1H","scopes":[{"controlScope":"1","experimentScope":"2"}]}}`,
		`{"functionName":"f","canaryConfig":{"canaryConfigId":"x","lifetimeDuration":"P1DT2H3M4.5S","canaryAnalysisIntervalMins":"0.25","scoreThresholds":{"pass":"","marginal":""},"sequential":{"lookSeconds":0.5}}}`,
		`{"functionName":"f","aliasName":"live","deploymentStrategy":"$PROGRESSIVE","progressive":{"deploymentConfig":"CodeDeployDefault.LambdaLinear10PercentEvery3Minutes"}}`,
		`{"functionName":"f","aliasName":"live","deploymentStrategy":"$PROGRESSIVE","progressive":{"steps":[{"weight":"10","pause":"PT1M","analysis":true},{"weight":5}],"alarms":["a","a",""]}}`,
		`{"canaryConfig":{"lifetimeDuration":-1,"scopes":[{},{}]},"deployments":{}}`,
	} {
		f.Add([]byte(seed))
	}
	types := []stage.Type{typeWith(f, KayentaCanaryTypeName, Options{}), typeWith(f, RouteTypeName, Options{})}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fields map[string]any
		if json.Unmarshal(data, &fields) != nil {
			return
		}
		for _, typ := range types {
			start := time.Now()
			errs := typ.Validate(fields)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("%s: Validate took %s on %s", typ.Name(), d, data)
			}
			for _, e := range errs {
				if e.Field == "" || e.Msg == "" {
					t.Fatalf("%s: problem without a field or message: %+v", typ.Name(), e)
				}
			}
			again := typ.Validate(fields)
			if len(again) != len(errs) {
				t.Fatalf("%s: Validate is not deterministic: %v then %v", typ.Name(), errs, again)
			}
		}
	})
}

// TestAnalysisSources: which metric sources an analysis reads, by the
// function's account and metricsAccountName.
func TestAnalysisSources(t *testing.T) {
	t.Parallel()
	accounts, err := awsclient.New(context.Background(), awsclient.Config{Accounts: []awsclient.AccountConfig{
		{Name: "prod", Region: "us-east-1", Endpoint: "http://127.0.0.1:9"}}}, awsclient.LocalEndpoint{URL: "http://127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	b := &base{accounts: accounts}
	fn := func(account string) *function {
		f, err := b.function("app", &target{Account: stage.StringField{Value: account}, FunctionName: stage.StringField{Value: "f"}})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, tt := range []struct {
		name, account, metrics string
		prometheus             map[string]string
		want                   string
	}{
		{"local", "", "", nil, "[sluice-local]"},
		{"local with the only Prometheus", "", "", map[string]string{"p1": "http://127.0.0.1:9090"}, "[prometheus sluice-local]"},
		{"a Prometheus named", "", "p2", map[string]string{"p1": "http://127.0.0.1:9090", "p2": "http://127.0.0.1:9091"}, "[prometheus sluice-local]"},
		{"an AWS account", "prod", "", nil, "[cloudwatch]"},
		{"an AWS account's metrics for a local function", "", "prod", nil, "[cloudwatch]"},
		{"unknown", "", "nope", map[string]string{"p1": "http://127.0.0.1:9090"}, "error: metricsAccountName: "},
	} {
		an := Analysis{LocalLambdaURL: "http://127.0.0.1:9", Prometheus: tt.prometheus}
		src, err := an.sources(b, fn(tt.account), tt.metrics)
		got := "error: " + fmt.Sprint(err)
		if err == nil {
			got = fmt.Sprint(slices.Sorted(maps.Keys(src)))
		}
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: %s; want %s", tt.name, got, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), "p1") {
			t.Errorf("%s: %v does not name the Prometheus servers there are", tt.name, err)
		}
	}
}
