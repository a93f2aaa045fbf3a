package lambda

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/status"
)

// TestMotoKayentaCanaryReadsCloudWatch: on an AWS account the analysis
// reads AWS/Lambda's per-version series behind the alias through
// GetMetricData — here moto's — and judges a retrospective window at once:
// version 2's errors fail it, and version 1 against itself passes.
func TestMotoKayentaCanaryReadsCloudWatch(t *testing.T) {
	e := newMotoEnv(t)
	zip := helloZip(t)
	for i := 1; i <= 2; i++ {
		e.put(t, fmt.Sprintf("c%d.zip", i), variantZip(t, zip, i))
		newStageRun(t, typeOf(t, e.accounts, DeployTypeName), "shop", motoDeploy("orders", fmt.Sprintf("c%d.zip", i), map[string]any{"publish": true})).mustSucceed()
	}
	ctx := context.Background()
	acct, err := e.accounts.Get("moto")
	if err != nil {
		t.Fatal(err)
	}
	// Twenty minutes of what AWS publishes for the two versions behind
	// alias live: version 1 fails nothing, version 2 a fifth of 50.
	t0 := time.Now().UTC().Truncate(time.Minute).Add(-30 * time.Minute)
	var data []cwtypes.MetricDatum
	for m := range 20 {
		for v, errs := range map[string]float64{"1": 0, "2": 10} {
			dims := []cwtypes.Dimension{
				{Name: aws.String("ExecutedVersion"), Value: aws.String(v)},
				{Name: aws.String("FunctionName"), Value: aws.String("shop-orders")},
				{Name: aws.String("Resource"), Value: aws.String("shop-orders:live")},
			}
			data = append(data, cwtypes.MetricDatum{MetricName: aws.String("Errors"), Dimensions: dims,
				Timestamp: aws.Time(t0.Add(time.Duration(m)*time.Minute + 5*time.Second)), Value: aws.Float64(errs + float64(m%3))})
		}
	}
	if _, err := acct.CloudWatch.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/Lambda"), MetricData: data}); err != nil {
		t.Fatal(err)
	}
	cfg := `{"name": "cw-errors", "judge": {"name": "NetflixACAJudge-v1.0"},
	  "metrics": [{"name": "errors", "groups": ["errors"],
	    "query": {"type": "cloudwatch", "namespace": "AWS/Lambda", "metricName": "Errors", "stat": "Sum", "period": 60},
	    "analysisConfigurations": {"canary": {"direction": "increase", "critical": true, "nanStrategy": "remove"}}}],
	  "classifier": {"groupWeights": {"errors": 100}}}`
	typ := typeWith(t, KayentaCanaryTypeName, Options{Accounts: e.accounts, Analysis: Analysis{
		Configs: savedConfigs{"cw-errors": {ID: "c", Name: "cw-errors", Revision: 1, Document: []byte(cfg)}}}})
	fields := func(control, experiment string) map[string]any {
		return map[string]any{"account": "moto", "functionName": "orders", "aliasName": "live", "canaryConfig": map[string]any{
			"canaryConfigName": "cw-errors",
			"scopes": []any{map[string]any{"controlScope": control, "experimentScope": experiment,
				"startTimeIso": t0.Format(time.RFC3339), "endTimeIso": t0.Add(20 * time.Minute).Format(time.RFC3339), "step": 60}},
		}}
	}
	r := newStageRun(t, typ, "shop", fields("1", "2"))
	res := r.all()
	if res.Status != status.Terminal || !strings.Contains(res.Error, "errors High") || !strings.Contains(res.Error, "interval 1 of 1 scored 0") {
		t.Fatalf("version 2 against 1: %s %q; want TERMINAL on errors", res.Status, res.Error)
	}
	rep := reportOf(t, r.outputs)
	if m := rep.Intervals[0].Metrics[0]; m.Control.Count != 20 || m.Experiment.Count != 20 {
		t.Errorf("samples read: control %d, experiment %d; want 20 minutes each", m.Control.Count, m.Experiment.Count)
	}
	// The other way round the experiment has fewer errors, which a
	// metric judged on increases lets pass.
	out := newStageRun(t, typ, "shop", fields("2", "1")).mustSucceed()
	if rep := reportOf(t, out); rep.Decision == nil || rep.Decision.Result != canary.DecisionPass || rep.Intervals[0].Score != 100 {
		t.Errorf("version 1 against 2: %+v; want a pass with 100", rep.Decision)
	}
}
