package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/node"
)

var updateImport = flag.Bool("update", false, "rewrite testdata/import/*.report.json")

// setupImport serves the API with the server's stage types and
// validation, and real accounts: local (us-east-1) and prod (us-west-2,
// eu-west-1; only the application shop may use it).
func setupImport(t *testing.T, edit func(*httpapi.Config)) (*apiclient.Client, *testBundle) {
	t.Helper()
	accounts, err := awsclient.New(t.Context(), awsclient.Config{Accounts: []awsclient.AccountConfig{
		{Name: "prod", Regions: []string{"us-west-2", "eu-west-1"}, Endpoint: "http://127.0.0.1:9", Applications: []string{"shop", "sandbox"}},
	}}, awsclient.LocalEndpoint{URL: "http://127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	return setup(t, func(c *httpapi.Config) {
		// As a server validates: node.ValidateOptions, with the accounts.
		c.Validate = node.ValidateOptions()
		c.Validate.CheckAccount = accounts.CheckApplication
		c.CheckTarget = func(account, region string) error {
			_, err := accounts.In(account, region)
			return err
		}
		if edit != nil {
			edit(c)
		}
	})
}

// TestImportGolden sends each testdata/import/*.json and *.yaml export to
// POST /pipelines/import?dryRun=true and compares the report with
// NAME.report.json (go test -run TestImportGolden -update rewrites them).
func TestImportGolden(t *testing.T) {
	t.Parallel()
	c, _ := setupImport(t, nil)
	inputs, err := filepath.Glob("testdata/import/*")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, in := range inputs {
		if strings.HasSuffix(in, ".report.json") {
			continue
		}
		checked++
		name := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := c.ImportPipelines(t.Context(), data, "", true)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(rep); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			golden := filepath.Join("testdata/import", name+".report.json")
			if *updateImport {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("report of %s differs from %s:\n%s", in, golden, got)
			}
		})
	}
	if checked < 8 {
		t.Errorf("%d golden inputs; want the whole set", checked)
	}
}

