package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// differingStageTypes is testStageTypes with a type "deck" that reads
// "memory", "fn" and "account", ignores "mode", and declares two
// differences: "memory" when absent, and "fn" when it lacks the
// application's prefix.
type differingStageTypes struct{ fakeStageTypes }

func (differingStageTypes) KnownFields(stageType string) *KnownFields {
	if stageType != "deck" {
		return nil
	}
	return &KnownFields{
		Keys:    keys("memory", "fn", "account", "region"),
		Ignored: map[string]string{"mode": "Sluice always works as auto"},
		Differs: map[string]Difference{
			"memory": {Why: "absent: differs", When: func(c DiffContext) bool { return !c.Present }},
			"fn": {Why: "unprefixed: differs", When: func(c DiffContext) bool {
				s, _ := c.Value.(string)
				return c.Present && !strings.HasPrefix(s, c.Application+"-")
			}},
		},
	}
}

func reportOptions() ValidateOptions {
	types := fakeStageTypes{"deck": func(map[string]any) []FieldProblem { return nil }}
	maps.Copy(types, testStageTypes)
	return ValidateOptions{
		StageTypes: differingStageTypes{types},
		CheckTarget: func(account, region string) error {
			switch {
			case account != "local" && account != "prod":
				return fmt.Errorf("unknown account %q", account)
			case region != "" && region != "us-east-1":
				return fmt.Errorf("account %s has no region %q", account, region)
			}
			return nil
		},
	}
}

// findings renders a report as lines: "verdict" for the pipeline, then
// "  path: message (kind)" for each finding, and each stage's verdict.
func findings(r *Report) []string {
	out := []string{string(r.Verdict)}
	add := func(indent string, ps []Problem, what string) {
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%s%s %s: %s (%s)", indent, what, p.Path, p.Msg, p.Kind))
		}
	}
	add("  ", r.Differs, "differs")
	add("  ", r.WontRun, "wontRun")
	for _, s := range r.Stages {
		out = append(out, fmt.Sprintf("  stage %d %s %s %s", s.Index, s.RefID, s.Type, s.Verdict))
		add("    ", s.Differs, "differs")
		add("    ", s.WontRun, "wontRun")
	}
	return out
}

func TestReport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"runs, bookkeeping is no finding",
			`{"application":"a","name":"n","id":"x","index":3,"updateTs":"1","lastModifiedBy":"me","schema":"1","spelEvaluator":"v4",
			  "stages":[{"refId":"1","type":"deck","memory":1,"fn":"a-f"}]}`,
			[]string{"runs", "  stage 0 1 deck runs"}},
		{"differences by the tables",
			`{"application":"a","name":"n","stages":[{"refId":"1","type":"deck","fn":"f","mode":"manual"}]}`,
			[]string{"differs", "  stage 0 1 deck differs",
				"    differs stages[0].fn: unprefixed: differs (differs)",
				"    differs stages[0].memory: absent: differs (differs)",
				"    differs stages[0].mode: kept, not acted on: Sluice always works as auto (ignored)"}},
		{"pipeline-level findings stay with the pipeline",
			`{"application":"a","name":"n","notifications":[{"type":"pubsub","address":"t","when":["pipeline.failed"]}],"limitConcurent":true,
			  "triggers":[{"type":"jenkins","enabled":true}],"stages":[{"refId":"1","type":"wait","waitTime":1}]}`,
			[]string{"differs",
				"  differs limitConcurent: unknown field; did you mean limitConcurrent? (unknown)",
				"  differs notifications[0].type: kept, not acted on: Sluice does not deliver pubsub notifications; it delivers email, googlechat, microsoftteams, slack, webhook (ignored)",
				"  differs triggers[0]: kept, not acted on: Sluice does not run \"jenkins\" triggers; start the pipeline with sluice run or the API (ignored)",
				"  stage 0 1 wait runs"}},
		{"one stage that will not run makes the pipeline not run",
			`{"application":"a","name":"n","stages":[{"refId":"1","type":"wait","waitTime":1},
			  {"refId":"2","type":"deck","memory":1,"fn":"a-f","account":"nope"},
			  {"refId":"3","type":"deck","memory":1,"fn":"a-f","account":"prod","region":"mars-1"},
			  {"refId":"4","type":"deck","memory":1,"fn":"a-f","region":"us-east-1"},
			  {"refId":"5","type":"deck","memory":1,"fn":"a-f","account":"${parameters.acct}","region":"nowhere"}]}`,
			[]string{"wontRun", "  stage 0 1 wait runs",
				"  stage 1 2 deck wontRun", `    wontRun stages[1].account: unknown account "nope" ()`,
				"  stage 2 3 deck wontRun", `    wontRun stages[2].region: account prod has no region "mars-1" ()`,
				"  stage 3 4 deck runs",
				"  stage 4 5 deck runs"}},
		{"errors outside stages",
			`{"stages":[{"refId":"1","type":"waitt","waitTime":1}]}`,
			[]string{"wontRun",
				"  wontRun application: missing application; set \"application\" to the application this pipeline belongs to ()",
				"  wontRun name: missing pipeline name; set \"name\" ()",
				"  stage 0 1 waitt wontRun",
				`    wontRun stages[0].type: unknown stage type "waitt"; did you mean "wait"? known types: Aws.LambdaDeleteStage, Aws.LambdaDeploymentStage, Aws.LambdaInvokeStage, Aws.LambdaTrafficRoutingStage, checkPreconditions, deck, evaluateVariables, manualJudgment, wait ()`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			got := findings(p.Report(reportOptions()))
			if !slices.Equal(got, tt.want) {
				t.Errorf("report =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			// The report's errors are Check's; its unknown and ignored
			// findings are Check's warnings.
			warnings, err := p.Check(reportOptions())
			var ve *ValidationError
			errors.As(err, &ve)
			r := p.Report(reportOptions())
			nWont, nWarn := len(r.WontRun), 0
			for _, d := range r.Differs {
				if d.Kind != KindDiffers {
					nWarn++
				}
			}
			for _, s := range r.Stages {
				nWont += len(s.WontRun)
				for _, d := range s.Differs {
					if d.Kind != KindDiffers {
						nWarn++
					}
				}
			}
			if ve == nil && nWont > 0 || ve != nil && len(ve.Problems) != nWont {
				t.Errorf("report has %d findings that will not run; Check: %v", nWont, err)
			}
			if nWarn != len(warnings) {
				t.Errorf("report has %d unknown or ignored findings; Check has %d warnings", nWarn, len(warnings))
			}
		})
	}
}

