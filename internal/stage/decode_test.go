package stage_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/stage"
)

// common is a group of fields several specs share.
type common struct {
	Name stage.StringField `json:"name" hint:"a name"`
}

type entry struct {
	stage.Field
	Key   stage.StringField `json:"key"`
	Value stage.JSONField   `json:"value"`
}

type testSpec struct {
	common
	Memory   stage.IntField         `json:"memory" hint:"MB"`
	Ratio    stage.NumberField      `json:"ratio"`
	Publish  stage.BoolField        `json:"publish"`
	Version  stage.WeakStringField  `json:"version"`
	Aliases  stage.StringsField     `json:"aliases"`
	Env      stage.StringMapField   `json:"env" hint:"{} removes them"`
	Payload  stage.JSONField        `json:"payload"`
	Tracing  tracing                `json:"tracing"`
	Entries  stage.ListField[entry] `json:"entries"`
	internal string                 // not a field of the stage: Decode leaves it alone
}

type tracing struct {
	stage.Field
	Mode stage.StringField `json:"mode"`
}

func (s *testSpec) Check(c *stage.Checker) {
	c.Required(&s.Name)
	c.Valid(&s.Name, func(v string) bool { return strings.TrimSpace(v) != "" }) // one problem per field: not reported for "  "
	c.Range(&s.Memory, 128, 1024)
	if s.Tracing.Present() {
		c.Required(&s.Tracing.Mode)
	}
	c.OneOf(&s.Tracing.Mode, "Active", "PassThrough")
	for _, e := range s.Entries.Items {
		c.Required(&e.Key)
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	var s testSpec
	err := stage.Decode(map[string]any{
		"name": "orders", "memory": "512", "ratio": int64(3), "publish": "true", "version": 7.0,
		"aliases": "live, beta,", "env": map[string]any{"PORT": int64(8080), "DEBUG": true, "NAME": "x"},
		"payload": map[string]any{"a": []any{1.0}}, "tracing": map[string]any{"mode": "Active"},
		"entries": []any{map[string]any{"key": "k", "value": "${not evaluated}"}},
		"unknown": "kept by the document, ignored here",
	}, &s)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case s.internal != "":
		t.Errorf("Decode set an unexported field: %q", s.internal)
	case s.Name.Value != "orders" || s.Memory.Value != 512 || s.Ratio.Value != 3 || !s.Publish.Value || s.Version.Value != "7":
		t.Errorf("scalars: %+v", s)
	case !slices.Equal(s.Aliases.Value, []string{"live", "beta"}):
		t.Errorf("aliases = %q", s.Aliases.Value)
	case s.Env.Value["PORT"] != "8080" || s.Env.Value["DEBUG"] != "true" || s.Env.Value["NAME"] != "x":
		t.Errorf("env = %v", s.Env.Value)
	case !s.Tracing.Set() || s.Tracing.Mode.Value != "Active" || s.Tracing.Mode.Path() != "tracing.mode":
		t.Errorf("tracing = %+v", s.Tracing)
	case len(s.Entries.Items) != 1 || s.Entries.Items[0].Key.Value != "k" || s.Entries.Items[0].Value.Value != "${not evaluated}":
		t.Errorf("entries = %+v", s.Entries.Items)
	case !s.Payload.Set() || s.Ratio.Expr():
		t.Errorf("states: payload set %v", s.Payload.Set())
	}
}

func TestFieldStates(t *testing.T) {
	t.Parallel()
	var s testSpec
	errs := stage.Validate(map[string]any{"name": "n", "memory": nil, "ratio": "${parameters.ratio}", "publish": "maybe"}, &s)
	if len(errs) != 1 || errs[0].Field != "publish" {
		t.Fatalf("errors = %v, want one for publish", errs)
	}
	for _, tc := range []struct {
		name                                string
		f                                   interface{ Set() bool }
		set, missing, present, null, isExpr bool
	}{
		{"absent", &s.Version, false, true, false, false, false},
		{"null", &s.Memory, false, true, true, true, false},
		{"expression", &s.Ratio, false, false, true, false, true},
		{"invalid", &s.Publish, false, false, true, false, false},
		{"set", &s.Name, true, false, true, false, false},
	} {
		f := fieldOf(tc.f)
		if f.Set() != tc.set || f.Missing() != tc.missing || f.Present() != tc.present || f.Null() != tc.null || f.Expr() != tc.isExpr {
			t.Errorf("%s: Set %v Missing %v Present %v Null %v Expr %v", tc.name, f.Set(), f.Missing(), f.Present(), f.Null(), f.Expr())
		}
	}
}

