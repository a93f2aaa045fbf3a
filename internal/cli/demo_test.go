package cli

import (
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/status"
)

// TestJudgmentWait: the wait runs from the judgment's RUNNING to its end,
// also when a person answers it elsewhere and demoJudge returns at once.
func TestJudgmentWait(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := judgmentWait{name: demoJudgment, now: func() time.Time { return now }}
	steps := []struct {
		after  time.Duration
		data   apitype.StageStatusData
		judge  bool
		waited time.Duration
	}{
		{0, apitype.StageStatusData{Name: "Deploy", Status: status.Succeeded}, false, 0},
		{time.Second, apitype.StageStatusData{Name: demoJudgment, Status: status.Running}, true, 0},
		// A person judges in another terminal a minute and a half later.
		{90 * time.Second, apitype.StageStatusData{Name: demoJudgment, Status: status.Succeeded}, false, 90 * time.Second},
		{5 * time.Second, apitype.StageStatusData{Name: "Route", Status: status.Succeeded}, false, 90 * time.Second},
	}
	for i, s := range steps {
		now = now.Add(s.after)
		if got := w.observe(s.data); got != s.judge {
			t.Errorf("step %d (%s %s): observe = %v, want %v", i, s.data.Name, s.data.Status, got, s.judge)
		}
		if w.total != s.waited {
			t.Errorf("step %d (%s %s): waited %v, want %v", i, s.data.Name, s.data.Status, w.total, s.waited)
		}
	}
}
