package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/pipeline"
)

// stageWarnings validates a pipeline of the one stage, with the options the
// server uses, and returns its warnings as "path: message" lines. The stage
// must be valid: a warning is not a problem.
func stageWarnings(t *testing.T, stage map[string]any) []string {
	t.Helper()
	stage["refId"] = "1"
	doc, err := json.Marshal(map[string]any{"application": "shop", "name": "release", "stages": []any{stage}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	warnings, err := p.Check(ValidateOptions())
	if err != nil {
		t.Fatalf("the stage is not valid: %v\n%s", err, doc)
	}
	lines := make([]string, len(warnings))
	for i, w := range warnings {
		lines[i] = w.String()
	}
	return lines
}

// validStages are one valid stage of each type, without a key Sluice does
// not know.
func validStages() map[string]map[string]any {
	fn := map[string]any{"account": "local", "region": "us-east-1", "functionName": "orders"}
	with := func(fields map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range fn {
			out[k] = v
		}
		for k, v := range fields {
			out[k] = v
		}
		return out
	}
	return map[string]map[string]any{
		"deploy": with(map[string]any{"type": "Aws.LambdaDeploymentStage", "runtime": "python3.12", "handler": "app.handler",
			"role": "arn:aws:iam::123456789012:role/lambda", "s3bucket": "b", "s3key": "k.zip", "publish": true, "memorySize": 256, "timeout": 30}),
		"route": with(map[string]any{"type": "Aws.LambdaTrafficRoutingStage", "aliasName": "live", "deploymentStrategy": "$WEIGHTED",
			"versionNameA": "$LATEST", "versionNameB": "$PREVIOUS", "trafficPercentA": 10}),
		"invoke": with(map[string]any{"type": "Aws.LambdaInvokeStage", "aliasName": "live"}),
		"delete": with(map[string]any{"type": "Aws.LambdaDeleteStage", "version": "$OLDEST"}),
		"wait":   {"type": "wait", "waitTime": 5},
		"webhook": {"type": "webhook", "url": "https://ci.example.com/build", "method": "POST", "waitForCompletion": true,
			"statusUrlResolution": "getMethod", "statusJsonPath": "$.status", "successStatuses": "SUCCESS"},
	}
}

// TestWarningsTypos: each misspelling a Spinnaker user is likely to make
// passes validation with a warning that names the key meant, at its path.
func TestWarningsTypos(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stage, key string
		value      any
		want       string
	}{
		{"deploy", "publsh", true, "stages[0].publsh: unknown field; did you mean publish?"},
		{"deploy", "memorySzie", 512, "stages[0].memorySzie: unknown field; did you mean memorySize?"},
		{"deploy", "timout", 60, "stages[0].timout: unknown field; did you mean timeout?"},
		{"deploy", "envVariabels", map[string]any{"A": "b"}, "stages[0].envVariabels: unknown field; did you mean envVariables?"},
		{"deploy", "FunctionName", "orders", "stages[0].FunctionName: unknown field; did you mean functionName?"},
		{"wait", "stageEnabeld", map[string]any{"type": "expression", "expression": "true"}, "stages[0].stageEnabeld: unknown field; did you mean stageEnabled?"},
		{"wait", "failPipline", false, "stages[0].failPipline: unknown field; did you mean failPipeline?"},
		{"wait", "waitTiem", 3, "stages[0].waitTiem: unknown field; did you mean waitTime?"},
		{"webhook", "statusJsonpath", "$.s", "stages[0].statusJsonpath: unknown field; did you mean statusJsonPath?"},
		{"route", "trafficPrecentB", 90, "stages[0].trafficPrecentB: unknown field; did you mean trafficPercentB?"},
		{"invoke", "exectionCount", 2, "stages[0].exectionCount: unknown field; did you mean executionCount?"},
		{"delete", "zzz", 1, "stages[0].zzz: unknown field; Sluice keeps it but does not read it"},
		// Inside nested objects, with the dotted path.
		{"deploy", "tracingConfig", map[string]any{"mdoe": "Active"}, "stages[0].tracingConfig.mdoe: unknown field; did you mean mode?"},
		{"deploy", "deadLetterConfig", map[string]any{"targetARN": "arn:aws:sqs:us-east-1:123456789012:dlq"}, "stages[0].deadLetterConfig.targetARN: unknown field; did you mean targetArn?"},
		{"wait", "stageEnabled", map[string]any{"type": "expression", "expression": "true", "expresion": "false"}, "stages[0].stageEnabled.expresion: unknown field; did you mean expression?"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			stage := validStages()[tt.stage]
			stage[tt.key] = tt.value
			got := stageWarnings(t, stage)
			if !slices.Equal(got, []string{tt.want}) {
				t.Errorf("warnings = %q, want [%q]", got, tt.want)
			}
		})
	}
}

