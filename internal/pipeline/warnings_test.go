package pipeline

import (
	"slices"
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
		{"disabled", `{"application":"a","name":"n","disabled":true}`,
			[]string{"disabled: kept, not acted on: Sluice runs the pipeline whenever it is started"}},
		{"parameter typo", `{"application":"a","name":"n","parameterConfig":[{"name":"v","requierd":true}]}`,
			[]string{"parameterConfig[0].requierd: unknown field; did you mean required?"}},
		{"disabled trigger", `{"application":"a","name":"n","triggers":[{"type":"cron","enabled":false}]}`, nil},
		{"stage keys without a declaring type", `{"application":"a","name":"n","stages":[{"refId":"1","type":"wait","waitTime":1,"anything":1,"sendNotifications":true}]}`,
			[]string{"stages[0].sendNotifications: kept, not acted on: Sluice sends no notifications yet (issue 13)"}},
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
