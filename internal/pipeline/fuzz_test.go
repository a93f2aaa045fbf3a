package pipeline

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// addGoldenSeeds seeds a fuzz target with every golden input.
func addGoldenSeeds(f *testing.F) {
	files, err := filepath.Glob("testdata/golden/*.txtar")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if input, ok := goldenInput(ar); ok {
			f.Add(input)
		}
	}
	f.Add([]byte(`{"stages":[{"refId":1,"requisiteStageRefIds":[1]},{"type":"wait"}]}`))
	f.Add([]byte("stages:\n- type: wait\n- type: wait\n  refId: ~\n"))
}

// FuzzParse: Parse never panics, and a document it accepts encodes to one
// that parses and encodes to the same bytes.
func FuzzParse(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		first, err := p.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		again, err := Parse(first)
		if err != nil {
			t.Fatalf("Parse of the encoded document: %v\n%s", err, first)
		}
		second, err := again.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of the reparsed document: %v", err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("round trip is not stable:\nfirst:  %s\nsecond: %s", first, second)
		}
	})
}

// FuzzValidate: Validate never panics, never changes the pipeline, gives
// the same answer twice, and reports problems one line each; Check's
// warnings too are one line each, each at a path, the same twice.
func FuzzValidate(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		before, err := p.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		warnings, _ := p.Check(testOptions())
		for _, w := range warnings {
			if w.Path == "" || w.Msg == "" || strings.Contains(w.String(), "\n") {
				t.Fatalf("warning %q has no path, no message, or spans lines", w.String())
			}
		}
		if again, _ := p.Check(testOptions()); !slices.Equal(again, warnings) {
			t.Fatalf("Check's warnings are not deterministic:\n%v\n---\n%v", warnings, again)
		}
		err = p.Validate(testOptions())
		after, _ := p.MarshalJSON()
		if !bytes.Equal(before, after) {
			t.Fatalf("Validate changed the pipeline:\nbefore: %s\nafter:  %s", before, after)
		}
		if err == nil {
			if p.Summary() == "" {
				t.Fatal("empty Summary of a valid pipeline")
			}
			return
		}
		var verr *ValidationError
		if !errors.As(err, &verr) {
			t.Fatalf("Validate returned %T, want *ValidationError", err)
		}
		if len(verr.Problems) == 0 {
			t.Fatal("ValidationError without problems")
		}
		for _, prob := range verr.Problems {
			if prob.Msg == "" || strings.Contains(prob.String(), "\n") {
				t.Fatalf("problem %q is empty or spans lines", prob.String())
			}
		}
		if err2 := p.Validate(testOptions()); err2 == nil || err2.Error() != err.Error() {
			t.Fatalf("Validate is not deterministic:\n%v\n---\n%v", err, err2)
		}
	})
}
