package pipeline

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestCheckWarnings: keys at the top and in parameters are checked against
// the document format's own tables, and warnings never make a document
// invalid.
func TestCheckWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"none", `{"application":"a","name":"n","index":3,"spelEvaluator":"v4","updateTs":"1","schema":"1","disabled":false,"notifications":[],"expectedArtifacts":[]}`, nil},
		{"top-level typo", `{"application":"a","name":"n","limitConcurent":false}`,
			[]string{"limitConcurent: unknown field; did you mean limitConcurrent?"}},
		{"unknown, no suggestion", `{"application":"a","name":"n","owner":"team-x"}`,
			[]string{"owner: unknown field; Sluice keeps it but does not read it"}},
		{"disabled is read: triggers skip the pipeline", `{"application":"a","name":"n","disabled":true}`, nil},
		{"parameter typo", `{"application":"a","name":"n","parameterConfig":[{"name":"v","requierd":true}]}`,
			[]string{"parameterConfig[0].requierd: unknown field; did you mean required?"}},
		{"disabled trigger", `{"application":"a","name":"n","triggers":[{"type":"cron","enabled":false}]}`, nil},
		{"stage keys without a declaring type", `{"application":"a","name":"n","stages":[{"refId":"1","type":"wait","waitTime":1,"anything":1,"propagateAuthenticationContext":true}]}`,
			[]string{"stages[0].propagateAuthenticationContext: kept, not acted on: Sluice runs every stage as itself; there is no authentication context to pass on"}},
		{"stage notifications without sendNotifications", `{"application":"a","name":"n","stages":[{"refId":"1","type":"wait","waitTime":1,
			"notifications":[{"type":"slack","address":"#d","when":["stage.failed"]}]}]}`,
			[]string{"stages[0].sendNotifications: the stage's notifications are not sent: as in Spinnaker, set sendNotifications to true to send them"}},
		{"stage notifications sent", `{"application":"a","name":"n","stages":[{"refId":"1","type":"wait","waitTime":1,"sendNotifications":true,
			"notifications":[{"type":"slack","address":"#d","level":"stage","when":["stage.failed"]}]}]}`, nil},
		{"undelivered type and reminder", `{"application":"a","name":"n","notifications":[{"type":"pubsub","address":"t","when":["pipeline.failed"]},
			{"type":"slack","address":"#d","when":["pipeline.failed"],"notifyEveryMs":60000}]}`,
			[]string{"notifications[0].type: kept, not acted on: Sluice does not deliver pubsub notifications; it delivers email, googlechat, microsoftteams, slack, webhook",
				"notifications[1].notifyEveryMs: kept, not acted on: Sluice notifies once when the judgment starts waiting, and does not remind"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			warnings, err := p.Check(testOptions())
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			var got []string
			for _, w := range warnings {
				got = append(got, w.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings = %q, want %q", got, tt.want)
			}
		})
	}
}

// declaringStageTypes is testStageTypes with one type, "deck", that
// declares its keys: it reads "read" (also in its ignored table, which it
// therefore overrides) and "list" (objects with key "k"), and ignores
// "mode" unless it is "auto".
type declaringStageTypes struct{ fakeStageTypes }

func (declaringStageTypes) KnownFields(stageType string) *KnownFields {
	if stageType != "deck" {
		return nil
	}
	return &KnownFields{
		Keys:    map[string]*KnownFields{"read": nil, "list": {Keys: keys("k")}},
		Ignored: map[string]string{"read": "never shown", "mode": "Sluice always works as auto"},
		Acts:    map[string]any{"mode": "auto"},
	}
}

// TestCheckWarningsStageKeys: a type's keys merge with every stage's; keys
// it reads win over its ignored table; Acts spares the value Sluice acts
// as; lists of objects are checked element by element.
func TestCheckWarningsStageKeys(t *testing.T) {
	t.Parallel()
	types := fakeStageTypes{"deck": func(map[string]any) []FieldProblem { return nil }}
	opts := ValidateOptions{StageTypes: declaringStageTypes{types}}
	tests := []struct {
		stage string
		want  []string
	}{
		{`{"read": 1, "mode": "auto", "name": "x", "failPipeline": false}`, nil},
		{`{"mode": "manual"}`, []string{"stages[0].mode: kept, not acted on: Sluice always works as auto"}},
		{`{"mode": null, "list": [{"k": 1}, {"kk": 2}, 3]}`, []string{"stages[0].list[1].kk: unknown field; did you mean k?"}},
		{`{"raed": 1, "stageTimeoutMS": 5}`, []string{
			"stages[0].raed: unknown field; did you mean read?",
			"stages[0].stageTimeoutMS: unknown field; did you mean stageTimeoutMs?",
		}},
	}
	for _, tt := range tests {
		p, err := Parse([]byte(`{"application":"a","name":"n","stages":[` + tt.stage[:len(tt.stage)-1] + `, "refId": "1", "type": "deck"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		warnings, err := p.Check(opts)
		if err != nil {
			t.Fatalf("%s: %v", tt.stage, err)
		}
		var got []string
		for _, w := range warnings {
			got = append(got, w.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: warnings = %q, want %q", tt.stage, got, tt.want)
		}
	}
}

// fakeTriggerTypes runs "cron" triggers and requires cronExpression.
type fakeTriggerTypes struct{}

func (fakeTriggerTypes) Known(name string) bool { return name == "cron" }
func (fakeTriggerTypes) Names() []string        { return []string{"cron"} }
func (fakeTriggerTypes) ValidateFields(_ string, fields map[string]any) []FieldProblem {
	if _, ok := fields["cronExpression"]; !ok {
		return []FieldProblem{{Field: "cronExpression", Msg: "missing"}}
	}
	return nil
}

// TestTriggerTypes: a trigger of a type Sluice runs is checked, not warned
// about; one of another type is warned about, naming the types Sluice runs.
func TestTriggerTypes(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(`{"application": "a", "name": "n", "stages": [], "triggers": [
  {"type": "cron", "enabled": true, "cronExpression": "0 0 12 * * ?"},
  {"type": "cron", "enabled": "yes"},
  {"type": "docker", "enabled": true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	warns, err := p.Check(ValidateOptions{TriggerTypes: fakeTriggerTypes{}})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Check = %v, want the problems of triggers[1]", err)
	}
	var paths []string
	for _, pr := range ve.Problems {
		paths = append(paths, pr.Path)
	}
	if strings.Join(paths, " ") != "triggers[1].enabled triggers[1].cronExpression" {
		t.Errorf("problems at %v, want triggers[1].enabled and triggers[1].cronExpression", paths)
	}
	if len(warns) != 1 || warns[0].Path != "triggers[2]" || !strings.Contains(warns[0].Msg, "it runs cron") {
		t.Errorf("warnings = %+v, want one about the docker trigger naming what Sluice runs", warns)
	}
}