// TestWarningsListsOfObjects: a key inside an object of a list is reported
// at its index.
func TestWarningsListsOfObjects(t *testing.T) {
	t.Parallel()
	got := stageWarnings(t, map[string]any{"type": "manualJudgment",
		"judgmentInputs": []any{map[string]any{"value": "go"}, map[string]any{"value": "stop", "vaule": "x"}}})
	want := []string{"stages[0].judgmentInputs[1].vaule: unknown field; did you mean value?"}
	if !slices.Equal(got, want) {
		t.Errorf("warnings = %q, want %q", got, want)
	}
}

// TestWarningsIgnored: each Spinnaker key Sluice keeps without acting on is
// named, with what Sluice does instead, when it asks for something; set to
// its empty value (as Deck writes it) it asks for nothing and is not.
func TestWarningsIgnored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stage, key string
		value      any
		because    string // in the warning
	}{
		{"route", "trafficPercentB", 90, "trafficPercentA"},
		{"route", "healthCheckType", "$LAMBDA", "no health check"},
		{"invoke", "lambdaPayload", "{}", "payload"},
		{"invoke", "lambdaOutput", "x", "expectedOutput"},
		{"invoke", "outputArtifact", map[string]any{"type": "embedded/base64"}, "expectedOutput"},
		{"invoke", "qualifier", "3", "aliasName or version"},
		{"delete", "qualifier", "3", "version"},
		{"wait", "skipWaitText", "Skip", "skip-wait"},
		{"wait", "propagateAuthenticationContext", true, "no authentication context"},
		{"webhook", "expectedArtifacts", []any{map[string]any{"id": "a"}}, "webhook.body"},
	}
	for _, tt := range tests {
		t.Run(tt.stage+"/"+tt.key, func(t *testing.T) {
			t.Parallel()
			stage := validStages()[tt.stage]
			stage[tt.key] = tt.value
			got := stageWarnings(t, stage)
			prefix := fmt.Sprintf("stages[0].%s: kept, not acted on: ", tt.key)
			if len(got) != 1 || !strings.HasPrefix(got[0], prefix) || !strings.Contains(got[0], tt.because) {
				t.Errorf("warnings = %q, want one starting %q and saying %q", got, prefix, tt.because)
			}

			stage = validStages()[tt.stage]
			stage[tt.key] = emptyLike(tt.value)
			if got := stageWarnings(t, stage); len(got) > 0 {
				t.Errorf("with %s = %v: warnings = %q, want none", tt.key, stage[tt.key], got)
			}
		})
	}
}

func emptyLike(v any) any {
	switch v.(type) {
	case bool:
		return false
	case string:
		return ""
	case []any:
		return []any{}
	case map[string]any:
		return map[string]any{}
	}
	return 0
}

