package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// TestGetMethod: the webhook is POSTed with its payload and headers, whose
// expressions the engine evaluated; the same URL is then polled with GET
// until the status at statusJsonPath is a success status, and a
// downstream stage reads the response where Orca keeps it.
func TestGetMethod(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			switch {
			case r.Method == http.MethodPost:
				writeJSON(w, http.StatusOK, map[string]any{"id": "job-42", "status": "QUEUED", "message": "queued"})
			case n < 4: // the POST, then two polls still running
				writeJSON(w, http.StatusOK, map[string]any{"id": "job-42", "status": "running", "message": "building"})
			default:
				writeJSON(w, http.StatusOK, map[string]any{"id": "job-42", "status": "Success", "message": "done"})
			}
		})
		r := startEngine(t, st, fast())
		id := r.trigger(t, map[string]any{"build": "123"},
			hookStage(map[string]any{
				"url":                 rc.URL + "/build",
				"customHeaders":       map[string]any{"X-Build": "${parameters.build}", "X-Multi": []any{"a", "b"}, "X-Spinnaker-User": "admin"},
				"payload":             map[string]any{"build": "${trigger.parameters.build}", "fixed": 1},
				"waitForCompletion":   true,
				"statusUrlResolution": "getMethod",
				"statusJsonPath":      "$.status",
				"progressJsonPath":    "message",
				"successStatuses":     "SUCCESS",
				"terminalStatuses":    "FAILED",
			}),
			map[string]any{"refId": "2", "requisiteStageRefIds": []any{"1"}, "name": "Read", "type": "evaluateVariables",
				"variables": []any{map[string]any{"key": "jobId", "value": "${#stage('Hook').context.webhook.body.id}"}}},
		)
		ex := r.waitDone(t, id)
		if ex.Status != status.Succeeded {
			t.Fatalf("execution %s: %s", ex.Status, ex.Stages[0].Context)
		}
		posts := rc.got("/build")
		if len(posts) < 4 || posts[0].Method != http.MethodPost {
			t.Fatalf("requests %+v; want a POST and three GETs", posts)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(posts[0].Body), &body); err != nil || body["build"] != "123" || body["fixed"] != 1.0 {
			t.Errorf("payload %s; want the evaluated {build: 123, fixed: 1}", posts[0].Body)
		}
		h := posts[0].Header
		if h.Get("X-Build") != "123" || !slices.Equal(h.Values("X-Multi"), []string{"a", "b"}) || h.Get("X-Spinnaker-User") != "" {
			t.Errorf("headers %v; want X-Build 123, X-Multi a and b, no X-Spinnaker-User", h)
		}
		if h.Get("Content-Type") != "application/json" || h.Get("Idempotency-Key") != "" {
			t.Errorf("headers %v; want a JSON content type and, without idempotencyKey, no Idempotency-Key", h)
		}
		for _, p := range posts[1:] {
			if p.Method != http.MethodGet || p.Header.Get("X-Build") != "123" {
				t.Errorf("poll %s with X-Build %q; want GET with the custom headers", p.Method, p.Header.Get("X-Build"))
			}
		}
		ctx := stageContext(t, ex, "1")
		if got := path(ctx, "webhook", "statusCodeValue"); got != 200.0 {
			t.Errorf("webhook.statusCodeValue = %v, want 200", got)
		}
		if got := path(ctx, "webhook", "statusCode"); got != "OK" {
			t.Errorf("webhook.statusCode = %v, want OK", got)
		}
		if got := path(ctx, "statusEndpoint"); got != rc.URL+"/build" {
			t.Errorf("statusEndpoint = %v, want the webhook's URL", got)
		}
		if got := path(ctx, "webhook", "monitor", "body", "status"); got != "Success" {
			t.Errorf("webhook.monitor.body.status = %v", got)
		}
		if got := path(ctx, "webhook", "monitor", "progressMessage"); got != "done" {
			t.Errorf("webhook.monitor.progressMessage = %v, want done", got)
		}
		var outs map[string]any
		if err := json.Unmarshal(ex.Stages[1].Outputs, &outs); err != nil || outs["jobId"] != "job-42" {
			t.Errorf("downstream outputs %s, want jobId job-42 read from #stage('Hook').context.webhook.body.id", ex.Stages[1].Outputs)
		}
	})
}

