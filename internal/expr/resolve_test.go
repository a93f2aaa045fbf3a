package expr

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	env := testEnv()
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"plain string", "no expressions", "no expressions"},
		{"number keeps its type", "${waitTime}", float64(30)},
		{"int keeps its type", "${1 + 2}", 3},
		{"bool keeps its type", "${#stage('Build').hasSucceeded}", true},
		{"map keeps its type", "${artifact}", map[string]any{"name": "orders.zip"}},
		{"list keeps its type", "${items}", []any{"a", "b", "c"}},
		{"string", "${parameters.env}", "prod"},
		{"interpolated", "orders-${parameters.env}", "orders-prod"},
		{"several", "${parameters.env}-${#stage('Build').outputs.version}", "prod-1.2.3"},
		{"whole number without .0", "wait ${waitTime}s", "wait 30s"},
		{"fraction", "x=${waitTime / 4}", "x=7.5"},
		{"bool in text", "ok=${true}", "ok=true"},
		{"list as JSON", "items=${items}", `items=["a","b","c"]`},
		{"map as JSON", "a=${artifact}", `a={"name":"orders.zip"}`},
		{"spaces around are text", " ${1} ", " 1 "},
		{"quoted brace", "${'}' + parameters.env}", "}prod"},
		{"nested containers", map[string]any{
			"functionName": "orders-${parameters.env}",
			"payload": map[string]any{
				"items": []any{"a", float64(2), "${#stage('Build').outputs.version}", nil, true},
			},
			"${notAKey}": "key not evaluated",
		}, map[string]any{
			"functionName": "orders-prod",
			"payload": map[string]any{
				"items": []any{"a", float64(2), "1.2.3", nil, true},
			},
			"${notAKey}": "key not evaluated",
		}},
		{"typed string containers stay strings", map[string]any{
			"tags": map[string]string{"env": "${parameters.env}", "n": "${1 + 1}"},
			"list": []string{"${waitTime}", "x"},
		}, map[string]any{
			"tags": map[string]string{"env": "prod", "n": "2"},
			"list": []string{"30", "x"},
		}},
		{"other types untouched", float64(3), float64(3)},
		{"nil", nil, nil},
	}
	for _, tt := range tests {
		got, sum := Resolve(context.Background(), tt.in, env)
		if !sum.Empty() {
			t.Errorf("%s: Resolve(%#v) failures: %v", tt.name, tt.in, sum.Failures)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Resolve(%#v) = %#v, want %#v", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestResolveFailuresLeftInPlace(t *testing.T) {
	t.Parallel()
	env := testEnv()
	in := map[string]any{
		"payload": map[string]any{
			"items": []any{"ok", "${parameters.env}", "${#stage('Nope').status}"},
		},
		"name":    "fn-${#judgment('Gate')}-${parameters.env}",
		"missing": "${trigger.parameters.missing}",
		"typo":    "${parameter.env}",
		"broken":  "x ${1 +",
		"syntax":  "${1 +}",
		"odd key": "${T(java.lang.System).exit(1)}",
	}
	got, sum := Resolve(context.Background(), in, env)
	want := map[string]any{
		"payload": map[string]any{
			"items": []any{"ok", "prod", "${#stage('Nope').status}"},
		},
		"name":    "fn-${#judgment('Gate')}-prod",
		"missing": "${trigger.parameters.missing}",
		"typo":    "${parameter.env}",
		"broken":  "x ${1 +",
		"syntax":  "${1 +}",
		"odd key": "${T(java.lang.System).exit(1)}",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve = %#v\nwant %#v", got, want)
	}
	wantFailures := []Failure{
		{Path: `["odd key"]`, Expression: "${T(java.lang.System).exit(1)}", Msg: "type references T(…) are not supported"},
		{Path: "broken", Expression: "${1 +", Msg: "unterminated ${: add the closing }"},
		{Path: "missing", Expression: "${trigger.parameters.missing}", Msg: "evaluated to null", Null: true},
		{Path: "name", Expression: "${#judgment('Gate')}", Msg: `#judgment("Gate"): no judgment input recorded for stage "Gate" (status RUNNING)`},
		{Path: "payload.items[2]", Expression: "${#stage('Nope').status}", Msg: `no stage named "Nope"; stages are: "Build", "Deploy", "Approve", "Gate", "Wait"`},
		{Path: "syntax", Expression: "${1 +}", Msg: "expression ends too early"},
		{Path: "typo", Expression: "${parameter.env}", Msg: `cannot read env of null ("parameter" is not defined; defined names are`},
	}
	if len(sum.Failures) != len(wantFailures) {
		t.Fatalf("got %d failures, want %d: %v", len(sum.Failures), len(wantFailures), sum.Failures)
	}
	for i, w := range wantFailures {
		g := sum.Failures[i]
		if g.Path != w.Path || g.Expression != w.Expression || g.Null != w.Null || !strings.Contains(g.Msg, w.Msg) {
			t.Errorf("failure %d = %+v\nwant        %+v", i, g, w)
		}
	}
	if sum.Empty() {
		t.Error("Summary.Empty() = true with failures")
	}
}

func TestResolveDoesNotModifyInput(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"a": "${parameters.env}",
		"b": []any{"${1}", map[string]any{"c": "${2}"}},
		"d": []string{"${3}"},
	}
	snapshot := map[string]any{
		"a": "${parameters.env}",
		"b": []any{"${1}", map[string]any{"c": "${2}"}},
		"d": []string{"${3}"},
	}
	out, _ := Resolve(context.Background(), in, testEnv())
	if !reflect.DeepEqual(in, snapshot) {
		t.Fatalf("input modified: %#v", in)
	}
	// The output shares no containers with the input.
	out.(map[string]any)["b"].([]any)[1].(map[string]any)["c"] = "x"
	if in["b"].([]any)[1].(map[string]any)["c"] != "${2}" {
		t.Fatal("output shares a map with the input")
	}
}

func TestResolveNilSummaryIsEmpty(t *testing.T) {
	t.Parallel()
	var s *Summary
	if !s.Empty() {
		t.Fatal("nil Summary is not Empty")
	}
}

func TestResolveCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, sum := Resolve(ctx, "x-${1}", testEnv())
	if got != "x-${1}" || len(sum.Failures) != 1 || !strings.Contains(sum.Failures[0].Msg, "evaluation cancelled: context canceled") {
		t.Fatalf("Resolve with a cancelled context = %v, %v", got, sum.Failures)
	}
}