// TestWarningsDeckKeys: keys Deck writes that change nothing in Spinnaker
// either pass without a warning.
func TestWarningsDeckKeys(t *testing.T) {
	t.Parallel()
	stage := validStages()["deploy"]
	for k, v := range map[string]any{"cloudProvider": "aws", "credentials": "local", "appName": "shop", "functionUid": "orders",
		"stackName": "", "detailName": "", "describeName": "", "vpcId": "", "operation": "", "KMSKeyArn": "", "kmskeyArn": "",
		"comments": "deploys orders", "overrideTimeout": true, "stageTimeoutMs": 60000} {
		stage[k] = v
	}
	if got := stageWarnings(t, stage); len(got) > 0 {
		t.Errorf("warnings = %q, want none", got)
	}
}

// TestWarningsStageTypeTypo: a misspelled stage type is an error that
// suggests the type whose words match, not merely the nearest string.
func TestWarningsStageTypeTypo(t *testing.T) {
	t.Parallel()
	tests := []struct{ typ, want string }{
		{"Aws.LambdaDeployStage", `did you mean "Aws.LambdaDeploymentStage"?`},
		{"Aws.LambdaDeletStage", `did you mean "Aws.LambdaDeleteStage"?`},
		{"Aws.LambdaInvokStage", `did you mean "Aws.LambdaInvokeStage"?`},
		{"Aws.LambdaRoutingStage", `did you mean "Aws.LambdaTrafficRoutingStage"?`},
		{"lambdaDeploy", `did you mean "lambdaDeployment"?`},
		{"manualJudgement", `did you mean "manualJudgment"?`},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			p, err := pipeline.Parse([]byte(fmt.Sprintf(`{"application":"a","name":"n","stages":[{"refId":"1","type":%q}]}`, tt.typ)))
			if err != nil {
				t.Fatal(err)
			}
			err = p.Validate(ValidateOptions())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error saying %s", err, tt.want)
			}
		})
	}
}

// TestExamplesHaveNoWarnings: the example pipelines use only keys Sluice
// reads.
func TestExamplesHaveNoWarnings(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../examples/pipelines/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example pipelines: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		p, err := pipeline.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		warnings, err := p.Check(ValidateOptions())
		if err != nil || len(warnings) > 0 {
			t.Errorf("%s: error %v, warnings %v; want neither", file, err, warnings)
		}
	}
}

