package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const fanOut = `{
  "application": "myapp", "name": "fan-out",
  "parameterConfig": [{"name": "env"}],
  "stages": [
    {"refId": "1", "type": "wait", "name": "Start", "waitTime": 1},
    {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "East", "waitTime": 1},
    {"refId": "3", "requisiteStageRefIds": ["1"], "type": "wait", "name": "West", "waitTime": 1},
    {"refId": "4", "requisiteStageRefIds": ["2", "3"], "type": "manualJudgment", "name": "Join"},
    {"refId": "5", "type": "wait", "name": "Alone", "waitTime": 1}
  ]
}`

func mustParse(t *testing.T, doc string) *Pipeline {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func names(stages []*Stage) []string {
	out := []string{}
	for _, s := range stages {
		out = append(out, s.Name)
	}
	return out
}

func TestGraphHelpers(t *testing.T) {
	t.Parallel()
	p := mustParse(t, fanOut)

	if got := p.Stage("4"); got == nil || got.Name != "Join" {
		t.Errorf(`Stage("4") = %v, want the "Join" stage`, got)
	}
	for _, ref := range []string{"", "9"} {
		if got := p.Stage(ref); got != nil {
			t.Errorf("Stage(%q) = %v, want nil", ref, got)
		}
	}
	tests := []struct {
		name string
		got  []*Stage
		want []string
	}{
		{"InitialStages", p.InitialStages(), []string{"Start", "Alone"}},
		{`Downstream("1")`, p.Downstream("1"), []string{"East", "West"}},
		{`Downstream("2")`, p.Downstream("2"), []string{"Join"}},
		{`Downstream("4")`, p.Downstream("4"), []string{}},
		{`Downstream("")`, p.Downstream(""), []string{}},
	}
	for _, tt := range tests {
		if got := names(tt.got); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	p := mustParse(t, fanOut)
	if err := p.Validate(testOptions()); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got, want := p.Summary(), `pipeline "myapp/fan-out" is valid: 5 stages, 1 parameter`; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	one := mustParse(t, `{"application": "a", "name": "b", "stages": [{"refId": "1", "type": "wait"}]}`)
	if got, want := one.Summary(), `pipeline "a/b" is valid: 1 stage, 0 parameters`; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
}

func TestStageTypedFields(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `{"stages": [
	  {"refId": "1", "type": "wait"},
	  {"refId": "2", "type": "wait", "failPipeline": null, "rollbackOnFailure": null},
	  {"refId": "3", "type": "wait", "failPipeline": false, "continuePipeline": true,
	   "completeOtherBranchesThenFail": true, "failOnFailedExpressions": true,
	   "stageTimeoutMs": 90000, "rollbackOnFailure": false,
	   "stageEnabled": {"type": "expression", "expression": "x > 1"}}
	]}`)
	f := false
	want := []Stage{
		{RefID: "1", Name: "wait", Type: "wait", FailPipeline: true},
		{RefID: "2", Name: "wait", Type: "wait", FailPipeline: true},
		{RefID: "3", Name: "wait", Type: "wait", FailPipeline: false, ContinuePipeline: true,
			CompleteOtherBranchesThenFail: true, FailOnFailedExpressions: true, StageTimeoutMs: 90000,
			RollbackOnFailure: &f, StageEnabled: &StageEnabled{Type: "expression", Expression: "x > 1"}},
	}
	for i, s := range p.Stages {
		got := *s
		got.Fields = nil
		want[i].RequisiteStageRefIDs = []string{}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("stage %d:\ngot  %+v\nwant %+v", i, got, want[i])
		}
	}
}

