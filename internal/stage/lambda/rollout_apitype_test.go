package lambda

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/canary"
)

// TestRolloutMatchesAPIType: the rollout output reads as apitype.Rollout,
// which the CLI and the console show, field for field.
func TestRolloutMatchesAPIType(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	rep := canary.Report{Decision: &canary.Decision{Result: canary.DecisionPass, Score: ptr(96.5), Reason: "score 96.5 reached the pass threshold 95"}}
	r := rollout{Alias: "live", Baseline: "1", Canary: "2", Step: 1, Status: rolloutPaused, Reason: "why",
		PausedAt: start.Add(time.Minute), Commands: 2,
		Steps: []rolloutStep{{Weight: 10, Pause: 5 * time.Minute, Analysis: true}, {Weight: 100}},
		History: []stepRecord{
			{Step: 1, Weight: 10, Start: start, End: start.Add(5 * time.Minute), Outcome: "passed", Analysis: &rep,
				Alarms: []canary.Alarm{{Name: "errors", State: "ALARM", Reason: "threshold crossed"}}},
			{Step: 2, Weight: 100, Start: start.Add(5 * time.Minute)},
		}}
	b, err := json.Marshal(jsonValue(r))
	if err != nil {
		t.Fatal(err)
	}
	var got apitype.Rollout
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	want := apitype.Rollout{Alias: "live", Baseline: "1", Canary: "2", Step: 1, Status: apitype.RolloutPaused, Reason: "why",
		PausedAt: start.Add(time.Minute), Commands: 2,
		Steps: []apitype.RolloutStep{{Weight: 10, Pause: 5 * time.Minute, Analysis: true}, {Weight: 100}},
		History: []apitype.RolloutRecord{
			{Step: 1, Weight: 10, Start: start, End: start.Add(5 * time.Minute), Outcome: "passed", Analysis: &apitype.RolloutAnalysis{},
				AlarmsFiring: []apitype.RolloutAlarm{{Name: "errors", Reason: "threshold crossed"}}},
			{Step: 2, Weight: 100, Start: start.Add(5 * time.Minute)},
		}}
	want.History[0].Analysis.Decision = got.History[0].Analysis.Decision // anonymous struct: compared below
	if !reflect.DeepEqual(got, want) {
		t.Errorf("apitype.Rollout from %s\n got %+v\nwant %+v", b, got, want)
	}
	if d := got.History[0].Analysis.Decision; d == nil || d.Result != "pass" || d.Score == nil || *d.Score != 96.5 || d.Reason != rep.Decision.Reason {
		t.Errorf("decision = %+v, want pass with score 96.5", d)
	}
	for _, pair := range [][2]string{
		{rolloutShifting, apitype.RolloutShifting}, {rolloutPaused, apitype.RolloutPaused}, {rolloutPromoted, apitype.RolloutPromoted},
		{rolloutRestoring, apitype.RolloutRestoring}, {rolloutRestored, apitype.RolloutRestored},
		{rolloutRestoreFailed, apitype.RolloutRestoreFailed}, {rolloutStopped, apitype.RolloutStopped},
	} {
		if pair[0] != pair[1] {
			t.Errorf("status %q is %q in apitype", pair[0], pair[1])
		}
	}
}
