package pipeline

import (
	"bytes"
	"errors"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"time"

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

// The resource oracle of FuzzSplitDocuments: an export posted to the API
// must be split fast and small, whatever it holds (a YAML alias bomb).
const (
	fuzzSplitTime   = time.Second
	fuzzSplitMemory = 64 << 20
	fuzzSplitBytes  = 64 << 10
)

func allocatedBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// FuzzSplitDocuments: SplitDocuments never panics, stays within the
// resource oracle, returns at least one non-empty document or an error,
// and each document it returns splits to itself alone.
func FuzzSplitDocuments(f *testing.F) {
	addGoldenSeeds(f)
	for _, seed := range []string{
		`[{"application":"a","name":"n"},{"application":"a","name":"m"}]`,
		"- application: a\n  name: n\n- application: a\n  name: m\n",
		"application: a\n---\napplication: b\n",
		"- &x {a: 1}\n- *x\n",
		"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
			"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
		`[1, {}]`, `[]`, "---\n---\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzSplitBytes {
			return
		}
		before, start := allocatedBytes(), time.Now()
		docs, err := SplitDocuments(data)
		took, allocated := time.Since(start), allocatedBytes()-before
		if took > fuzzSplitTime {
			t.Fatalf("SplitDocuments of %d bytes took %v, over %v", len(data), took, fuzzSplitTime)
		}
		if allocated > fuzzSplitMemory {
			t.Fatalf("SplitDocuments of %d bytes allocated %d bytes, over %d", len(data), allocated, fuzzSplitMemory)
		}
		if err != nil {
			if docs != nil {
				t.Fatalf("documents %q with the error %v", docs, err)
			}
			return
		}
		if len(docs) == 0 {
			t.Fatal("no documents and no error")
		}
		for _, d := range docs {
			again, err := SplitDocuments(d)
			if err != nil || len(again) != 1 || !bytes.Equal(again[0], d) {
				t.Fatalf("document %q splits to %q, %v; want itself", d, again, err)
			}
		}
	})
}

// FuzzReport: Report never panics and agrees with Check: its findings
// that will not run are Check's problems, its unknown and ignored ones
// Check's warnings, and a verdict is wontRun exactly when there are
// problems.
func FuzzReport(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		warnings, err := p.Check(testOptions())
		r := p.Report(testOptions())
		var wont, warned []Problem
		wont = append(wont, r.WontRun...)
		collect := func(ps []Problem) {
			for _, d := range ps {
				if d.Kind != KindDiffers {
					warned = append(warned, d)
				}
			}
		}
		collect(r.Differs)
		for _, s := range r.Stages {
			wont = append(wont, s.WontRun...)
			collect(s.Differs)
			if (s.Verdict == VerdictWontRun) != (len(s.WontRun) > 0) {
				t.Fatalf("stage %d verdict %s with %d findings that will not run", s.Index, s.Verdict, len(s.WontRun))
			}
		}
		if (r.Verdict == VerdictWontRun) != (err != nil) {
			t.Fatalf("verdict %s, Check: %v", r.Verdict, err)
		}
		var problems []Problem
		if ve, ok := errors.AsType[*ValidationError](err); ok {
			problems = ve.Problems
		}
		sortByPath := func(ps []Problem) {
			slices.SortStableFunc(ps, func(a, b Problem) int { return strings.Compare(a.String(), b.String()) })
		}
		sortByPath(wont)
		sortByPath(problems)
		sortByPath(warned)
		warnings = slices.Clone(warnings)
		sortByPath(warnings)
		if !slices.Equal(wont, problems) || !slices.Equal(warned, warnings) {
			t.Fatalf("report does not agree with Check:\nwontRun %v\nproblems %v\nwarned %v\nwarnings %v", wont, problems, warned, warnings)
		}
	})
}