func TestPipelineTypedFields(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `{"application": "a", "name": "b", "id": "c", "description": "d",
	  "limitConcurrent": false, "maxConcurrentExecutions": 3, "keepWaitingPipelines": true,
	  "rollbackOnFailure": true, "notifications": [{"type": "email"}], "custom": 1}`)
	want := Pipeline{
		Application: "a", Name: "b", ID: "c", Description: "d",
		LimitConcurrent: false, MaxConcurrentExecutions: 3, KeepWaitingPipelines: true,
		RollbackOnFailure: true, Notifications: []map[string]any{{"type": "email"}},
		Extra: map[string]any{"custom": int64(1)},
	}
	if !reflect.DeepEqual(*p, want) {
		t.Errorf("got  %+v\nwant %+v", *p, want)
	}
	if !mustParse(t, `{}`).LimitConcurrent {
		t.Error("LimitConcurrent is false for a document without it, want true")
	}
}

func TestNumbers(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `{"stages": [{"refId": "1", "type": "wait",
	  "a": 5, "b": -7, "c": 2.5, "d": 1e3, "e": 9223372036854775807, "f": 1e19, "g": [1, 1.5]}]}`)
	got := p.Stages[0].Fields
	want := map[string]any{
		"a": int64(5), "b": int64(-7), "c": 2.5, "d": int64(1000),
		"e": int64(9223372036854775807), "f": 1e19, "g": []any{int64(1), 1.5},
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	if _, err := Parse([]byte(`{"stages": [{"x": 1e400}]}`)); err == nil ||
		!strings.Contains(err.Error(), "out of range") {
		t.Errorf("Parse of 1e400: err = %v, want out of range", err)
	}
}

// TestWrongTypesRoundTrip: values of the wrong JSON type are kept as
// written, re-emitted, and reported again after a round trip.
func TestWrongTypesRoundTrip(t *testing.T) {
	t.Parallel()
	doc := `{"application": 1, "name": ["x"], "limitConcurrent": "yes", "maxConcurrentExecutions": "2",
	  "parameterConfig": [{"name": 3, "options": "a,b", "pinned": "no"}],
	  "triggers": [{"type": false}],
	  "stages": [{"refId": true, "requisiteStageRefIds": [{}], "type": 1, "name": 2,
	    "stageEnabled": {"expression": 3}, "failPipeline": "no", "stageTimeoutMs": "1"}]}`
	p := mustParse(t, doc)
	first, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var gotDoc, wantDoc any
	if err := json.Unmarshal(first, &gotDoc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(doc), &wantDoc); err != nil {
		t.Fatal(err)
	}
	// Everything is wrong, so nothing is normalized except the keys that
	// are always written.
	want := wantDoc.(map[string]any)
	want["keepWaitingPipelines"] = false
	want["parameterConfig"].([]any)[0].(map[string]any)["required"] = false
	want["parameterConfig"].([]any)[0].(map[string]any)["hasOptions"] = false
	if !reflect.DeepEqual(gotDoc, want) {
		t.Errorf("MarshalJSON:\ngot  %s\nwant %s", first, doc)
	}

	again := mustParse(t, string(first))
	second, err := again.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != string(second) {
		t.Errorf("round trip changed the document:\nfirst:  %s\nsecond: %s", first, second)
	}
	err1, err2 := p.Validate(testOptions()), again.Validate(testOptions())
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() {
		t.Errorf("problems differ after a round trip:\n%v\n---\n%v", err1, err2)
	}
	if n := len(err1.(*ValidationError).Problems); n < 12 {
		t.Errorf("got %d problems, want every wrong type reported:\n%v", n, err1)
	}
}

