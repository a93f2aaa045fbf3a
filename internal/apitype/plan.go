package apitype

import (
	"encoding/json"
	"fmt"
)

// PlanRequest is the body of POST /api/v1/pipelines/{app}/{name}/plan:
// the trigger parameters a run would be given (parameterConfig defaults
// fill the rest, as for a run).
type PlanRequest struct {
	Parameters map[string]any `json:"parameters,omitempty"`
}

// Plan is what a run of a saved pipeline would change, read from AWS
// without changing anything: one StagePlan per stage, in the document's
// order.
type Plan struct {
	Application string `json:"application"`
	Pipeline    string `json:"pipeline"`
	Revision    int    `json:"revision"`
	// Parameters are the trigger parameters after parameterConfig
	// defaults, as a run would see them.
	Parameters map[string]any `json:"parameters"`
	Stages     []StagePlan    `json:"stages"`
}

// Plan actions: what a stage would do to what it targets.
const (
	PlanCreate      = "create"      // the function does not exist and would be created
	PlanUpdate      = "update"      // something would change
	PlanNoChange    = "noChange"    // the target is already as the stage asks
	PlanDelete      = "delete"      // versions (or the function) would be deleted
	PlanInvoke      = "invoke"      // the function would be invoked; nothing changes
	PlanNoAWSChange = "noAWSChange" // the stage changes nothing in AWS (wait, judgment, …)
	PlanRunTime     = "runTime"     // what the stage does is known only at run time
	PlanError       = "error"       // the plan could not be made; Error says why
)

// StagePlan is one stage's plan.
type StagePlan struct {
	RefID string `json:"refId"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	// Target names what the stage works on, e.g. "function hello-api in
	// account local (us-east-1)".
	Target  string `json:"target,omitempty"`
	Action  string `json:"action"`
	Summary string `json:"summary"`
	// Changes are what would change, field by field.
	Changes []PlanChange `json:"changes,omitempty"`
	// RunTime lists the fields whose values are expressions that depend
	// on the run (upstream stages' outputs, judgments): they are shown as
	// written, never guessed.
	RunTime []PlanRunTimeField `json:"runTime,omitempty"`
	// Notes say what else a reader should know (a code digest known only
	// to Lambda, a strategy whose outcome depends on a check).
	Notes []string `json:"notes,omitempty"`
	// Skipped says why the stage would not run (stageEnabled false).
	Skipped string `json:"skipped,omitempty"`
	// Error says why no plan could be made for the stage.
	Error string `json:"error,omitempty"`
	// Publishes is set when the stage would publish a version of a
	// function: the stages after it resolve their selectors ($LATEST, …)
	// against that version.
	Publishes *PlanPublish `json:"publishes,omitempty"`
}

// Change kinds, as a diff shows them.
const (
	ChangeAdd    = "+" // a field, alias, version or mapping is created
	ChangeRemove = "-" // removed or deleted
	ChangeModify = "~" // changed from Old to New
	ChangeSame   = "=" // named to say it stays as it is
)

// PlanChange is one change of one field.
type PlanChange struct {
	Kind  string `json:"kind"`
	Field string `json:"field"`
	Old   any    `json:"old,omitempty"`
	New   any    `json:"new,omitempty"`
	// Note explains the change when Old → New does not say it all.
	Note string `json:"note,omitempty"`
}

// PlanRunTimeField is a field known only at run time.
type PlanRunTimeField struct {
	Field      string `json:"field"`
	Expression string `json:"expression"`
	// Why names what the expression waits for, when known.
	Why string `json:"why,omitempty"`
}

// PlanPublish names the function a stage would publish a version of.
type PlanPublish struct {
	Function string `json:"function"`
	Account  string `json:"account"`
	Region   string `json:"region"`
	// Certain is false when whether a version is published depends on
	// what Lambda finds (code from S3, whose digest only Lambda knows).
	Certain bool `json:"certain"`
	// Version is the version number it would get, when known.
	Version string `json:"version,omitempty"`
}

// PlanMark is a stage's or change's mark in a plan as the CLI and the
// console show it: + create, ~ update, - delete, ! error, ? known at run
// time, = no change.
func PlanMark(action string) string {
	switch action {
	case PlanCreate:
		return "+"
	case PlanUpdate:
		return "~"
	case PlanDelete:
		return "-"
	case PlanError:
		return "!"
	case PlanRunTime:
		return "?"
	}
	return "="
}

// PlanText shows one value of a plan: strings as they are, nil as
// "(none)", anything else as JSON.
func PlanText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return "(none)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
