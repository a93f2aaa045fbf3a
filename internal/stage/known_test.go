package stage_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

// knownSpec has every shape KnownFields walks.
type knownSpec struct {
	shared                   // lends its keys, as in encoding/json
	Name   stage.StringField `json:"name"`
	Config struct {
		stage.Field
		Mode stage.StringField `json:"mode"`
	} `json:"config"`
	Items   stage.ListField[knownItem]      `json:"items"`
	Tags    stage.StringsField              `json:"tags"`
	Env     stage.StringMapField            `json:"env"`
	Payload stage.JSONField                 `json:"payload"`
	Plain   stage.ListField[stage.IntField] `json:"plain"`
	Skipped stage.StringField               `json:"-"`
	//lint:ignore U1000 an unexported field, which Known must skip
	private stage.StringField
}

type shared struct {
	Account stage.StringField `json:"account"`
}

type knownItem struct {
	stage.Field
	Key   stage.StringField `json:"key"`
	Value stage.JSONField   `json:"value"`
}

func (*knownSpec) Check(*stage.Checker) {}

// TestKnownFields: the keys of a Spec are its json tags, with the keys of
// nested objects and of lists of objects; leaf fields (maps and JSON
// included) are not looked into.
func TestKnownFields(t *testing.T) {
	t.Parallel()
	k := stage.KnownFields(&knownSpec{})
	if got, want := slices.Sorted(maps.Keys(k.Keys)), []string{"account", "config", "env", "items", "name", "payload", "plain", "tags"}; !slices.Equal(got, want) {
		t.Fatalf("keys = %q, want %q", got, want)
	}
	for _, leaf := range []string{"account", "name", "tags", "env", "payload", "plain"} {
		if k.Keys[leaf] != nil {
			t.Errorf("%s: nested keys %v, want none (a leaf)", leaf, k.Keys[leaf])
		}
	}
	nested := map[string][]string{"config": {"mode"}, "items": {"key", "value"}}
	for key, want := range nested {
		sub := k.Keys[key]
		if sub == nil {
			t.Fatalf("%s: no nested keys, want %q", key, want)
		}
		if got := slices.Sorted(maps.Keys(sub.Keys)); !slices.Equal(got, want) {
			t.Errorf("%s: nested keys %q, want %q", key, got, want)
		}
	}
}

// TestRegistryKnownFields: the registry answers for types that declare
// their keys, and nil for the others and for unknown types.
func TestRegistryKnownFields(t *testing.T) {
	t.Parallel()
	r := stage.NewRegistry(declaring{}, plainType{})
	if k := r.KnownFields("declaring"); k == nil || k.Keys["name"] != nil || len(k.Keys) != 8 {
		t.Errorf("KnownFields(declaring) = %+v, want the 8 keys of knownSpec", k)
	}
	if k := r.KnownFields("plain"); k != nil {
		t.Errorf("KnownFields(plain) = %+v, want nil", k)
	}
	if k := r.KnownFields("nope"); k != nil {
		t.Errorf("KnownFields(nope) = %+v, want nil", k)
	}
}

type declaring struct{ plainType }

func (declaring) Name() string                       { return "declaring" }
func (declaring) KnownFields() *pipeline.KnownFields { return stage.KnownFields(&knownSpec{}) }

// plainType is a stage type that does not declare its keys.
type plainType struct{}

func (plainType) Name() string                               { return "plain" }
func (plainType) Validate(map[string]any) []stage.FieldError { return nil }
func (plainType) Tasks(map[string]any) []string              { return nil }
func (plainType) Run(context.Context, *stage.Task) (stage.Result, error) {
	return stage.Succeed(), nil
}