// TestLocationHeader: the status URL is the response's Location; a
// number at statusJsonPath is a percentage, done at 100.
func TestLocationHeader(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		var base string
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			switch r.URL.Path {
			case "/deploy":
				w.Header().Set("Location", base+"/jobs/7")
				writeJSON(w, http.StatusAccepted, map[string]any{})
			case "/jobs/7":
				writeJSON(w, http.StatusOK, map[string]any{"percent": min(50*n, 100)})
			}
		})
		base = rc.URL
		r := startEngine(t, st, fast())
		id := r.trigger(t, nil, hookStage(map[string]any{
			"url": rc.URL + "/deploy", "method": "put", "waitForCompletion": true,
			"statusUrlResolution": "locationHeader", "statusJsonPath": "$.percent",
		}))
		ex := r.waitDone(t, id)
		if ex.Status != status.Succeeded {
			t.Fatalf("execution %s: %s", ex.Status, ex.Stages[0].Context)
		}
		if got := rc.got("/deploy"); len(got) != 1 || got[0].Method != http.MethodPut {
			t.Errorf("requests to /deploy %+v; want one PUT", got)
		}
		if got := len(rc.got("/jobs/7")); got != 2 {
			t.Errorf("polls of /jobs/7 = %d, want 2 (50%%, then 100%%)", got)
		}
		ctx := stageContext(t, ex, "1")
		if got := path(ctx, "statusEndpoint"); got != rc.URL+"/jobs/7" {
			t.Errorf("statusEndpoint = %v", got)
		}
		if got := path(ctx, "webhook", "monitor", "percentComplete"); got != 100.0 {
			t.Errorf("percentComplete = %v, want 100", got)
		}
		if got := path(ctx, "webhook", "statusCode"); got != "ACCEPTED" {
			t.Errorf("statusCode = %v, want ACCEPTED", got)
		}
	})
}

// TestWebhookResponse: the status URL is read from the response at
// statusUrlJsonPath; a terminal status fails the stage, and the stage,
// failing, calls its cancelEndpoint as Orca's onFailureStages does.
func TestWebhookResponse(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		var base string
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			switch r.URL.Path {
			case "/start":
				writeJSON(w, http.StatusCreated, map[string]any{"links": map[string]any{"status": base + "/status/9"}})
			case "/status/9":
				if n == 1 {
					writeJSON(w, http.StatusOK, map[string]any{"state": "RUNNING"})
					return
				}
				writeJSON(w, http.StatusOK, map[string]any{"state": "failed"})
			case "/cancel/9":
				w.WriteHeader(http.StatusNoContent)
			}
		})
		base = rc.URL
		r := startEngine(t, st, fast())
		id := r.trigger(t, nil, hookStage(map[string]any{
			"url": rc.URL + "/start", "waitForCompletion": true,
			"statusUrlResolution": "webhookResponse", "statusUrlJsonPath": "$.links.status",
			"statusJsonPath": "state", "successStatuses": "SUCCEEDED", "terminalStatuses": "FAILED, ERROR",
			"cancelEndpoint": rc.URL + "/cancel/9", "cancelMethod": "delete", "cancelPayload": map[string]any{"reason": "failed"},
		}))
		ex := r.waitDone(t, id)
		if ex.Status != status.Terminal {
			t.Fatalf("execution %s, want TERMINAL: %s", ex.Status, ex.Stages[0].Context)
		}
		if got := len(rc.got("/status/9")); got != 2 {
			t.Errorf("polls = %d, want 2", got)
		}
		cancels := rc.got("/cancel/9")
		if len(cancels) != 1 || cancels[0].Method != http.MethodDelete || !strings.Contains(cancels[0].Body, `"reason":"failed"`) {
			t.Errorf("cancel requests %+v; want one DELETE with the cancelPayload", cancels)
		}
		msg := stageError(t, ex)
		if !strings.Contains(msg, "FAILED") || !strings.Contains(msg, "terminalStatuses") || !strings.Contains(msg, "Called cancelEndpoint") {
			t.Errorf("stage error %q; want the status, terminalStatuses and the cancel call named", msg)
		}
	})
}

// TestCanceledStatus: a status in canceledStatuses ends the stage
// CANCELED.
func TestCanceledStatus(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusOK, map[string]any{"status": "ABORTED"})
		})
		r := startEngine(t, st, fast())
		id := r.trigger(t, nil, hookStage(map[string]any{
			"url": rc.URL + "/job", "waitForCompletion": true, "statusUrlResolution": "getMethod",
			"statusJsonPath": "$.status", "successStatuses": "OK", "canceledStatuses": "aborted",
		}))
		ex := r.waitDone(t, id)
		if ex.Stages[0].Status != status.Canceled {
			t.Fatalf("stage %s, want CANCELED: %s", ex.Stages[0].Status, ex.Stages[0].Context)
		}
	})
}