// TestImportSavesWhatWillRun: without dryRun, every pipeline that will run
// is saved, keeping its Spinnaker id and key order, the others are not;
// importing again saves new revisions.
func TestImportSavesWhatWillRun(t *testing.T) {
	t.Parallel()
	c, _ := setupImport(t, nil)
	ctx := t.Context()
	data, err := os.ReadFile("testdata/import/multi.json")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := c.ImportPipelines(ctx, data, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.DryRun {
		t.Error("dryRun = true for an import")
	}
	var saved, unsaved []string
	for _, p := range rep.Pipelines {
		id := p.Application + "/" + p.Name
		if p.Saved {
			saved = append(saved, id)
			if p.Revision != 1 || p.Verdict == apitype.VerdictWontRun {
				t.Errorf("%s saved as revision %d with verdict %s, want revision 1 of a pipeline that runs", id, p.Revision, p.Verdict)
			}
		} else {
			unsaved = append(unsaved, id)
			if p.Verdict != apitype.VerdictWontRun {
				t.Errorf("%s not saved, yet its verdict is %s", id, p.Verdict)
			}
		}
	}
	if want := []string{"shop/release", "shop/build"}; !slices.Equal(saved, want) {
		t.Errorf("saved %q, want %q", saved, want)
	}
	if want := []string{"shop/broken"}; !slices.Equal(unsaved, want) {
		t.Errorf("not saved %q, want %q", unsaved, want)
	}
	got, err := c.GetPipeline(ctx, "shop", "release")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "6b1e3c0a-8a4f-4c55-9d1c-6ad3a5e0e001" {
		t.Errorf("saved id %q, want the exported pipeline's id", got.ID)
	}
	if !bytes.HasPrefix(got.Document, []byte(`{"application":"shop","name":"release","id":`)) {
		t.Errorf("saved document does not keep the export's key order: %.80s", got.Document)
	}
	if _, err := c.GetPipeline(ctx, "shop", "broken"); err == nil {
		t.Error("shop/broken, which will not run, was saved")
	} else {
		apiError(t, err, http.StatusNotFound, apitype.CodeNotFound)
	}
	again, err := c.ImportPipelines(ctx, data, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if p := again.Pipelines[0]; !p.Saved || p.Revision != 2 {
		t.Errorf("second import of %s/%s: saved %v revision %d, want revision 2", p.Application, p.Name, p.Saved, p.Revision)
	}
}

// TestImportNeedsWrite: saving needs write on every application saved to,
// and a refusal saves nothing; a dry run needs only authentication.
func TestImportNeedsWrite(t *testing.T) {
	t.Parallel()
	policy, err := auth.ParseConfig([]byte("auth:\n  applications:\n    shop:\n      write: [writers]\n    other:\n      read: [writers]\n"))
	if err != nil {
		t.Fatal(err)
	}
	admin, b := setupImport(t, func(c *httpapi.Config) { c.Policy = auth.NewPolicy(policy) })
	ctx := t.Context()
	secret, _, err := b.auth.CreateToken(ctx, auth.TokenParams{Name: "w", Roles: []string{"writers"}, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	writer, err := apiclient.New(b.server.URL, apiclient.WithToken(secret))
	if err != nil {
		t.Fatal(err)
	}
	export := `[{"application":"shop","name":"a","stages":[{"refId":"1","type":"wait","waitTime":1}]},
	            {"application":"other","name":"b","stages":[{"refId":"1","type":"wait","waitTime":1}]}]`
	_, err = writer.ImportPipelines(ctx, []byte(export), "", false)
	e := apiError(t, err, http.StatusForbidden, apitype.CodeForbidden)
	if !strings.Contains(e.Message, "other") {
		t.Errorf("refusal %q does not name the application", e.Message)
	}
	for _, name := range [][2]string{{"shop", "a"}, {"other", "b"}} {
		if _, err := admin.GetPipeline(ctx, name[0], name[1]); err == nil {
			t.Errorf("%s/%s saved by a refused import", name[0], name[1])
		}
	}
	rep, err := writer.ImportPipelines(ctx, []byte(export), "", true)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if len(rep.Pipelines) != 2 || rep.Pipelines[1].Verdict != apitype.VerdictRuns || rep.Pipelines[1].Saved {
		t.Errorf("dry run = %+v, want two pipelines that run, none saved", rep.Pipelines)
	}
	rep, err = writer.ImportPipelines(ctx, []byte(export[:strings.Index(export, ",\n")]+"]"), "", false)
	if err != nil || !rep.Pipelines[0].Saved {
		t.Fatalf("import of shop/a alone = %+v, %v; want it saved", rep, err)
	}
}

// TestImportReportsAnIdThatBelongsElsewhere: a pipeline whose exported id
// is another saved pipeline's is reported as not saved, and the others
// of the export are saved.
func TestImportReportsAnIdThatBelongsElsewhere(t *testing.T) {
	t.Parallel()
	c, _ := setupImport(t, nil)
	ctx := context.Background()
	apply(t, c, "shop", "existing", `{"id":"same-id","stages":[{"refId":"1","type":"wait","waitTime":1}]}`)
	export := `[{"id":"same-id","application":"shop","name":"new","stages":[{"refId":"1","type":"wait","waitTime":1}]},
	            {"application":"shop","name":"fine","stages":[{"refId":"1","type":"wait","waitTime":1}]}]`
	rep, err := c.ImportPipelines(ctx, []byte(export), "", false)
	if err != nil {
		t.Fatal(err)
	}
	first, second := rep.Pipelines[0], rep.Pipelines[1]
	if first.Saved || first.Verdict != apitype.VerdictWontRun || len(first.WontRun) != 1 || !strings.Contains(first.WontRun[0].Message, "belongs to another pipeline") {
		t.Errorf("shop/new = %+v, want not saved: its id belongs to another pipeline", first)
	}
	if !second.Saved {
		t.Errorf("shop/fine = %+v, want saved", second)
	}
}

// TestImportRefusesAnUnreadableExport: an export that cannot be split into
// pipelines is a 400 naming where, and saves nothing.
func TestImportRefusesAnUnreadableExport(t *testing.T) {
	t.Parallel()
	c, _ := setupImport(t, nil)
	for _, tt := range []struct{ name, body, want string }{
		{"cut object", "{\"application\": \"shop\",\n", "the export cannot be read: parse JSON: line 2"},
		{"cut JSON", "[{\"application\": \"shop\", \"name\": \"cut\",\n", "the export cannot be read: parse JSON"},
		{"not an object", `[{"application":"shop","name":"a"}, 7]`, "[1] must be a pipeline object, got a number"},
		{"empty array", `[]`, "holds no pipelines"},
		{"YAML scalar item", "- application: shop\n  name: a\n- just text\n", "line 3: a pipeline must be a mapping"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ImportPipelines(t.Context(), []byte(tt.body), "", false)
			e := apiError(t, err, http.StatusBadRequest, apitype.CodeInvalidPipeline)
			if !strings.Contains(e.Message, tt.want) {
				t.Errorf("message %q, want it to contain %q", e.Message, tt.want)
			}
		})
	}
	if ps, err := c.ListPipelines(t.Context(), ""); err != nil || len(ps) != 0 {
		t.Errorf("pipelines after refused imports = %v, %v; want none", ps, err)
	}
}

// TestImportYAMLStream: a YAML stream of documents ("---") is one
// pipeline per document, saved from its own text.
func TestImportYAMLStream(t *testing.T) {
	t.Parallel()
	c, _ := setupImport(t, nil)
	stream := "application: shop\nname: one\nstages:\n  - {refId: \"1\", type: wait, waitTime: 1}\n---\n" +
		"# the second\napplication: shop\nname: two\nstages:\n  - {refId: \"1\", type: wait, waitTime: 2}\n"
	rep, err := c.ImportPipelines(t.Context(), []byte(stream), "application/yaml", false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range rep.Pipelines {
		if !p.Saved {
			t.Errorf("%s not saved: %+v", p.Name, p)
		}
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"one", "two"}) {
		t.Errorf("pipelines %q, want one and two", names)
	}
	two, err := c.GetPipeline(t.Context(), "shop", "two")
	if err != nil {
		t.Fatal(err)
	}
	if doc := document(t, two); doc["stages"].([]any)[0].(map[string]any)["waitTime"] != 2.0 {
		t.Errorf("shop/two saved as %s", two.Document)
	}
}

// TestImportRefusesDuplicates: two pipelines of one export with the same
// application and name: the second will not run, naming the first.
func TestImportRefusesDuplicates(t *testing.T) {
	t.Parallel()
	c, _ := setupImport(t, nil)
	export := `[{"application":"shop","name":"twice","stages":[{"refId":"1","type":"wait","waitTime":1}]},
	            {"application":"shop","name":"twice","stages":[{"refId":"1","type":"wait","waitTime":2}]}]`
	rep, err := c.ImportPipelines(t.Context(), []byte(export), "", false)
	if err != nil {
		t.Fatal(err)
	}
	first, second := rep.Pipelines[0], rep.Pipelines[1]
	if !first.Saved || first.Revision != 1 {
		t.Errorf("first = %+v, want saved as revision 1", first)
	}
	if second.Saved || second.Verdict != apitype.VerdictWontRun || len(second.WontRun) != 1 ||
		second.WontRun[0].Message != "pipeline shop/twice is also at index 0 of the export; give each pipeline its own name" {
		t.Errorf("second = %+v, want not saved, naming the first", second)
	}
}