// TestWarningsPreconditions: per-precondition failPipeline is read, never
// warned about; failureMessage is named when it is set; typos inside a
// precondition's context are found at their path.
func TestWarningsPreconditions(t *testing.T) {
	t.Parallel()
	pre := func(extra, context map[string]any) map[string]any {
		ctx := map[string]any{"expression": "true"}
		for k, v := range context {
			ctx[k] = v
		}
		p := map[string]any{"type": "expression", "context": ctx}
		for k, v := range extra {
			p[k] = v
		}
		return map[string]any{"type": "checkPreconditions", "preconditions": []any{p}}
	}
	tests := []struct {
		name           string
		extra, context map[string]any
		want           []string
	}{
		{"Deck's defaults", map[string]any{"failPipeline": true}, map[string]any{"failureMessage": ""}, nil},
		{"failPipeline false", map[string]any{"failPipeline": false}, nil, nil},
		{"failureMessage", nil, map[string]any{"failureMessage": "not ready"},
			[]string{"stages[0].preconditions[0].context.failureMessage: kept, not acted on: the stage's error says which precondition failed and why"}},
		{"typo in context", nil, map[string]any{"stageNme": "Plan"},
			[]string{"stages[0].preconditions[0].context.stageNme: unknown field; did you mean stageName?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := stageWarnings(t, pre(tt.extra, tt.context)); !slices.Equal(got, tt.want) {
				t.Errorf("warnings = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestWarningsNotifications: a stage's notifications, of every stage type,
// are read (no warning) when sendNotifications is set, and named when it
// is not, since they would not be sent.
func TestWarningsNotifications(t *testing.T) {
	t.Parallel()
	for name, st := range validStages() {
		when := "stage.failed"
		if st["type"] == "manualJudgment" {
			when = "manualJudgment"
		}
		st["notifications"] = []any{map[string]any{"type": "slack", "address": "#deploys", "level": "stage", "when": []any{when},
			"message": map[string]any{when: map[string]any{"text": "look"}}}}
		st["sendNotifications"] = true
		if got := stageWarnings(t, st); len(got) != 0 {
			t.Errorf("%s with notifications: warnings %q, want none", name, got)
		}
		delete(st, "sendNotifications")
		want := "stages[0].sendNotifications: the stage's notifications are not sent: as in Spinnaker, set sendNotifications to true to send them"
		if got := stageWarnings(t, st); !slices.Equal(got, []string{want}) {
			t.Errorf("%s without sendNotifications: warnings %q, want %q", name, got, want)
		}
	}
}

// TestExecutionWindowDocument: a stage's deployment window is read, so its
// keys are not warned about, and what Orca would fail on when the stage
// runs is refused when the pipeline is saved, naming the field; a typo in
// the window is found at its path.
func TestExecutionWindowDocument(t *testing.T) {
	t.Parallel()
	window := func(w any) map[string]any {
		s := validStages()["deploy"]
		s["restrictExecutionDuringTimeWindow"] = true
		s["skipWindowText"] = "ask #releases first"
		s["restrictedExecutionWindow"] = w
		return s
	}
	deck := map[string]any{
		"whitelist": []any{map[string]any{"startHour": 22, "startMin": 0, "endHour": 5, "endMin": 30}},
		"days":      []any{2, 3, 4, 5, 6},
		"jitter":    map[string]any{"enabled": true, "minDelay": 0, "maxDelay": 600, "skipManual": true},
	}
	if got := stageWarnings(t, window(deck)); len(got) > 0 {
		t.Errorf("Deck's window: warnings %q, want none", got)
	}
	if got := stageWarnings(t, window(map[string]any{"days": []any{1}, "strictDay": true})); len(got) != 1 ||
		got[0] != "stages[0].restrictedExecutionWindow.strictDay: unknown field; did you mean strictDays?" {
		t.Errorf("a typo: warnings %q", got)
	}
	off := validStages()["wait"]
	off["restrictExecutionDuringTimeWindow"] = false
	off["restrictedExecutionWindow"] = map[string]any{"whitelist": []any{}}
	if got := stageWarnings(t, off); len(got) > 0 {
		t.Errorf("a window turned off: warnings %q, want none", got)
	}
	for _, tt := range []struct {
		name string
		set  func(map[string]any)
		want string
	}{
		{"no window", func(s map[string]any) { delete(s, "restrictedExecutionWindow") }, "stages[0].restrictedExecutionWindow: is required with restrictExecutionDuringTimeWindow: true"},
		{"never opens", func(s map[string]any) {
			s["restrictedExecutionWindow"] = map[string]any{"whitelist": []any{}, "days": []any{}}
		}, "stages[0].restrictedExecutionWindow.whitelist: is empty and so are days"},
		{"hour", func(s map[string]any) {
			s["restrictedExecutionWindow"] = map[string]any{"whitelist": []any{map[string]any{"startHour": 25}}}
		}, "stages[0].restrictedExecutionWindow.whitelist[0].startHour: must be"},
		{"day", func(s map[string]any) { s["restrictedExecutionWindow"] = map[string]any{"days": []any{8}} }, "stages[0].restrictedExecutionWindow.days[0]: must be"},
		{"not a boolean", func(s map[string]any) { s["restrictExecutionDuringTimeWindow"] = "yes" }, "stages[0].restrictExecutionDuringTimeWindow: must be true or false"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := window(deck)
			tt.set(s)
			s["refId"] = "1"
			doc, _ := json.Marshal(map[string]any{"application": "shop", "name": "release", "stages": []any{s}})
			p, err := pipeline.Parse(doc)
			if err == nil {
				err = p.Validate(ValidateOptions())
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v; want %q", err, tt.want)
			}
		})
	}
}