// TestCreateRetries: createWebhook calls again on a 503 and a 429 (Orca's
// default retry codes), with the same Idempotency-Key when the stage asks
// for one, and fails fast on
// a 504 (Orca's default failFastStatusCodes) and at once on a 400.
func TestCreateRetries(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			switch r.URL.Path {
			case "/flaky":
				codes := []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusOK}
				writeJSON(w, codes[min(n, 3)-1], map[string]any{"try": n})
			case "/gateway":
				writeJSON(w, http.StatusGatewayTimeout, map[string]any{})
			case "/bad":
				writeJSON(w, http.StatusBadRequest, map[string]any{"message": "field build is missing"})
			case "/conflict":
				if n == 1 {
					writeJSON(w, http.StatusConflict, map[string]any{})
					return
				}
				writeJSON(w, http.StatusOK, map[string]any{})
			}
		})
		r := startEngine(t, st, fast())
		flaky := r.trigger(t, nil, hookStage(map[string]any{"url": rc.URL + "/flaky", "idempotencyKey": true}))
		gateway := r.trigger(t, nil, hookStage(map[string]any{"url": rc.URL + "/gateway"}))
		bad := r.trigger(t, nil, hookStage(map[string]any{"url": rc.URL + "/bad"}))
		conflict := r.trigger(t, nil, hookStage(map[string]any{"url": rc.URL + "/conflict", "webhookRetryStatusCodes": []any{409}}))

		if ex := r.waitDone(t, flaky); ex.Status != status.Succeeded {
			t.Errorf("flaky: %s: %s", ex.Status, ex.Stages[0].Context)
		}
		calls := rc.got("/flaky")
		if len(calls) != 3 {
			t.Fatalf("calls to /flaky = %d, want 3 (503, 429, 200)", len(calls))
		}
		if k := calls[0].Header.Get("Idempotency-Key"); k == "" || calls[1].Header.Get("Idempotency-Key") != k || calls[2].Header.Get("Idempotency-Key") != k {
			t.Errorf("Idempotency-Key differs between the calls of one stage run: %q %q %q", k, calls[1].Header.Get("Idempotency-Key"), calls[2].Header.Get("Idempotency-Key"))
		}
		ex := r.waitDone(t, gateway)
		if ex.Status != status.Terminal || len(rc.got("/gateway")) != 1 || !strings.Contains(stageError(t, ex), "fail fast") {
			t.Errorf("gateway: %s after %d calls (%q); want TERMINAL after one, failing fast", ex.Status, len(rc.got("/gateway")), stageError(t, ex))
		}
		ex = r.waitDone(t, bad)
		if msg := stageError(t, ex); ex.Status != status.Terminal || len(rc.got("/bad")) != 1 || !strings.Contains(msg, "status code 400") || !strings.Contains(msg, "field build is missing") {
			t.Errorf("bad: %s after %d calls (%q); want TERMINAL after one, with the response's words", ex.Status, len(rc.got("/bad")), msg)
		}
		if got := path(stageContext(t, ex, "1"), "webhook", "body", "message"); got != "field build is missing" {
			t.Errorf("bad: webhook.body.message = %v", got)
		}
		if ex := r.waitDone(t, conflict); ex.Status != status.Succeeded || len(rc.got("/conflict")) != 2 {
			t.Errorf("conflict: %s after %d calls; want SUCCEEDED after 2 (409 is in webhookRetryStatusCodes)", ex.Status, len(rc.got("/conflict")))
		}
	})
}

