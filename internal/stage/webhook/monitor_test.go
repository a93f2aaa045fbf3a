package webhook_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/webhook"
	"github.com/sluice-cd/sluice/internal/status"
)

// runTask runs one task of a webhook stage once, as the engine would.
func runTask(t *testing.T, typ *webhook.Type, name string, ctx map[string]any) stage.Result {
	t.Helper()
	now := time.Now()
	res, err := typ.Run(context.Background(), &stage.Task{Name: name, ExecutionID: "E1", StageID: "S1", Context: ctx,
		StartTime: now, TaskStartTime: now, Now: now})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// TestMonitorStatus: how monitorWebhook reads the status response, as
// Orca's MonitorWebhookTask does.
func TestMonitorStatus(t *testing.T) {
	t.Parallel()
	bodies := map[string]string{
		"/text":    `{"status":"succeeded","msg":"all done"}`,
		"/bool":    `{"ok":true}`,
		"/list":    `{"jobs":[{"status":"A"},{"status":"B"}]}`,
		"/object":  `{"status":{"phase":"x"}}`,
		"/partial": `{"percent":42.5,"msg":7}`,
		"/plain":   `not json`,
		"/missing": `{"other":1}`,
		"/first":   `{"jobs":[{"status":"DONE"}]}`,
	}
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(bodies[r.URL.Path]))
	})
	typ, err := webhook.New(fast())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, statusPath, progressPath string
		want                           status.Status
		msg                            string // in the failure, or the monitor's progressMessage
	}{
		{"/text", "$.status", "$.msg", status.Succeeded, "all done"},
		{"/text", "", "", status.Succeeded, ""},
		{"/bool", "$.ok", "", status.Succeeded, ""},
		{"/first", "$.jobs[0].status", "", status.Succeeded, ""},
		{"/list", "$.jobs[*].status", "", status.Terminal, "did not resolve to a single value"},
		{"/object", "$.status", "", status.Terminal, "did not resolve to a single value"},
		{"/partial", "$.percent", "", status.Running, ""},
		{"/partial", "$.percent", "$.msg", status.Terminal, "did not resolve to a String value"},
		{"/missing", "$.status", "", status.Terminal, "JSON property '$.status' not found"},
		{"/text", "$.status", "$.nothing", status.Terminal, "JSON property '$.nothing' not found"},
		{"/plain", "$.status", "", status.Terminal, "not found"},
	} {
		res := runTask(t, typ, "monitorWebhook", map[string]any{
			"url": rc.URL + tt.path, "waitForCompletion": true, "statusUrlResolution": "getMethod",
			"statusEndpoint": rc.URL + tt.path, "statusJsonPath": tt.statusPath, "progressJsonPath": tt.progressPath,
			"successStatuses": "SUCCEEDED, TRUE, DONE",
		})
		if res.Status != tt.want {
			t.Errorf("%s %s: %s (%s), want %s", tt.path, tt.statusPath, res.Status, res.Error, tt.want)
			continue
		}
		monitor, _ := res.Context["webhook"].(map[string]any)["monitor"].(map[string]any)
		switch {
		case tt.want == status.Terminal && !strings.Contains(res.Error, tt.msg):
			t.Errorf("%s %s: error %q, want %q", tt.path, tt.statusPath, res.Error, tt.msg)
		case tt.want == status.Succeeded && tt.msg != "" && monitor["progressMessage"] != tt.msg:
			t.Errorf("%s: progressMessage %v, want %q", tt.path, monitor["progressMessage"], tt.msg)
		case tt.want == status.Running && monitor["percentComplete"] != 42.5:
			t.Errorf("%s: percentComplete %v, want 42.5", tt.path, monitor["percentComplete"])
		}
	}
}

// TestStatusURL: the status URL Orca's WebhookStatusCheckUrlRetriever
// resolves: a relative Location against the webhook's URL, a URL on the
// webhook's host keeping the webhook's scheme, and none at all failing.
func TestStatusURL(t *testing.T) {
	t.Parallel()
	var base string
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch r.URL.Path {
		case "/api/relative":
			w.Header().Set("Location", "../jobs/1")
		case "/scheme":
			w.Header().Set("Location", strings.Replace(base, "http://", "https://", 1)+"/jobs/2")
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"next": nil})
	})
	base = rc.URL
	typ, err := webhook.New(fast())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, resolution, want, fail string
	}{
		{"/api/relative", "locationHeader", rc.URL + "/jobs/1", ""},
		{"/scheme", "locationHeader", rc.URL + "/jobs/2", ""},
		{"/none", "locationHeader", "", "no Location header"},
		{"/none", "webhookResponse", "", "resolved to null"},
	} {
		res := runTask(t, typ, "createWebhook", map[string]any{"url": rc.URL + tt.path, "waitForCompletion": true,
			"statusUrlResolution": tt.resolution, "statusUrlJsonPath": "$.next"})
		if tt.fail != "" {
			if res.Status != status.Terminal || !strings.Contains(res.Error, tt.fail) {
				t.Errorf("%s: %s %q, want TERMINAL with %q", tt.path, res.Status, res.Error, tt.fail)
			}
			continue
		}
		if res.Status != status.Succeeded || res.Context["statusEndpoint"] != tt.want {
			t.Errorf("%s: %s, statusEndpoint %v, want %s", tt.path, res.Status, res.Context["statusEndpoint"], tt.want)
		}
	}
}
