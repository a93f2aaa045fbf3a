package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden runs each testdata/golden/*.txtar case: the input.json or
// input.yaml section is parsed and validated with testOptions, and the
// result must equal the output.json section (the normalized document) or
// the errors.txt section (one problem per line), and its warnings the
// warnings.txt section (one per line; no section when there are none).
//
// Lines of the archive's comment may adjust the options:
//
//	options: no-stage-types    validate without StageTypes
//	options: no-expressions    validate without CheckExpression
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, ok := goldenInput(ar)
			if !ok {
				t.Fatal("no input.json or input.yaml section")
			}
			opts := goldenOptions(t, ar.Comment)
			gotName, got := runGolden(t, input, opts)
			gotWarnings := warningLines(input, opts)

			if *update {
				var files []txtar.File
				for _, f := range ar.Files {
					if f.Name != "output.json" && f.Name != "errors.txt" && f.Name != "warnings.txt" {
						files = append(files, f)
					}
				}
				ar.Files = append(files, txtar.File{Name: gotName, Data: got})
				if len(gotWarnings) > 0 {
					ar.Files = append(ar.Files, txtar.File{Name: "warnings.txt", Data: gotWarnings})
				}
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, ok := section(ar, gotName)
			if !ok {
				t.Fatalf("got %s, but the file has no such section; got:\n%s", gotName, got)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s:\ngot:\n%s\nwant:\n%s", gotName, got, want)
			}
			if want, _ := section(ar, "warnings.txt"); !bytes.Equal(gotWarnings, want) {
				t.Errorf("warnings.txt:\ngot:\n%s\nwant:\n%s", gotWarnings, want)
			}
		})
	}
}

// runGolden parses and validates input and returns the name and content of
// the section the result belongs in.
func runGolden(t *testing.T, input []byte, opts ValidateOptions) (string, []byte) {
	t.Helper()
	p, err := Parse(input)
	if err != nil {
		return "errors.txt", problemLines(err)
	}
	if err := p.Validate(opts); err != nil {
		var verr *ValidationError
		if !errors.As(err, &verr) {
			t.Fatalf("Validate returned %T, want *ValidationError", err)
		}
		return "errors.txt", problemLines(err)
	}
	out, err := p.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}

	// The normalized document parses to itself and stays valid.
	again, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse of the normalized document: %v", err)
	}
	out2, err := again.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON of the reparsed document: %v", err)
	}
	if !bytes.Equal(out, out2) {
		t.Errorf("round trip changed the document:\nfirst:  %s\nsecond: %s", out, out2)
	}
	if err := again.Validate(opts); err != nil {
		t.Errorf("the normalized document is not valid: %v", err)
	}

	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		t.Fatalf("MarshalJSON emitted invalid JSON: %v", err)
	}
	buf.WriteByte('\n')
	return "output.json", buf.Bytes()
}

// warningLines is Check's warnings for input, one per line; nil when
// input does not parse or has none.
func warningLines(input []byte, opts ValidateOptions) []byte {
	p, err := Parse(input)
	if err != nil {
		return nil
	}
	warnings, _ := p.Check(opts)
	var b []byte
	for _, w := range warnings {
		b = append(b, w.String()+"\n"...)
	}
	return b
}

func problemLines(err error) []byte {
	var verr *ValidationError
	if errors.As(err, &verr) {
		var b strings.Builder
		for _, p := range verr.Problems {
			b.WriteString(p.String() + "\n")
		}
		return []byte(b.String())
	}
	return []byte(err.Error() + "\n")
}

func goldenInput(ar *txtar.Archive) ([]byte, bool) {
	if data, ok := section(ar, "input.json"); ok {
		return data, true
	}
	return section(ar, "input.yaml")
}

func section(ar *txtar.Archive, name string) ([]byte, bool) {
	for _, f := range ar.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return nil, false
}

func goldenOptions(t *testing.T, comment []byte) ValidateOptions {
	opts := testOptions()
	for line := range strings.Lines(string(comment)) {
		value, ok := strings.CutPrefix(strings.TrimSpace(line), "options:")
		if !ok {
			continue
		}
		for _, o := range strings.Fields(value) {
			switch o {
			case "no-stage-types":
				opts.StageTypes = nil
			case "no-expressions":
				opts.CheckExpression = nil
			default:
				t.Fatalf("unknown option %q", o)
			}
		}
	}
	return opts
}