// TestMonitorRetries: monitorWebhook polls again on retryStatusCodes and
// on a code in retries until its maxAttempts, then fails, keeping
// pastStatusCodes.
func TestMonitorRetries(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			switch {
			case r.Method == http.MethodPost:
				writeJSON(w, http.StatusOK, map[string]any{})
			case r.URL.Path == "/gone":
				writeJSON(w, http.StatusNotFound, map[string]any{})
			case r.URL.Path == "/busy" && n <= 3:
				writeJSON(w, http.StatusConflict, map[string]any{})
			default:
				writeJSON(w, http.StatusOK, map[string]any{"status": "DONE"})
			}
		})
		r := startEngine(t, st, fast())
		common := map[string]any{"waitForCompletion": true, "statusUrlResolution": "getMethod", "statusJsonPath": "$.status", "successStatuses": "DONE"}
		with := func(m map[string]any) map[string]any {
			for k, v := range common {
				m[k] = v
			}
			return hookStage(m)
		}
		gone := r.trigger(t, nil, with(map[string]any{"url": rc.URL + "/gone", "retries": map[string]any{"404": map[string]any{"maxAttempts": 2}}}))
		busy := r.trigger(t, nil, with(map[string]any{"url": rc.URL + "/busy", "retryStatusCodes": []any{409}}))

		ex := r.waitDone(t, gone)
		if ex.Status != status.Terminal {
			t.Fatalf("gone: %s, want TERMINAL", ex.Status)
		}
		if polls := len(rc.got("/gone")) - 1; polls != 3 {
			t.Errorf("polls of /gone = %d, want 3 (two retries allowed)", polls)
		}
		past, _ := path(stageContext(t, ex, "1"), "webhook", "monitor", "pastStatusCodes").([]any)
		if len(past) != 2 || past[0] != 404.0 {
			t.Errorf("pastStatusCodes = %v, want [404 404]", past)
		}
		if ex := r.waitDone(t, busy); ex.Status != status.Succeeded || len(rc.got("/busy")) != 4 {
			t.Errorf("busy: %s after %d requests; want SUCCEEDED after a POST, two 409s and DONE", ex.Status, len(rc.got("/busy")))
		}
	})
}

// TestWaitBeforeMonitor: the first poll comes waitBeforeMonitor seconds
// after the call, waited as a task of its own.
func TestWaitBeforeMonitor(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		var created, polled atomic.Int64
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if r.Method == http.MethodPost {
				created.Store(time.Now().UnixNano())
				writeJSON(w, http.StatusOK, map[string]any{})
				return
			}
			polled.CompareAndSwap(0, time.Now().UnixNano())
			writeJSON(w, http.StatusOK, map[string]any{"status": "SUCCEEDED"})
		})
		r := startEngine(t, st, fast())
		id := r.trigger(t, nil, hookStage(map[string]any{
			"url": rc.URL + "/x", "waitForCompletion": true, "statusUrlResolution": "getMethod",
			"statusJsonPath": "$.status", "successStatuses": "SUCCEEDED", "waitBeforeMonitor": "1",
		}))
		ex := r.waitDone(t, id)
		if ex.Status != status.Succeeded {
			t.Fatalf("execution %s", ex.Status)
		}
		if d := time.Duration(polled.Load() - created.Load()); d < time.Second {
			t.Errorf("first poll %s after the call, want at least waitBeforeMonitor's second", d)
		}
		var book struct {
			Tasks []struct{ Name, Status string }
		}
		if err := json.Unmarshal(ex.Stages[0].Tasks, &book); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tk := range book.Tasks {
			names = append(names, tk.Name)
		}
		if !slices.Equal(names, []string{"createWebhook", "waitBeforeMonitorWebhook", "monitorWebhook"}) {
			t.Errorf("tasks %v", names)
		}
	})
}

// TestCancel: canceling the execution while the stage polls calls
// cancelEndpoint, and the stage ends CANCELED; without a cancelEndpoint
// the stage ends TERMINAL saying what the webhook started goes on.
func TestCancel(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			switch {
			case strings.HasPrefix(r.URL.Path, "/cancel"):
				writeJSON(w, http.StatusOK, map[string]any{"canceled": true})
			case r.Method == http.MethodPost:
				writeJSON(w, http.StatusAccepted, map[string]any{})
			default:
				writeJSON(w, http.StatusOK, map[string]any{"status": "RUNNING"})
			}
		})
		r := startEngine(t, st, fast())
		fields := func(url string, extra map[string]any) map[string]any {
			m := map[string]any{"url": url, "waitForCompletion": true, "statusUrlResolution": "getMethod",
				"statusJsonPath": "$.status", "successStatuses": "SUCCEEDED"}
			for k, v := range extra {
				m[k] = v
			}
			return hookStage(m)
		}
		withCancel := r.trigger(t, map[string]any{"build": "77"}, fields(rc.URL+"/a", map[string]any{
			"cancelEndpoint": rc.URL + "/cancel/${parameters.build}", "cancelPayload": map[string]any{"build": "${parameters.build}"}}))
		without := r.trigger(t, nil, fields(rc.URL+"/b", nil))
		for _, id := range []string{withCancel, without} {
			r.waitFor(t, id, "a poll", func(*store.Execution) bool { return len(rc.got("/a")) > 1 && len(rc.got("/b")) > 1 })
			if err := r.e.Cancel(context.Background(), id, "tester", "stop"); err != nil {
				t.Fatal(err)
			}
		}
		ex := r.waitFor(t, withCancel, "the stage's end", func(e *store.Execution) bool { return e.Stages[0].Status.Complete() })
		if ex.Stages[0].Status != status.Canceled {
			t.Errorf("with cancelEndpoint: stage %s (%s), want CANCELED", ex.Stages[0].Status, stageError(t, ex))
		}
		cancels := rc.got("/cancel/77")
		if len(cancels) != 1 || cancels[0].Method != http.MethodPost || !strings.Contains(cancels[0].Body, `"build":"77"`) {
			t.Errorf("cancel requests %+v; want one POST with the evaluated cancelPayload", cancels)
		}
		ex = r.waitFor(t, without, "the stage's end", func(e *store.Execution) bool { return e.Stages[0].Status.Complete() })
		if msg := stageError(t, ex); ex.Stages[0].Status != status.Terminal || !strings.Contains(msg, "no cancelEndpoint") {
			t.Errorf("without cancelEndpoint: stage %s (%q), want TERMINAL naming the missing cancelEndpoint", ex.Stages[0].Status, msg)
		}
	})
}