func fieldOf(f any) *stage.Field {
	switch x := f.(type) {
	case *stage.WeakStringField:
		return &x.Field
	case *stage.IntField:
		return &x.Field
	case *stage.NumberField:
		return &x.Field
	case *stage.BoolField:
		return &x.Field
	case *stage.StringField:
		return &x.Field
	}
	panic("unexpected field type")
}

func TestValidateProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		fields map[string]any
		want   []string
	}{
		{"required", map[string]any{}, []string{"name: is required (a name)"}},
		{"blank", map[string]any{"name": "  "}, []string{"name: is required and must not be empty (a name)"}},
		{"types, with hints", map[string]any{"name": "n", "memory": "lots", "ratio": []any{}, "publish": 1.0, "version": map[string]any{}},
			[]string{`memory: must be a number, not "lots" (MB)`, "publish: must be true or false, not a number",
				"ratio: must be a number, not a list", "version: must be a string or a number, not an object"}},
		{"whole numbers", map[string]any{"name": "n", "memory": 256.5}, []string{"memory: must be a whole number, not 256.5 (MB)"}},
		{"range", map[string]any{"name": "n", "memory": 64}, []string{"memory: must be at least 128, not 64 (MB)"}},
		{"places inside a value", map[string]any{"name": "n", "aliases": []any{"a", 3.0}, "env": map[string]any{"A": map[string]any{}}},
			[]string{"aliases[1]: must be a string, not a number", "env.A: must be a string, not an object ({} removes them)"}},
		{"nested object", map[string]any{"name": "n", "tracing": map[string]any{"mode": "On"}},
			[]string{`tracing.mode: must be one of Active, PassThrough, not "On"`}},
		{"not an object", map[string]any{"name": "n", "tracing": "Active"}, []string{"tracing: must be an object, not a string"}},
		{"a field of an empty object", map[string]any{"name": "n", "tracing": map[string]any{}}, []string{"tracing.mode: is required"}},
		{"list of objects, in order", map[string]any{"name": "n", "entries": entries(11, map[int]any{1: "x", 2: map[string]any{"key": "a"}})},
			[]string{"entries[0].key: is required", "entries[1]: must be an object, not a string", "entries[3].key: is required",
				"entries[4].key: is required", "entries[5].key: is required", "entries[6].key: is required", "entries[7].key: is required",
				"entries[8].key: is required", "entries[9].key: is required", "entries[10].key: is required"}},
		{"not a list", map[string]any{"name": "n", "entries": map[string]any{}}, []string{"entries: must be a list, not an object"}},
		{"expressions are left alone", map[string]any{"name": "${n}", "memory": "${m}", "tracing": "${t}", "entries": "${e}",
			"env": map[string]any{"A": "${a}", "B": []any{}}, "aliases": []any{"${x}", 3.0}}, nil},
	} {
		var s testSpec
		var got []string
		for _, e := range stage.Validate(tc.fields, &s) {
			got = append(got, e.Error())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// entries is a list of n empty objects, except at the indexes of set.
func entries(n int, set map[int]any) []any {
	list := make([]any, n)
	for i := range list {
		list[i] = map[string]any{}
		if v, ok := set[i]; ok {
			list[i] = v
		}
	}
	return list
}

func TestDecodeChecksEvaluatedValues(t *testing.T) {
	t.Parallel()
	var s testSpec
	err := stage.Decode(map[string]any{"name": "n", "memory": "${m}", "tracing": map[string]any{"mode": "On"}}, &s)
	var errs stage.FieldErrors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("Decode = %v, want two problems", err)
	}
	want := `memory: must be a number, not "${m}" (MB); tracing.mode: must be one of Active, PassThrough, not "On"`
	if err.Error() != want {
		t.Errorf("Decode = %q, want %q", err, want)
	}
}

func TestDecodeRejectsNonSpecs(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "Decode cannot fill") {
			t.Errorf("recover() = %v, want a panic naming the field", r)
		}
	}()
	stage.Validate(map[string]any{}, &badSpec{})
}

type badSpec struct {
	Count int `json:"count"`
}

func (*badSpec) Check(*stage.Checker) {}

// A field that still holds an expression the engine could not evaluate
// reports the expression's error, not that the text is the wrong type.
func TestDecodeReportsFailedExpressions(t *testing.T) {
	t.Parallel()
	var s testSpec
	const x = "${#stage('Nope').outputs.memory}"
	err := stage.Decode(map[string]any{
		"name":   "n",
		"memory": x,
		"expressionEvaluationSummary": map[string]any{
			x: []any{map[string]any{"description": `no stage named "Nope"`, "level": "ERROR", "path": "memory"}},
		},
	}, &s)
	want := `memory: expression ` + x + ` failed: no stage named "Nope"`
	if err == nil || err.Error() != want {
		t.Errorf("Decode = %v, want %q", err, want)
	}
}
