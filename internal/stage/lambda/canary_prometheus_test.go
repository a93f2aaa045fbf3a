package lambda

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/status"
)

// TestKayentaCanaryReadsPrometheus: a config whose metric is a Prometheus
// query reads the Prometheus that metricsAccountName names — a real one,
// backfilled with each version's error ratio — with the function and the
// resolved versions substituted into the query, and judges them.
func TestKayentaCanaryReadsPrometheus(t *testing.T) {
	t.Parallel()
	c := newCanaryEnv(t, "0")
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Minute)
	var om strings.Builder
	om.WriteString("# TYPE lambda_error_ratio gauge\n")
	for i := range 30 {
		at := base.Add(time.Duration(i) * time.Minute).Unix()
		fmt.Fprintf(&om, "lambda_error_ratio{function=%q,version=%q} %g %d\n", c.fn.name, c.v1, 0.01+0.001*float64(i%3), at)
		fmt.Fprintf(&om, "lambda_error_ratio{function=%q,version=%q} %g %d\n", c.fn.name, c.v2, 0.20+0.001*float64(i%3), at)
	}
	om.WriteString("# EOF\n")
	prom := sluicetest.StartPrometheus(t, om.String())
	cfg := `{"name": "prom-errors", "judge": {"name": "NetflixACAJudge-v1.0"},
	  "metrics": [{"name": "error ratio", "groups": ["errors"],
	    "query": {"type": "prometheus", "customInlineTemplate": "PromQL:lambda_error_ratio{function=\"${function}\",version=\"${version}\"}"},
	    "analysisConfigurations": {"canary": {"direction": "increase", "critical": true}}}],
	  "classifier": {"groupWeights": {"errors": 100}}}`
	typ := typeWith(t, KayentaCanaryTypeName, Options{Accounts: c.env.accounts, Analysis: Analysis{
		Configs:    savedConfigs{"prom-errors": {ID: "p", Name: "prom-errors", Revision: 1, Document: []byte(cfg)}},
		Prometheus: map[string]string{"other": "http://127.0.0.1:9", "metrics": prom},
	}})
	fields := func(control, experiment string) map[string]any {
		return map[string]any{"functionName": "hello", "aliasName": "live", "canaryConfig": map[string]any{
			"canaryConfigName": "prom-errors", "metricsAccountName": "metrics",
			"scopes": []any{map[string]any{"controlScope": control, "experimentScope": experiment, "step": 60,
				"startTimeIso": base.Format(time.RFC3339), "endTimeIso": base.Add(30 * time.Minute).Format(time.RFC3339)}},
		}}
	}
	r := newStageRun(t, typ, fixtureApp, fields("$PREVIOUS", "$LATEST"))
	res := r.all()
	if res.Status != status.Terminal || !strings.Contains(res.Error, "error ratio High") {
		t.Fatalf("version 2 against 1: %s %q; want TERMINAL on the error ratio", res.Status, res.Error)
	}
	m := reportOf(t, r.outputs).Intervals[0].Metrics[0]
	if m.Control.Count != 30 || m.Experiment.Mean == nil || *m.Experiment.Mean < 0.2 {
		t.Errorf("samples read: control %d, experiment mean %v; want 30 minutes, about 0.2", m.Control.Count, m.Experiment.Mean)
	}
	out := newStageRun(t, typ, fixtureApp, fields("$LATEST", "$PREVIOUS")).mustSucceed()
	if rep := reportOf(t, out); rep.Decision == nil || rep.Decision.Result != canary.DecisionPass {
		t.Errorf("version 1 against 2: %+v; want a pass", rep.Decision)
	}
}