func TestFailedReport(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`{"stages": 3}`))
	r := FailedReport(err)
	if r.Verdict != VerdictWontRun || len(r.WontRun) != 1 || r.WontRun[0].Path != "stages" {
		t.Errorf("FailedReport(%v) = %+v", err, r)
	}
	r = FailedReport(errors.New("parse JSON: line 1"))
	if len(r.WontRun) != 1 || r.WontRun[0].Msg != "parse JSON: line 1" {
		t.Errorf("FailedReport of a plain error = %+v", r)
	}
}

func TestSplitDocuments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []string
		err      string
	}{
		{"one object as written", ` {"a": 1} `, []string{` {"a": 1} `}, ""},
		{"JSON array", `[{"a":1}, {"b": [2]}]`, []string{`{"a":1}`, `{"b": [2]}`}, ""},
		{"one YAML document as written", "# c\na: 1\n", []string{"# c\na: 1\n"}, ""},
		{"YAML list", "- a: 1\n- b: 2\n", []string{"a: 1\n", "b: 2\n"}, ""},
		{"YAML stream", "a: 1\n---\nb: 2\n", []string{"a: 1\n", "b: 2\n"}, ""},
		{"empty", " \n", nil, "empty document"},
		{"empty array", "[]", nil, "holds no pipelines"},
		{"not objects", `[{"a":1}, "x"]`, nil, "[1] must be a pipeline object, got a string"},
		{"trailing data", `[{"a":1}] {}`, nil, "unexpected data after the array"},
		{"YAML scalar", "- a: 1\n- 2\n", nil, "line 2: a pipeline must be a mapping"},
		{"bad YAML", "a: [1\n", nil, "parse YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			docs, err := SplitDocuments([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("SplitDocuments(%q) = %q, %v; want an error with %q", tt.in, docs, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range docs {
				got = append(got, string(d))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("SplitDocuments(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestIdentify(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, app, name string }{
		{`{"application": "a", "name": "n", "stages": 3}`, "a", "n"},
		{"application: a\nname: nightly\nstages: 3\n", "a", "nightly"},
		{`{"application": 5, "name": "n"}`, "", "n"},
		{`{"application": "a"`, "", ""},
		{"[1]", "", ""},
	} {
		if app, name := Identify([]byte(tt.in)); app != tt.app || name != tt.name {
			t.Errorf("Identify(%q) = %q, %q; want %q, %q", tt.in, app, name, tt.app, tt.name)
		}
	}
}