func TestTypedFieldsWin(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `{"application": "a", "name": "b", "stages": [{"refId": "1", "type": "wait", "name": "W", "failPipeline": true}]}`)
	p.LimitConcurrent = false
	s := p.Stages[0]
	s.Name = "Renamed"
	s.FailPipeline = false
	s.RequisiteStageRefIDs = []string{"0"}
	out, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"limitConcurrent":false`, `"name":"Renamed"`, `"failPipeline":false`, `"requisiteStageRefIds":["0"]`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("MarshalJSON = %s, want it to contain %s", out, want)
		}
	}
}

func TestUnmarshalJSON(t *testing.T) {
	t.Parallel()
	var body struct {
		Pipeline *Pipeline `json:"pipeline"`
	}
	if err := json.Unmarshal([]byte(`{"pipeline": {"application": "a", "name": "b", "stages": [{"refId": 1, "type": "wait"}]}}`), &body); err != nil {
		t.Fatal(err)
	}
	if got := body.Pipeline.Stage("1"); got == nil || got.Name != "wait" {
		t.Errorf(`Stage("1") = %+v, want the normalized wait stage`, got)
	}
	err := json.Unmarshal([]byte(`{"pipeline": {"stages": "x"}}`), &body)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Errorf("Unmarshal of a bad shape: err = %v, want a *ValidationError", err)
	}
}

// TestValidateBuiltInCode: a pipeline built in Go, without Fields, is
// validated from its typed fields.
func TestValidateBuiltInCode(t *testing.T) {
	t.Parallel()
	p := &Pipeline{
		Application: "a", Name: "b", LimitConcurrent: true,
		Stages: []*Stage{
			{RefID: "1", Type: "manualJudgment", Name: "One", FailPipeline: true},
			{RefID: "2", RequisiteStageRefIDs: []string{"1", "3"}, Type: "manualJudgment", Name: "Two"},
			{RefID: "3", RequisiteStageRefIDs: []string{"2"}, Type: "manualJudgment", Name: "Three", StageTimeoutMs: -1},
		},
	}
	err := p.Validate(testOptions())
	want := `stages[2].stageTimeoutMs: must not be negative, got -1; remove it to keep the stage type's timeout
