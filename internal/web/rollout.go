package web

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// rolloutView is a $PROGRESSIVE Route stage's traffic shift on the stage
// panel: where it is, its steps, and a button for each command the stage
// takes now.
type rolloutView struct {
	Status string
	// Where says in words where the shift is, e.g. "step 1 of 2: 10% to
	// version 2".
	Where  string
	Alias  string
	From   string
	To     string
	Reason string
	Steps  []rolloutStepView
	// Actions are the stage's commands, each a button.
	Actions []actionView
	// CLI is how to give the same commands from a shell.
	CLI string
}

// rolloutStepView is one planned step and what became of it.
type rolloutStepView struct {
	N        int
	Weight   string
	Pause    string
	Outcome  string
	Analysis string
	Current  bool
}

// rolloutCommandLabels are the buttons' labels, in the order shown.
var rolloutCommandLabels = []struct{ command, label string }{
	{"pause", "Pause"},
	{"resume", "Resume"},
	{"promote", "Promote now"},
	{"abort", "Abort"},
}

// newRolloutView reads the stage's rollout output; nil when it has none.
func newRolloutView(e *apitype.Execution, s *apitype.Stage) *rolloutView {
	var out struct {
		Rollout *apitype.Rollout `json:"rollout"`
	}
	if json.Unmarshal(s.Outputs, &out) != nil || out.Rollout == nil {
		return nil
	}
	r := out.Rollout
	v := &rolloutView{Status: r.Status, Alias: r.Alias, From: r.Baseline, To: r.Canary, Reason: r.Reason}
	if r.Step < len(r.Steps) {
		v.Where = fmt.Sprintf("step %d of %d: %v%% to version %s", r.Step+1, len(r.Steps), r.Steps[r.Step].Weight, r.Canary)
	}
	for i, st := range r.Steps {
		sv := rolloutStepView{N: i + 1, Weight: fmt.Sprintf("%v%%", st.Weight), Pause: "—",
			Outcome: "—", Analysis: "—", Current: i == r.Step && !s.Status.Complete()}
		if st.Pause > 0 {
			sv.Pause = durText(st.Pause.Milliseconds())
		}
		if st.Analysis {
			sv.Analysis = "pending"
		}
		for _, h := range r.History {
			if h.Step != i+1 {
				continue
			}
			sv.Outcome = h.Outcome
			if sv.Outcome == "" {
				sv.Outcome = "running"
				if r.Status == apitype.RolloutPaused {
					sv.Outcome = "paused"
				}
			}
			if h.Analysis != nil && h.Analysis.Decision != nil {
				sv.Analysis = h.Analysis.Decision.Describe()
			}
		}
		v.Steps = append(v.Steps, sv)
	}
	api := "/api/v1" + pathJoin("executions", e.ID, "stages", s.ID, "commands")
	for _, c := range rolloutCommandLabels {
		if !slices.Contains(s.Commands, c.command) {
			continue
		}
		a := actionView{ID: "act-rollout-" + c.command, Label: c.label, URL: api, Body: `{"command":"` + c.command + `"}`}
		switch c.command {
		case "promote":
			a.Confirm = fmt.Sprintf("Send all of alias %s's traffic to version %s now?", r.Alias, r.Canary)
		case "abort":
			a.Confirm = fmt.Sprintf("Put alias %s back as it was before the stage and fail the stage?", r.Alias)
			a.Danger = true
		}
		v.Actions = append(v.Actions, a)
	}
	if len(s.Commands) > 0 {
		v.CLI = "sluice rollout " + strings.Join(s.Commands, "|") + " " + e.ID + " " + shellQuote(s.RefID)
	}
	return v
}
