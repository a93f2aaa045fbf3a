package httpapi_test

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/store"
)

// canaryDoc is a valid canary config named name that names apps.
func canaryDoc(name string, apps ...string) []byte {
	a, _ := json.Marshal(apps)
	if apps == nil {
		a = []byte("[]")
	}
	return []byte(strings.NewReplacer(`"demo-canary"`, `"`+name+`"`, `["demo"]`, string(a)).Replace(secCanaryConfig))
}

func (f *secFixture) client(principal string) *apiclient.Client {
	f.t.Helper()
	c, err := apiclient.New(f.b.server.URL, apiclient.WithToken(f.tokens[principal]))
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// TestCanaryConfigExportLoadsAsItIs saves the example config, an export
// in Kayenta's shape, and checks that the store keeps its bytes, that
// each save is a revision and that the revisions are what was saved.
func TestCanaryConfigExportLoadsAsItIs(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	ctx := t.Context()
	doc, err := os.ReadFile("../../examples/canary-configs/lambda-errors-latency.json")
	if err != nil {
		t.Fatal(err)
	}
	saved, err := f.c.PutCanaryConfig(ctx, "lambda-errors-latency", doc)
	if err != nil {
		t.Fatalf("save the example: %v", err)
	}
	if saved.Revision != 1 || !slices.Equal(saved.Applications, []string{"demo"}) || saved.UpdatedBy != testUser {
		t.Errorf("saved = revision %d applications %v by %q, want 1 [demo] by %s", saved.Revision, saved.Applications, saved.UpdatedBy, testUser)
	}
	stored, err := f.b.store.CanaryConfigGet(ctx, "lambda-errors-latency")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored.Document, doc) {
		t.Errorf("stored document differs from the file's bytes:\n%s", stored.Document)
	}
	changed := bytes.Replace(doc, []byte(`"allowedIncrease": 1.1`), []byte(`"allowedIncrease": 1.3`), 1)
	if _, err := f.c.PutCanaryConfig(ctx, "lambda-errors-latency", changed); err != nil {
		t.Fatal(err)
	}
	revs, err := f.c.ListCanaryConfigRevisions(ctx, "lambda-errors-latency")
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[0].Revision != 2 || revs[1].Revision != 1 {
		t.Fatalf("revisions = %+v, want 2 then 1", revs)
	}
	first, err := f.c.GetCanaryConfigRevision(ctx, "lambda-errors-latency", 1)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(first.Document, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc, &b); err != nil {
		t.Fatal(err)
	}
	if !equalJSON(a, b) {
		t.Errorf("revision 1 = %s, want the file's document", first.Document)
	}
	_, err = f.c.GetCanaryConfigRevision(ctx, "lambda-errors-latency", 3)
	apiError(t, err, 404, "not_found")
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestCanaryConfigInvalid checks that a save and a validation report every
// problem with its JSON path and save nothing, and that validation lists
// the warnings of a valid config.
func TestCanaryConfigInvalid(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	ctx := t.Context()
	bad := []byte(`{"name": "other-name", "applications": ["demo", ""], "metrics": [{"name": "m", "groups": ["g"], "query": {"type": "prometheus", "metricName": "x"}}]}`)
	_, err := f.c.PutCanaryConfig(ctx, "bad", bad)
	e := apiError(t, err, 400, "invalid_canary_config")
	paths := detailPaths(e)
	for _, want := range []string{"name", "applications[1]"} {
		if !slices.Contains(paths, want) {
			t.Errorf("save: details %v lack %s", paths, want)
		}
	}
	if _, err := f.b.store.CanaryConfigGet(ctx, "bad"); err == nil {
		t.Error("an invalid config was saved")
	}
	_, err = f.c.ValidateCanaryConfig(ctx, []byte(`{"name": "x", "metrics": "none"}`))
	e = apiError(t, err, 400, "invalid_canary_config")
	if !slices.Contains(detailPaths(e), "metrics") {
		t.Errorf("validate: details %v lack metrics", detailPaths(e))
	}
	_, err = f.c.ValidateCanaryConfig(ctx, []byte(`[1]`))
	apiError(t, err, 400, "invalid_canary_config")

	res, err := f.c.ValidateCanaryConfig(ctx, bytes.Replace([]byte(secCanaryConfig), []byte(`"name"`), []byte(`"colour": "blue", "name"`), 1))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid || res.Name != "demo-canary" || len(res.Warnings) != 1 || res.Warnings[0].Path != "colour" {
		t.Errorf("validate = %+v, want valid demo-canary with a warning at colour", res)
	}
}

// TestCanaryConfigAuthorization checks that the applications a config
// names decide who may read, save and delete it, that nobody takes over
// another application's config by renaming its applications, and that a
// config naming none is the admins' to change and anyone's to read.
func TestCanaryConfigAuthorization(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	ctx := t.Context()
	admin, writer, reader, nobody := f.c, f.client("writer"), f.client("reader"), f.client("nobody")
	// The fixture saved demo-canary, naming demo.
	for _, tt := range []struct {
		who    string
		c      *apiclient.Client
		name   string
		doc    []byte
		status int
	}{
		{"writer", writer, "demo-canary", canaryDoc("demo-canary", "demo"), 200},
		{"reader", reader, "demo-canary", canaryDoc("demo-canary", "demo"), 403},
		// Write on every application named: other is not demo's writers'.
		{"writer", writer, "both", canaryDoc("both", "demo", "other"), 403},
		{"admin", admin, "theirs", canaryDoc("theirs", "other"), 200},
		// Taking over other's config by naming demo instead.
		{"writer", writer, "theirs", canaryDoc("theirs", "demo"), 403},
		{"writer", writer, "shared", canaryDoc("shared"), 403},
		{"admin", admin, "shared", canaryDoc("shared"), 200},
		{"writer", writer, "shared", canaryDoc("shared", "demo"), 403},
	} {
		_, err := tt.c.PutCanaryConfig(ctx, tt.name, tt.doc)
		if tt.status == 200 {
			if err != nil {
				t.Errorf("%s saves %s: %v", tt.who, tt.doc, err)
			}
			continue
		}
		apiError(t, err, tt.status, "forbidden")
	}
	theirs, err := f.b.store.CanaryConfigGet(ctx, "theirs")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(theirs.Applications, []string{"other"}) || theirs.Revision != 1 {
		t.Errorf("theirs = %v revision %d after refused saves, want [other] revision 1", theirs.Applications, theirs.Revision)
	}

	for _, tt := range []struct {
		who  string
		c    *apiclient.Client
		want []string
	}{
		{"admin", admin, []string{"demo-canary", "shared", "theirs"}},
		{"reader", reader, []string{"demo-canary", "shared"}},
		{"nobody", nobody, []string{"shared"}},
	} {
		cs, err := tt.c.ListCanaryConfigs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cs {
			got = append(got, c.Name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s lists %v, want %v", tt.who, got, tt.want)
		}
		for _, name := range []string{"demo-canary", "shared", "theirs"} {
			_, err := tt.c.GetCanaryConfig(ctx, name)
			if slices.Contains(tt.want, name) != (err == nil) {
				t.Errorf("%s gets %s: err %v, want it readable %v", tt.who, name, err, slices.Contains(tt.want, name))
			}
			_, err = tt.c.ListCanaryConfigRevisions(ctx, name)
			if slices.Contains(tt.want, name) != (err == nil) {
				t.Errorf("%s lists revisions of %s: err %v, want it readable %v", tt.who, name, err, slices.Contains(tt.want, name))
			}
		}
	}

	apiError(t, reader.DeleteCanaryConfig(ctx, "demo-canary"), 403, "forbidden")
	apiError(t, writer.DeleteCanaryConfig(ctx, "theirs"), 403, "forbidden")
	apiError(t, writer.DeleteCanaryConfig(ctx, "shared"), 403, "forbidden")
	if err := writer.DeleteCanaryConfig(ctx, "demo-canary"); err != nil {
		t.Fatalf("writer deletes demo-canary: %v", err)
	}
	_, err = admin.GetCanaryConfig(ctx, "demo-canary")
	apiError(t, err, 404, "not_found")

	entries, err := f.b.store.AuditList(ctx, &store.AuditListParams{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; strings.HasPrefix(e.Action, "canary-config.") {
			got = append(got, e.Action+" "+e.Application+" by "+e.User)
		}
	}
	want := []string{
		"canary-config.save demo by " + testUser, // the fixture's
		"canary-config.save demo by token:writer",
		"canary-config.save other by " + testUser,
		"canary-config.save  by " + testUser,
		"canary-config.delete demo by token:writer",
	}
	if !slices.Equal(got, want) {
		t.Errorf("canary-config audit entries:\n got %q\nwant %q", got, want)
	}
}