stages[1].requisiteStageRefIds: cycle: "Two" (2) → "Three" (3) → "Two" (2); a stage cannot wait for itself, remove one of these requisites`
	if err == nil || err.Error() != want {
		t.Errorf("Validate:\ngot  %v\nwant %s", err, want)
	}
	p.Stages[2].RequisiteStageRefIDs = nil
	p.Stages[2].StageTimeoutMs = 0
	if err := p.Validate(testOptions()); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestValidationErrorLines(t *testing.T) {
	t.Parallel()
	err := &ValidationError{Problems: []Problem{{Path: "name", Msg: "missing"}, {Msg: "whole document"}, {Path: "stages[0].type", Msg: "unknown"}}}
	want := "name: missing\nwhole document\nstages[0].type: unknown"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestCheckExpressionFirstLine: only the first line of a checker's error
// is kept, so every problem stays on one line.
func TestCheckExpressionFirstLine(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `{"application": "a", "name": "b", "stages": [{"refId": "1", "type": "x", "m": "${ 1 + }"}]}`)
	err := p.Validate(ValidateOptions{CheckExpression: func(string) error {
		return errors.New("bad token (1:4)\n | 1 +\n | ...^")
	}})
	want := `stages[0].m: expression "${ 1 + }": bad token (1:4)`
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %s", err, want)
	}
}

// TestCheckAccount: every account a stage names literally, in account or
// credentials, is checked against the pipeline's application; one given by
// an expression is left to run time.
func TestCheckAccount(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `{"application": "blog", "name": "b", "stages": [
		{"refId": "1", "type": "x", "account": "prod"},
		{"refId": "2", "type": "x", "account": "dev"},
		{"refId": "3", "type": "x", "credentials": "prod"},
		{"refId": "4", "type": "x", "account": "${trigger.parameters.account}"},
		{"refId": "5", "type": "x"},
		{"refId": "6", "type": "x", "account": 7}]}`)
	type call struct{ app, account string }
	var calls []call
	err := p.Validate(ValidateOptions{CheckAccount: func(app, account string) error {
		calls = append(calls, call{app, account})
		if account == "prod" {
			return fmt.Errorf("application %q may not deploy to account %q\nsecond line", app, account)
		}
		return nil
	}})
	want := `stages[0].account: application "blog" may not deploy to account "prod"` + "\n" +
		`stages[2].credentials: application "blog" may not deploy to account "prod"`
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want\n%s", err, want)
	}
	wantCalls := []call{{"blog", "prod"}, {"blog", "dev"}, {"blog", "prod"}}
	if !slices.Equal(calls, wantCalls) {
		t.Errorf("CheckAccount calls = %v, want %v", calls, wantCalls)
	}
}

func TestNearest(t *testing.T) {
	t.Parallel()
	known := []string{"wait", "manualJudgment", "evaluateVariables", "Aws.LambdaDeploymentStage"}
	tests := []struct{ in, want string }{
		{"wiat", "wait"},
		{"WAIT", "wait"},
		{"wai", "wait"},
		{"manualjudgement", "manualJudgment"},
		{"evaluateVariable", "evaluateVariables"},
		{"Aws.LambdaDeploymentStge", "Aws.LambdaDeploymentStage"},
		{"deploy", ""},
		{"x", ""},
	}
	lambda := []string{"Aws.LambdaDeleteStage", "Aws.LambdaDeploymentStage", "lambdaDelete", "lambdaDeployment"}
	for _, tt := range []struct{ in, want string }{
		// As near to Delete as to Deployment by edits; the words decide.
		{"Aws.LambdaDeployStage", "Aws.LambdaDeploymentStage"},
		{"lambdaDeploy", "lambdaDeployment"},
		{"Aws.LambdaDeletStage", "Aws.LambdaDeleteStage"},
	} {
		if got := nearest(tt.in, lambda); got != tt.want {
			t.Errorf("nearest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range tests {
		if got := nearest(tt.in, known); got != tt.want {
			t.Errorf("nearest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"wait", "wait", 0},
		{"wiat", "wait", 1}, {"kitten", "sitting", 3}, {"ca", "abc", 3}, {"ünï", "uni", 2},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestMarshalByValue: encoding/json uses the document form for pipelines,
// stages, parameters and triggers, by pointer or by value.
func TestMarshalByValue(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `{"application": "a", "name": "b", "x": "<&>",
	  "parameterConfig": [{"name": "env"}], "triggers": [{"type": "cron"}],
	  "stages": [{"refId": 1, "type": "wait"}]}`)
	direct, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(direct), `"x":"<&>"`) {
		t.Errorf("MarshalJSON escaped HTML: %s", direct)
	}
	for name, v := range map[string]any{"pointer": p, "value": *p} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var got, want any
		_ = json.Unmarshal(b, &got)
		_ = json.Unmarshal(direct, &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("json.Marshal(%s) = %s, want %s", name, b, direct)
		}
	}
	for name, tt := range map[string]struct {
		v    any
		want string
	}{
		"stage":     {*p.Stages[0], `{"name":"wait","refId":"1","requisiteStageRefIds":[],"type":"wait"}`},
		"parameter": {p.ParameterConfig[0], `{"hasOptions":false,"name":"env","pinned":false,"required":false}`},
		"trigger":   {p.Triggers[0], `{"type":"cron"}`},
	} {
		b, err := json.Marshal(tt.v)
		if err != nil || string(b) != tt.want {
			t.Errorf("json.Marshal(%s) = %s, %v; want %s", name, b, err, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "empty pipeline document"},
		{" \n\t", "empty pipeline document"},
		{"null", "pipeline document must be an object, got null"},
		{"just text", "pipeline document must be an object, got a string"},
		{"a: .inf", "parse YAML: numbers must be finite; .inf and .nan have no JSON form"},
		{"{\n  \"a\": 1,\n  \"é\": tru\n}", "parse JSON: line 3, column 11: invalid character '\\n' in literal true (expecting 'e')"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) err = %v, want %s", tt.in, err, tt.want)
		}
	}
}

func TestWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"Aws.LambdaDeployStage", []string{"aws", "lambda", "deploy", "stage"}},
		{"trafficPercentB", []string{"traffic", "percent", "b"}},
		{"memorySzie", []string{"memory", "szie"}},
		{"x-sluice-hint", []string{"x", "sluice", "hint"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := words(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("words(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
