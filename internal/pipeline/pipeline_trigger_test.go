package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestCheckApplication: a pipeline stage naming another application, and a
// pipeline trigger on another application's pipeline, are checked with
// CheckApplication in the direction executions start: caller to callee,
// upstream to downstream. Expressions and the pipeline's own application
// are not checked.
func TestCheckApplication(t *testing.T) {
	t.Parallel()
	var asked []string
	opts := testOptions()
	opts.StageTypes = nil // the pipeline stage type lives in package stage
	opts.CheckApplication = func(from, to string) error {
		asked = append(asked, from+"->"+to)
		if from == "ops" && to == "web" {
			return nil
		}
		return errors.New("pipelines of application " + from + " may not start pipelines of application " + to)
	}
	p, err := Parse([]byte(`{"application":"web","name":"n",
		"triggers":[{"type":"pipeline","application":"ops","pipeline":"p1","status":["successful"],"enabled":true},
		            {"type":"pipeline","application":"db","pipeline":"p2","status":["failed"],"enabled":true}],
		"stages":[{"refId":"1","type":"pipeline","application":"db","pipeline":"p3"},
		          {"refId":"2","type":"pipeline","application":"web","pipeline":"p4"},
		          {"refId":"3","type":"pipeline","application":"${parameters.app}","pipeline":"p5"},
		          {"refId":"4","type":"pipeline","pipelineApplication":"ops","application":"web","pipeline":"p6"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Check(opts)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Check = %v, want a ValidationError", err)
	}
	var got []string
	for _, pr := range verr.Problems {
		got = append(got, fmt.Sprintf("%s: %s", pr.Path, pr.Msg))
	}
	want := []string{
		"triggers[1].application: pipelines of application db may not start pipelines of application web",
		"stages[0].application: pipelines of application web may not start pipelines of application db",
		"stages[3].pipelineApplication: pipelines of application web may not start pipelines of application ops",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("problems %q lack %q", got, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("problems = %q, want exactly %q", got, want)
	}
	wantAsked := []string{"ops->web", "db->web", "web->db", "web->ops"}
	if !slices.Equal(asked, wantAsked) {
		t.Errorf("CheckApplication asked %q, want %q", asked, wantAsked)
	}
}
