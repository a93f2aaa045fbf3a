package canary_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"golang.org/x/tools/txtar"
)

var updateConfig = flag.Bool("update-config", false, "rewrite the result sections of testdata/config")

// TestConfigGolden runs each testdata/config/*.txtar case (Caddy's adapt
// tests: input, separator, expected result): the input.json section is
// parsed and validated, and the result.txt section must list, one per
// line, the warnings ("warning: path: message"), the problems of Validate
// ("problem: …") and the further problems of Validate with ForRun ("run
// problem: …"), or "ok" when there are none; a document ParseConfig
// rejects gives "parse error: …".
func TestConfigGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/config/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, ok := txtarSection(ar, "input.json")
			if !ok {
				t.Fatal("no input.json section")
			}
			got := configResult(t, input)
			if *updateConfig {
				var files []txtar.File
				for _, f := range ar.Files {
					if f.Name != "result.txt" {
						files = append(files, f)
					}
				}
				ar.Files = append(files, txtar.File{Name: "result.txt", Data: got})
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, _ := txtarSection(ar, "result.txt")
			if !bytes.Equal(got, want) {
				t.Errorf("result:\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestExampleConfigs: the configs shipped in examples/canary-configs are
// ready to run, without warnings.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("../../examples/canary-configs/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example canary configs")
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := configResult(t, data); string(got) != "ok\n" {
			t.Errorf("%s:\n%s", file, got)
		}
	}
}

func configResult(t *testing.T, input []byte) []byte {
	t.Helper()
	c, err := canary.ParseConfig(input)
	if err != nil {
		return []byte("parse error: " + err.Error() + "\n")
	}
	var out []string
	for _, w := range c.Warnings() {
		out = append(out, "warning: "+w.String())
	}
	doc := problems(t, c.Validate(canary.ConfigValidateOptions{}))
	for _, p := range doc {
		out = append(out, "problem: "+p)
	}
	for _, p := range problems(t, c.Validate(canary.ConfigValidateOptions{ForRun: true})) {
		if !strings.Contains(strings.Join(doc, "\n")+"\n", p+"\n") {
			out = append(out, "run problem: "+p)
		}
	}
	if len(out) == 0 {
		out = []string{"ok"}
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *pipeline.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate returned %T, want *pipeline.ValidationError", err)
	}
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = p.String()
	}
	return out
}

func txtarSection(ar *txtar.Archive, name string) ([]byte, bool) {
	for _, f := range ar.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return nil, false
}
