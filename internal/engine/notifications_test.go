package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/notify"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// inbox is a real HTTP server standing in for the receivers of
// notifications. Each path answers 503 to its first failFirst[path] posts.
type inbox struct {
	*httptest.Server
	mu        sync.Mutex
	posts     []post
	failFirst map[string]int
	status    map[string]int // a fixed answer for a path
}

type post struct {
	path, delivery, event string
	body                  map[string]any
	answered              int
}

func newInbox(t *testing.T) *inbox {
	in := &inbox{failFirst: map[string]int{}, status: map[string]int{}}
	in.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("%s: not JSON: %s", r.URL.Path, b)
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		code := http.StatusOK
		seen := 0
		for _, p := range in.posts {
			if p.path == r.URL.Path && p.delivery == r.Header.Get("X-Sluice-Delivery") {
				seen++
			}
		}
		switch {
		case in.status[r.URL.Path] != 0:
			code = in.status[r.URL.Path]
		case seen < in.failFirst[r.URL.Path]:
			code = http.StatusServiceUnavailable
		}
		in.posts = append(in.posts, post{path: r.URL.Path, delivery: r.Header.Get("X-Sluice-Delivery"),
			event: r.Header.Get("X-Sluice-Event"), body: body, answered: code})
		w.WriteHeader(code)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(in.Close)
	return in
}

// delivered lists "path event" for each post answered 2xx, sorted.
func (in *inbox) delivered() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, p := range in.posts {
		if p.answered/100 == 2 {
			out = append(out, p.path+" "+p.event)
		}
	}
	slices.Sort(out)
	return out
}

func (in *inbox) find(path, event string) *post {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := range in.posts {
		if p := &in.posts[i]; p.path == path && p.event == event && p.answered/100 == 2 {
			return p
		}
	}
	return nil
}

func deliveries(t *testing.T, st store.Store, id string) []apitype.NotificationDelivery {
	t.Helper()
	exec, err := st.ExecutionGet(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		Notifications []apitype.NotificationDelivery `json:"notifications"`
	}
	if err := json.Unmarshal(exec.State, &state); err != nil {
		t.Fatal(err)
	}
	return state.Notifications
}

