package pipeline_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/sluice-cd/sluice/internal/pipeline"
)

func TestKeepKeyOrder(t *testing.T) {
	t.Parallel()
	// The normalized document has sorted keys, a key the author left out
	// (limitConcurrent), and the author's values.
	normalized := `{"application":"hello","limitConcurrent":true,"name":"release","stages":[{"name":"Wait","refId":"1","requisiteStageRefIds":[],"type":"wait","waitTime":5}],"zeta":{"b":1,"a":"<x>"}}`
	for _, tc := range []struct {
		name, written, want string
	}{
		{"json", `{"name": "release", "zeta": {"a": "<x>", "b": 1}, "application": "hello",
  "stages": [{"type": "wait", "waitTime": 5, "name": "Wait", "refId": "1"}]}`,
			`{"name":"release","zeta":{"a":"<x>","b":1},"application":"hello","stages":[{"type":"wait","waitTime":5,"name":"Wait","refId":"1","requisiteStageRefIds":[]}],"limitConcurrent":true}`},
		{"yaml", "name: release\nstages:\n- type: wait\n  refId: \"1\"\n  waitTime: 5\n  name: Wait\napplication: hello\nzeta: {b: 1, a: <x>}\n",
			`{"name":"release","stages":[{"type":"wait","refId":"1","waitTime":5,"name":"Wait","requisiteStageRefIds":[]}],"application":"hello","zeta":{"b":1,"a":"<x>"},"limitConcurrent":true}`},
	} {
		got, err := pipeline.KeepKeyOrder([]byte(normalized), []byte(tc.written))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal([]byte(normalized), &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: the values changed: %s", tc.name, got)
		}
	}
}

func TestToYAMLKeepsOrderAndValues(t *testing.T) {
	t.Parallel()
	doc := `{"name":"release","stages":[{"type":"wait","waitTime":5,"ratio":0.5,"big":1e3}],"strings":["true","1","","null","a: b","- x","line one\nline two"],"flag":false,"none":null,"empty":{},"list":[],"application":"hello"}`
	y, err := pipeline.ToYAML([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := "name: release\nstages:\n- type: wait\n"
	if string(y[:len(want)]) != want {
		t.Errorf("YAML starts\n%s\nwant\n%s", y, want)
	}
	back, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("the YAML does not parse: %v\n%s", err, y)
	}
	var a, b any
	_ = json.Unmarshal(back, &a)
	_ = json.Unmarshal([]byte(doc), &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("YAML round trip = %s, want %s\nYAML:\n%s", back, doc, y)
	}
}
