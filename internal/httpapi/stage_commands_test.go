package httpapi_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/stage"
)

// steered is a stage type that takes commands as a $PROGRESSIVE route
// does, without AWS: it runs until aborted or promoted, and pause and
// resume move it between "running" and "paused" in its context.
type steered struct{}

func (steered) Name() string                               { return "steered" }
func (steered) Validate(map[string]any) []stage.FieldError { return nil }
func (steered) Tasks(map[string]any) []string              { return []string{"steer"} }

// Commands implements stage.Steerable.
func (steered) Commands(ctx map[string]any) []string {
	if ctx["state"] == "paused" {
		return []string{"resume", "promote", "abort"}
	}
	return []string{"pause", "promote", "abort"}
}

func (steered) Run(_ context.Context, t *stage.Task) (stage.Result, error) {
	list, _ := t.Context[stage.CommandsKey].([]any)
	state := "running"
	for _, c := range list {
		m, _ := c.(map[string]any)
		switch m["command"] {
		case "pause":
			state = "paused"
		case "resume":
			state = "running"
		case "promote":
			return stage.Succeed().WithOutputs(map[string]any{"promotedBy": m["user"]}), nil
		case "abort":
			return stage.Failf("aborted by %v", m["user"]), nil
		}
	}
	return stage.Wait().WithContext(map[string]any{"state": state}), nil
}

const steeredPipeline = `{
  "application": "demo", "name": "steered",
  "stages": [
    {"refId": "1", "type": "steered", "name": "Shift"},
    {"refId": "2", "type": "wait", "name": "Soak", "waitTime": 3600}
  ]
}`

// TestStageCommands: a running stage that takes commands lists them in
// the execution; a command it takes is acted on, one it does not take now
// and a stage that takes none are refused with 409 naming what it takes.
func TestStageCommands(t *testing.T) {
	t.Parallel()
	c, _ := setupEngine(t, nil)
	ctx := context.Background()
	apply(t, c, "demo", "steered", steeredPipeline)
	exec, err := c.Trigger(ctx, "demo", "steered", apitype.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	e := waitFor(t, c, exec.ID, "stages 1 and 2 RUNNING", func(e *apitype.Execution) bool {
		return stageStatus("1", "RUNNING")(e) && stageStatus("2", "RUNNING")(e)
	})
	if got, want := stageByRef(t, e, "1").Commands, []string{"pause", "promote", "abort"}; !slices.Equal(got, want) {
		t.Errorf("commands of the running steered stage = %v, want %v", got, want)
	}
	if got := stageByRef(t, e, "2").Commands; got != nil {
		t.Errorf("commands of a wait stage = %v, want none", got)
	}

	// By name, as the CLI gives it.
	if _, err := c.StageCommand(ctx, exec.ID, "Shift", "pause"); err != nil {
		t.Fatalf("pause: %v", err)
	}
	e = waitFor(t, c, exec.ID, "stage 1 paused", func(e *apitype.Execution) bool {
		return slices.Contains(stageByRef(t, e, "1").Commands, "resume")
	})
	if got, want := stageByRef(t, e, "1").Commands, []string{"resume", "promote", "abort"}; !slices.Equal(got, want) {
		t.Errorf("commands once paused = %v, want %v", got, want)
	}

	for _, tc := range []struct{ stage, command, want string }{
		{"1", "pause", `stage "Shift" takes resume, promote, abort now, not "pause"`},
		{"1", "explode", `stage "Shift" takes resume, promote, abort now, not "explode"`},
		{"2", "pause", `stage "Soak" is a wait stage, which takes no commands`},
	} {
		_, err := c.StageCommand(ctx, exec.ID, tc.stage, tc.command)
		if e := apiError(t, err, 409, "conflict"); !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s to stage %s: %q, want it to say %q", tc.command, tc.stage, e.Message, tc.want)
		}
	}
	_, err = c.StageCommand(ctx, exec.ID, "1", "")
	if e := apiError(t, err, 400, "bad_request"); !slices.Equal(detailPaths(e), []string{"command"}) {
		t.Errorf("empty command: details %v, want the path command", detailPaths(e))
	}
	_, err = c.StageCommand(ctx, exec.ID, "nosuch", "pause")
	apiError(t, err, 404, "not_found")

	// Abort fails the stage with the user's name; a finished stage takes
	// no commands.
	if _, err := c.StageCommand(ctx, exec.ID, "1", "abort"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	e = waitFor(t, c, exec.ID, "stage 1 TERMINAL", stageStatus("1", "TERMINAL"))
	if got := stageByRef(t, e, "1").Commands; got != nil {
		t.Errorf("commands of the aborted stage = %v, want none", got)
	}
	if !strings.Contains(string(stageByRef(t, e, "1").Context), "aborted by "+testUser) {
		t.Errorf("aborted stage context %s does not say aborted by %s", stageByRef(t, e, "1").Context, testUser)
	}
	_, err = c.StageCommand(ctx, exec.ID, "1", "resume")
	if e := apiError(t, err, 409, "conflict"); !strings.Contains(e.Message, "commands go to a running stage") {
		t.Errorf("command to a finished stage: %q", e.Message)
	}
}