// TestNotifications runs a pipeline with pipeline-, stage- and
// judgment-level notifications on each store, against a real HTTP
// receiver, and checks that each event is delivered exactly once, that a
// receiver failing twice is tried a third time (the record says 3
// attempts), that a refusal is not retried, and that a stage without
// sendNotifications notifies nothing.
func TestNotifications(t *testing.T) {
	t.Parallel()
	sluicetest.EachStore(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		in := newInbox(t)
		in.failFirst["/pipeline"] = 2
		in.status["/gone"] = http.StatusNotFound
		sender, err := notify.New(notify.Config{ExternalURL: "http://sluice.test"})
		if err != nil {
			t.Fatal(err)
		}
		logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
		metrics := prometheus.NewRegistry()
		e := sluicetest.StartEngine(t, engine.Config{
			Store: st, Stages: stage.NewRegistry(judgment.Type{}, newProbe()), Logger: logger,
			EventPollInterval: 50 * time.Millisecond,
			Notifier:          sender, NotifyBackoff: 20 * time.Millisecond, NotifyAttempts: 5,
			Metrics: metrics,
		})
		b := &bundle{engine: e, store: st}
		u := in.URL
		p := b.save(t, fmt.Sprintf(`{"application": "shop", "name": "release",
		  "notifications": [
		    {"type": "webhook", "address": "%[1]s/pipeline", "level": "pipeline",
		     "when": ["pipeline.starting", "pipeline.complete", "pipeline.failed"],
		     "message": {"pipeline.complete": {"text": "released"}}},
		    {"type": "webhook", "address": "%[1]s/gone", "when": ["pipeline.complete"]}
		  ],
		  "stages": [
		    {"refId": "1", "type": "probe", "name": "Canary", "output": {"canaryScore": 95, "canaryResult": "pass"},
		     "sendNotifications": true,
		     "notifications": [{"type": "webhook", "address": "%[1]s/stage", "level": "stage", "when": ["stage.starting", "stage.complete", "stage.failed"]}]},
		    {"refId": "2", "type": "manualJudgment", "name": "Promote?", "requisiteStageRefIds": ["1"],
		     "instructions": "Look at the canary.", "sendNotifications": true,
		     "notifications": [{"type": "slack", "address": "%[1]s/slack", "when": ["manualJudgment", "manualJudgmentContinue", "manualJudgmentStop"]}]},
		    {"refId": "3", "type": "probe", "name": "Quiet", "requisiteStageRefIds": ["2"],
		     "notifications": [{"type": "webhook", "address": "%[1]s/never", "when": ["stage.complete"]}]}
		  ]}`, u))
		exec := b.trigger(t, p, nil)

		sluicetest.WaitFor(t, "the judgment's notification", 0, func() bool { return in.find("/slack", "manualJudgment") != nil })
		slack := in.find("/slack", "manualJudgment").body
		text := slack["attachments"].([]any)[0].(map[string]any)["text"].(string)
		for _, want := range []string{"Stage Promote? for Shop's <http://sluice.test/executions/" + exec.ID + "#judgment-2|release> pipeline is awaiting manual judgment",
			"Instructions: Look at the canary.", "Canary analysis (Canary): score 95, result pass"} {
			if !strings.Contains(text, want) {
				t.Errorf("judgment message %q lacks %q", text, want)
			}
		}
		if err := e.Judge(context.Background(), exec.ID, "2", engine.Judgment{Status: "continue", User: "alice"}); err != nil {
			t.Fatal(err)
		}
		b.waitStatus(t, exec.ID, status.Succeeded)
		sluicetest.WaitFor(t, "every delivery to end", 0, func() bool {
			for _, d := range deliveries(t, st, exec.ID) {
				if d.Status != apitype.DeliverySucceeded && d.Status != apitype.DeliveryFailed {
					return false
				}
			}
			return true
		})

		want := []string{
			"/pipeline pipeline.complete", "/pipeline pipeline.starting",
			"/slack manualJudgment", "/slack manualJudgmentContinue",
			"/stage stage.complete", "/stage stage.starting",
		}
		if got := in.delivered(); !slices.Equal(got, want) {
			t.Errorf("delivered:\n%s\nwant (each once):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if p := in.find("/pipeline", "pipeline.complete"); p == nil || p.body["text"] != "released" || p.body["link"] != "http://sluice.test/executions/"+exec.ID {
			t.Errorf("pipeline.complete body: %v", p)
		}
		if p := in.find("/slack", "manualJudgmentContinue"); p == nil || !strings.Contains(fmt.Sprint(p.body["text"]), "was judged to continue by alice") {
			t.Errorf("manualJudgmentContinue body: %v", p)
		}

		type rec struct {
			Event, Type, Status, StageRefID string
			Attempts                        int
		}
		var got []rec
		for i, d := range deliveries(t, st, exec.ID) {
			if d.ID != fmt.Sprintf("%s/%d", exec.ID, i) || strings.Contains(d.Address, "/pipeline") {
				t.Errorf("delivery %d: id %q, address %q; want %s/%d and no path", i, d.ID, d.Address, exec.ID, i)
			}
			if d.Status == apitype.DeliveryFailed && !strings.Contains(d.Error, "404") {
				t.Errorf("delivery %d failed with %q, want the receiver's 404", i, d.Error)
			}
			got = append(got, rec{d.Event, d.Type, d.Status, d.StageRefID, d.Attempts})
		}
		wantRecs := []rec{
			{"pipeline.starting", "webhook", "SUCCEEDED", "", 3},
			{"stage.starting", "webhook", "SUCCEEDED", "1", 1},
			{"stage.complete", "webhook", "SUCCEEDED", "1", 1},
			{"manualJudgment", "slack", "SUCCEEDED", "2", 1},
			{"manualJudgmentContinue", "slack", "SUCCEEDED", "2", 1},
			{"pipeline.complete", "webhook", "SUCCEEDED", "", 3},
			{"pipeline.complete", "webhook", "FAILED", "", 1},
		}
		if !slices.Equal(got, wantRecs) {
			t.Errorf("records:\n%+v\nwant\n%+v", got, wantRecs)
		}
		// The metrics count every attempt: the two retried deliveries
		// failed twice each before they were sent.
		for labels, want := range map[string]float64{
			"shop sent webhook": 4, "shop retrying webhook": 4, "shop failed webhook": 1, "shop sent slack": 2,
		} {
			if got := counterValue(t, metrics, "sluice_notification_attempts_total", labels); got != want {
				t.Errorf("sluice_notification_attempts_total{application result type = %s} = %v, want %v", labels, got, want)
			}
		}

		// A judgment stopped, and the pipeline failed: the failure events.
		p2 := b.save(t, fmt.Sprintf(`{"application": "shop", "name": "stopped",
		  "notifications": [{"type": "webhook", "address": "%[1]s/p2", "when": ["pipeline.complete", "pipeline.failed"]}],
		  "stages": [
		    {"refId": "0", "type": "probe", "name": "Shift", "output": {"rollout": {"history": [
		      {"step": 1, "analysis": {"decision": {"result": "pass", "score": 88.5, "reason": "within bounds"}}},
		      {"step": 2, "analysis": {"decision": {"result": "fail", "score": null, "reason": "errors rose"}}}]}}},
		    {"refId": "1", "type": "manualJudgment", "name": "Go?", "sendNotifications": true, "requisiteStageRefIds": ["0"],
		     "notifications": [{"type": "webhook", "address": "%[1]s/j2", "when": ["manualJudgmentStop", "stage.failed"]}]}
		  ]}`, u))
		exec2 := b.trigger(t, p2, nil)
		sluicetest.WaitFor(t, "the judgment to wait", 0, func() bool {
			x, err := st.ExecutionGet(context.Background(), exec2.ID)
			return err == nil && len(x.Stages) == 2 && x.Stages[1].Status == status.Running
		})
		if err := e.Judge(context.Background(), exec2.ID, "1", engine.Judgment{Status: "stop", User: "bob"}); err != nil {
			t.Fatal(err)
		}
		b.waitStatus(t, exec2.ID, status.Terminal)
		sluicetest.WaitFor(t, "the failure's deliveries", 0, func() bool {
			ds := deliveries(t, st, exec2.ID)
			return len(ds) == 3 && !slices.ContainsFunc(ds, func(d apitype.NotificationDelivery) bool { return d.Status != apitype.DeliverySucceeded })
		})
		var events []string
		for _, d := range deliveries(t, st, exec2.ID) {
			events = append(events, d.Event)
		}
		if want := []string{"stage.failed", "manualJudgmentStop", "pipeline.failed"}; !slices.Equal(events, want) {
			t.Errorf("events %v, want %v", events, want)
		}
		if p := in.find("/j2", "manualJudgmentStop"); p == nil || !strings.Contains(fmt.Sprint(p.body["summary"]), "was judged to stop by bob") {
			t.Errorf("manualJudgmentStop body: %v", p)
		} else if c, _ := p.body["canary"].(map[string]any); c["stage"] != "Shift" || c["result"] != "fail" || c["message"] != "errors rose" || c["score"] != nil {
			t.Errorf("manualJudgmentStop canary evidence %v, want the last judged step of the shift", p.body["canary"])
		}
		if p := in.find("/j2", "stage.failed"); p == nil || !strings.Contains(fmt.Sprint(p.body["stage"]), "stopped by manual judgment of bob") {
			t.Errorf("stage.failed body: %v", p)
		}
	})
}

// counterValue returns the value of the counter name whose label values,
// in the order of the labels' names and joined by spaces, are labels; 0
// when there is none.
func counterValue(t *testing.T, g prometheus.Gatherer, name, labels string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			var values []string
			for _, l := range m.Label {
				values = append(values, l.GetValue())
			}
			if strings.Join(values, " ") == labels {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
