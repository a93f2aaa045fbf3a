package apitype

import (
	"fmt"
	"time"
)

// Rollout is the state of a $PROGRESSIVE Route stage's traffic shift, as
// the stage shows it in its outputs under "rollout". It mirrors the
// stage's own record (internal/stage/lambda), of which clients read these
// fields; the record has more.
type Rollout struct {
	Alias    string `json:"alias"`
	Baseline string `json:"baseline"` // the version shifted from
	Canary   string `json:"canary"`   // the version shifted to
	// Steps are the planned steps; the last sends 100 % to Canary.
	Steps []RolloutStep `json:"steps"`
	// Step is the index in Steps of the step running.
	Step int `json:"step"`
	// Status is one of RolloutShifting, RolloutPaused, RolloutPromoted,
	// RolloutRestoring, RolloutRestored, RolloutRestoreFailed,
	// RolloutStopped.
	Status string `json:"status"`
	// Reason says why the rollout stopped or was restored.
	Reason string `json:"reason,omitempty"`
	// PausedAt is when someone paused it; zero when not paused.
	PausedAt time.Time `json:"pausedAt,omitzero"`
	// Commands is how many of the stage's commands (pause, resume,
	// promote, abort) the rollout has acted on.
	Commands int `json:"commands"`
	// History records each step that ran.
	History []RolloutRecord `json:"history"`
}

// Rollout statuses.
const (
	RolloutShifting      = "shifting"
	RolloutPaused        = "paused"
	RolloutPromoted      = "promoted"
	RolloutRestoring     = "restoring"
	RolloutRestored      = "restored"
	RolloutRestoreFailed = "restoreFailed"
	// RolloutStopped: someone else changed or deleted the alias, and the
	// rollout left it as it found it.
	RolloutStopped = "stopped"
)

// RolloutStep is one planned step of a rollout.
type RolloutStep struct {
	// Weight is the percent of traffic sent to the new version.
	Weight float64 `json:"weight"`
	// Pause is how long the step holds, in nanoseconds.
	Pause time.Duration `json:"pauseNanos"`
	// Analysis says whether the canary analysis judges the step.
	Analysis bool `json:"analysis"`
}

// RolloutRecord is one step of a rollout that ran.
type RolloutRecord struct {
	Step   int       `json:"step"` // 1-based
	Weight float64   `json:"weight"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end,omitzero"`
	// Outcome is passed, failed, or "skipped: promoted by USER"; empty
	// while the step runs.
	Outcome string `json:"outcome,omitempty"`
	// Analysis is the step's canary analysis report, when it was judged.
	Analysis *RolloutAnalysis `json:"analysis,omitempty"`
	// AlarmsFiring are the CloudWatch alarms found in ALARM.
	AlarmsFiring []RolloutAlarm `json:"alarmsFiring,omitempty"`
}

// RolloutAnalysis is what clients read of a step's canary analysis
// report: its decision.
type RolloutAnalysis struct {
	Decision *RolloutDecision `json:"decision,omitempty"`
}

// RolloutDecision is a step analysis's verdict.
type RolloutDecision struct {
	Result string `json:"result"` // pass or fail
	// Score is null when the sequential judges decided before a score.
	Score  *float64 `json:"score"`
	Reason string   `json:"reason"`
}

// Describe is the decision in a few words: "pass, score 90", or "fail
// (sequential judges)".
func (d *RolloutDecision) Describe() string {
	if d.Score == nil {
		return d.Result + " (sequential judges)"
	}
	return fmt.Sprintf("%s, score %v", d.Result, *d.Score)
}

// RolloutAlarm is a CloudWatch alarm a step found in ALARM.
type RolloutAlarm struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}