func TestFailureString(t *testing.T) {
	t.Parallel()
	f := Failure{Path: "a.b[1]", Expression: "${x}", Msg: "boom"}
	if got := f.String(); got != "a.b[1]: ${x}: boom" {
		t.Errorf("String() = %q", got)
	}
}

// TestResolveEscapedJSON interpolates a list whose JSON is six times the
// size of its string (each control character is \u00XX): the evaluation
// refuses it.
func TestResolveEscapedJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []any{"x-${[repeat(#fromBase64('AQ=='), 999000)]}", map[string]string{"a": "${[repeat(#fromBase64('AQ=='), 999000)]}"}} {
		_, sum := Resolve(context.Background(), in, testEnv())
		if len(sum.Failures) != 1 || !strings.Contains(sum.Failures[0].Msg, "the result as JSON would be at least 5994004 bytes, over the 1048576-byte limit") {
			t.Errorf("Resolve(%.40v…) failures = %.300v", in, sum.Failures)
		}
	}
}

// TestHolds checks Holds against Resolve: where Holds finds no "${",
// Resolve with no Env at all changes nothing and records nothing; where it
// finds one, it is the value Resolve would evaluate.
func TestHolds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want bool
	}{
		{"plain string", "no expressions", false},
		{"string", "${1}", true},
		{"a lone dollar or brace", "$ { } $x {y}", false},
		{"deep in a map", map[string]any{"a": []any{1.0, map[string]any{"b": "x-${2}"}}}, true},
		{"keys are not evaluated", map[string]any{"${k}": "v"}, false},
		{"numbers, bools and nulls", map[string]any{"n": 1.0, "b": true, "z": nil}, false},
		{"string list", []string{"a", "${1}"}, true},
		{"string map", map[string]string{"a": "b"}, false},
		{"string map with one", map[string]string{"a": "${b}"}, true},
		{"unterminated", "${", true}, // Resolve records it as a failure
	}
	for _, tc := range tests {
		if got := Holds(tc.in); got != tc.want {
			t.Errorf("%s: Holds = %v, want %v", tc.name, got, tc.want)
		}
		out, summary := Resolve(context.Background(), tc.in, nil)
		unchanged := reflect.DeepEqual(out, tc.in) && summary.Empty()
		if !tc.want && !unchanged {
			t.Errorf("%s: Holds is false, but Resolve gave %#v, %v", tc.name, out, summary.Failures)
		}
		if tc.want && unchanged {
			t.Errorf("%s: Holds is true, but Resolve changed nothing", tc.name)
		}
	}
}
