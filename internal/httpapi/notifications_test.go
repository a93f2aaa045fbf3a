package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/notify"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	"github.com/sluice-cd/sluice/internal/status"
)

// TestExecutionNotifications: the execution document lists each
// notification's delivery (held against openapi.json by checkOpenAPI),
// with the address's secret path left out.
func TestExecutionNotifications(t *testing.T) {
	t.Parallel()
	var posts atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		posts.Add(1)
	}))
	defer hook.Close()
	sender, err := notify.New(notify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := setup(t, func(cfg *httpapi.Config) {
		reg := stage.NewRegistry(judgment.Type{})
		cfg.Engine = sluicetest.StartEngine(t, engine.Config{Store: cfg.Store, Stages: reg, Logger: cfg.Logger, Notifier: sender})
		cfg.Stages = reg
	})
	apply(t, c, "demo", "told", fmt.Sprintf(`{"application": "demo", "name": "told",
	  "notifications": [{"type": "webhook", "address": "%s/secret/path", "when": ["pipeline.starting", "pipeline.complete"]}],
	  "stages": [{"refId": "1", "type": "manualJudgment", "name": "Go?"}]}`, hook.URL))
	ctx := context.Background()
	exec, err := c.Trigger(ctx, "demo", "told", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, exec.ID, "the judgment to wait", func(e *apitype.Execution) bool {
		return len(e.Stages) == 1 && e.Stages[0].Status == status.Running
	})
	if _, err := c.Judge(ctx, exec.ID, "1", apitype.JudgmentRequest{Status: "continue"}); err != nil {
		t.Fatal(err)
	}
	e := waitFor(t, c, exec.ID, "two deliveries", func(e *apitype.Execution) bool {
		return len(e.Notifications) == 2 && e.Notifications[1].Status == apitype.DeliverySucceeded
	})
	for i, d := range e.Notifications {
		want := []string{"pipeline.starting", "pipeline.complete"}[i]
		if d.Event != want || d.Type != "webhook" || d.Status != apitype.DeliverySucceeded || d.Attempts != 1 ||
			d.ID != fmt.Sprintf("%s/%d", exec.ID, i) || strings.Contains(d.Address, "secret") || d.CreatedAt == 0 || d.LastAttemptAt == 0 {
			t.Errorf("notifications[%d] = %+v, want %s delivered once, its address without the path", i, d, want)
		}
	}
	if n := posts.Load(); n != 2 {
		t.Errorf("the receiver got %d posts, want 2", n)
	}
}