// TestRefused: with no allowed hosts, a webhook to a host that is not
// loopback fails without a request, naming the host and the config key;
// a status URL or a redirect to such a host fails the same way.
func TestRefused(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			switch r.URL.Path {
			case "/redirect":
				http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
			default:
				writeJSON(w, http.StatusOK, map[string]any{"status": "http://10.1.2.3/status"})
			}
		})
		r := startEngine(t, st, fast())
		cases := []struct {
			name   string
			fields map[string]any
			host   string
		}{
			{"url", map[string]any{"url": "http://example.com/hook"}, "example.com"},
			{"status url", map[string]any{"url": rc.URL + "/start", "waitForCompletion": true,
				"statusUrlResolution": "webhookResponse", "statusUrlJsonPath": "$.status"}, "10.1.2.3"},
			{"redirect", map[string]any{"url": rc.URL + "/redirect"}, "169.254.169.254"},
		}
		for _, c := range cases {
			ex := r.waitDone(t, r.trigger(t, nil, hookStage(c.fields)))
			msg := stageError(t, ex)
			if ex.Status != status.Terminal || !strings.Contains(msg, c.host) || !strings.Contains(msg, "webhooks.allowedHosts") {
				t.Errorf("%s: %s, %q; want TERMINAL naming %s and webhooks.allowedHosts", c.name, ex.Status, msg, c.host)
			}
		}
	})
}

// stageError is the first stage's failure message.
func stageError(t *testing.T, ex *store.Execution) string {
	t.Helper()
	ctx := stageContext(t, ex, "1")
	for _, k := range []string{"error", "exception"} {
		if v, ok := ctx[k]; ok {
			b, _ := json.Marshal(v)
			return string(b)
		}
	}
	b, _ := json.Marshal(ctx)
	return string(b)
}

// TestMonitorSurvivesRestart: a stage polling is a snoozed job, not a
// goroutine: a server stopped mid-poll and another started on the same
// database carry on polling where it was, without calling the webhook
// again.
func TestMonitorSurvivesRestart(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		var done atomic.Bool
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			switch {
			case r.Method == http.MethodPost:
				writeJSON(w, http.StatusAccepted, map[string]any{})
			case done.Load():
				writeJSON(w, http.StatusOK, map[string]any{"status": "SUCCEEDED"})
			default:
				writeJSON(w, http.StatusOK, map[string]any{"status": "RUNNING"})
			}
		})
		opts := fast()
		first := startEngine(t, st, opts)
		id := first.trigger(t, nil, hookStage(map[string]any{
			"url": rc.URL + "/job", "waitForCompletion": true, "statusUrlResolution": "getMethod",
			"statusJsonPath": "$.status", "successStatuses": "SUCCEEDED",
		}))
		first.waitFor(t, id, "two polls", func(*store.Execution) bool { return len(rc.got("/job")) >= 3 })
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := first.e.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		before := len(rc.got("/job"))
		done.Store(true)

		second := startEngine(t, st, opts)
		ex := second.waitDone(t, id)
		if ex.Status != status.Succeeded {
			t.Fatalf("after the restart: %s (%s)", ex.Status, stageError(t, ex))
		}
		var posts int
		for _, q := range rc.got("/job") {
			if q.Method == http.MethodPost {
				posts++
			}
		}
		if posts != 1 || len(rc.got("/job")) <= before {
			t.Errorf("%d calls and %d requests (%d before the restart); want one call, and polls after the restart", posts, len(rc.got("/job")), before)
		}
	})
}
