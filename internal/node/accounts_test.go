package node_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/node"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/status"
)

// TestSaveChecksAccountsAndRegions: a pipeline whose Lambda stage names an
// account the server does not have, an empty account, or a region its
// account does not list is refused when it is saved or validated through
// the API, naming the stage, the field and what there is; accounts and
// regions given by expressions are left to the run.
func TestSaveChecksAccountsAndRegions(t *testing.T) {
	// The SDK must not read this machine's AWS configuration.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "credentials"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	dir := t.TempDir()
	config := filepath.Join(dir, "sluice.yaml")
	yaml := "accounts:\n  - name: prod\n    regions: [us-east-1, eu-west-1]\n    endpoint: http://127.0.0.1:9\n"
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(t.Context(), node.Options{DataDir: dir, LambdaAddr: "127.0.0.1:0", Config: config})
	if err != nil {
		t.Fatal(err)
	}
	defer closeNode(t, n)
	srv := httptest.NewServer(n.API)
	defer srv.Close()
	c, err := apiclient.New(srv.URL, apiclient.WithToken(n.AdminToken))
	if err != nil {
		t.Fatal(err)
	}
	doc := func(target string) []byte {
		return []byte(`{"application":"shop","name":"deploy","stages":[
			{"refId":"1","type":"wait","name":"first","waitTime":1},
			{"refId":"2","type":"Aws.LambdaInvokeStage","name":"Smoke test","requisiteStageRefIds":["1"],"functionName":"api",` + target + `}]}`)
	}
	tests := []struct {
		name, target string
		path         string // "" when the document is valid
		msg          []string
	}{
		{"unknown account", `"account":"staging"`, "stages[1].account",
			[]string{`stage "Smoke test"`, `"staging"`, "local, prod"}},
		{"empty account", `"account":""`, "stages[1].account",
			[]string{`stage "Smoke test"`, "the account is empty", "local, prod"}},
		{"region the account lacks", `"account":"prod","region":"us-west-2"`, "stages[1].region",
			[]string{`stage "Smoke test"`, "account prod has the regions us-east-1, eu-west-1", `"us-west-2"`}},
		{"local account in another region", `"region":"eu-west-1"`, "stages[1].region",
			[]string{`stage "Smoke test"`, "account local (the local Lambda) has the regions us-east-1", "leave it out"}},
		{"account and region it lists", `"account":"prod","region":"eu-west-1"`, "", nil},
		{"account's first region", `"account":"prod"`, "", nil},
		{"the local account", `"account":"local"`, "", nil},
		{"no account", `"region":"us-east-1"`, "", nil},
		{"expressions are left to the run", `"account":"${parameters.account}","region":"${parameters.region}"`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := doc(tt.target)
			_, saveErr := c.PutPipeline(t.Context(), "shop", "deploy", d, "application/json")
			_, validateErr := c.ValidatePipeline(t.Context(), d, "application/json")
			for what, err := range map[string]error{"save": saveErr, "validate": validateErr} {
				if tt.path == "" {
					if err != nil {
						t.Errorf("%s: %v; want it accepted", what, err)
					}
					continue
				}
				var ae *apiclient.Error
				if !errors.As(err, &ae) || ae.Status != 400 || len(ae.Details) != 1 || ae.Details[0].Path != tt.path {
					t.Fatalf("%s: %v; want 400 with one problem at %s", what, err, tt.path)
				}
				t.Logf("%s: %s: %s", what, ae.Details[0].Path, ae.Details[0].Message)
				for _, want := range tt.msg {
					if !strings.Contains(ae.Details[0].Message, want) {
						t.Errorf("%s: %s: %q; want it to say %q", what, tt.path, ae.Details[0].Message, want)
					}
				}
			}
		})
	}
}

// TestExecutionWindowTimeZone: sluice.yaml's executionWindow.timeZone is
// the zone windows are read in, and a zone that does not exist stops the
// start naming the section. A stage whose window (one minute a day) is
// closed waits, its window described in the configured zone, and
// skip-wait runs it.
func TestExecutionWindowTimeZone(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(config, []byte("executionWindow:\n  timeZone: Nowhere/Atlantis\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Start(t.Context(), node.Options{DataDir: dir, LambdaAddr: node.LambdaOff, Config: config}); err == nil ||
		!strings.Contains(err.Error(), "executionWindow") || !strings.Contains(err.Error(), "Nowhere/Atlantis") {
		t.Fatalf("an unknown zone: %v; want an error naming executionWindow and the zone", err)
	}
	if err := os.WriteFile(config, []byte("executionWindow:\n  timeZone: Asia/Tokyo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(t.Context(), node.Options{DataDir: dir, LambdaAddr: node.LambdaOff, Config: config})
	if err != nil {
		t.Fatal(err)
	}
	defer closeNode(t, n)
	srv := httptest.NewServer(n.API)
	defer srv.Close()
	c, err := apiclient.New(srv.URL, apiclient.WithToken(n.AdminToken))
	if err != nil {
		t.Fatal(err)
	}
	// A window that is closed now: one minute, twelve hours from now in Tokyo.
	at := time.Now().In(mustZone(t, "Asia/Tokyo")).Add(12 * time.Hour)
	doc := fmt.Sprintf(`{"application":"shop","name":"windowed","stages":[{"refId":"1","type":"wait","name":"Wait","waitTime":0,
		"restrictExecutionDuringTimeWindow":true,
		"restrictedExecutionWindow":{"whitelist":[{"startHour":%d,"startMin":%d,"endHour":%d,"endMin":%d}]}}]}`,
		at.Hour(), at.Minute(), at.Hour(), at.Minute())
	if _, err := c.PutPipeline(t.Context(), "shop", "windowed", []byte(doc), "application/json"); err != nil {
		t.Fatal(err)
	}
	e, err := c.Trigger(t.Context(), "shop", "windowed", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var progress string
	sluicetest.WaitFor(t, "the stage to wait for its window", 0, func() bool {
		got, err := c.GetExecution(t.Context(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		var ctx map[string]any
		_ = json.Unmarshal(got.Stages[0].Context, &ctx)
		progress, _ = ctx["progress"].(string)
		return progress != ""
	})
	if want := fmt.Sprintf("%02d:%02d–%02d:%02d Asia/Tokyo", at.Hour(), at.Minute(), at.Hour(), at.Minute()); !strings.Contains(progress, want) || !strings.Contains(progress, "JST") {
		t.Errorf("progress %q; want the window %q and the opening in JST", progress, want)
	}
	if _, err := c.SkipWait(t.Context(), e.ID, "Wait"); err != nil {
		t.Fatal(err)
	}
	sluicetest.WaitFor(t, "the execution to succeed", 0, func() bool {
		got, err := c.GetExecution(t.Context(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status == status.Succeeded
	})
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
