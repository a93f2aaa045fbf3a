package cli

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseArtifacts(t *testing.T) {
	t.Parallel()
	got, err := parseArtifacts([]string{
		"type=s3/object,name=orders,reference=s3://b/orders.zip",
		`{"type":"embedded/base64","reference":"e30=","metadata":{"a":1}}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"type": "s3/object", "name": "orders", "reference": "s3://b/orders.zip"},
		{"type": "embedded/base64", "reference": "e30=", "metadata": map[string]any{"a": 1.0}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []struct{ flag, msg string }{
		{"reference=s3://b/k", "has no type"},
		{"type=s3/object,colour=red", `"colour=red" is not key=value`},
		{"{not json", "is not a JSON object"},
	} {
		if _, err := parseArtifacts([]string{bad.flag}); err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("parseArtifacts(%q) = %v, want an error containing %q", bad.flag, err, bad.msg)
		}
	}
}
