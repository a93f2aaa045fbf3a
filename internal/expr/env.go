package expr

import (
	"maps"
	"slices"

	"github.com/sluice-cd/sluice/internal/status"
)

// Env is everything an expression can see. The engine builds it; it holds
// plain data only (maps, slices, strings, numbers, booleans), which the
// evaluation reads and never modifies.
type Env struct {
	Trigger   map[string]any // runtime trigger: type, user, parameters{…}, payload, …
	Execution map[string]any // JSON view of the execution: id, application, name, status, buildTime, startTime, endTime, trigger, stages[…]
	Stages    []StageInfo    // every stage of the execution, for #stage, #stageByRefId, #judgment
	Current   string         // ID of the stage being evaluated ("" outside a stage)
	Context   map[string]any // the current stage's context
	Ancestors map[string]any // outputs of ancestor stages merged (nearest wins)
	User      string         // for #currentUser(); "" reads as "anonymous", as in Orca
	// Pipelines maps the name of each pipeline of the execution's
	// application to its ID, for #pipelineId(name). The caller reads it
	// from its store before evaluating, so that evaluation does no I/O;
	// nil means the lookup is not available.
	Pipelines map[string]string
}

// StageInfo is one stage of the execution as the helpers see it. Status
// is a status.Status as a plain string, which is what expressions compare
// it with.
type StageInfo struct {
	ID, RefID, Name, Type, Status string
	Context, Outputs              map[string]any
	StartTime, EndTime            int64 // epoch milliseconds; 0 = unset
}

// root looks up a root name: trigger, parameters and execution first, then
// the stage context, then ancestor outputs. A missing trigger,
// trigger.parameters or execution reads as an empty map, so
// trigger.parameters.x is nil rather than an error.
func (env *Env) root(name string) (any, bool) {
	switch name {
	case "trigger":
		if p, ok := env.Trigger["parameters"]; ok && p != nil {
			return env.Trigger, true
		}
		// Orca's trigger always has parameters; add an empty map, on a copy
		// so the Env is not modified.
		t := make(map[string]any, len(env.Trigger)+1)
		maps.Copy(t, env.Trigger)
		t["parameters"] = map[string]any{}
		return t, true
	case "parameters":
		if p, ok := env.Trigger["parameters"]; ok && p != nil {
			return p, true
		}
		return map[string]any{}, true
	case "execution":
		return orEmpty(env.Execution), true
	}
	if v, ok := env.Context[name]; ok {
		return v, true
	}
	v, ok := env.Ancestors[name]
	return v, ok
}

// vars builds the variables for a program that reads names.
func (env *Env) vars(names []string) map[string]any {
	m := make(map[string]any, len(names)+1)
	for _, name := range names {
		if v, ok := env.root(name); ok {
			m[name] = v
		}
	}
	return m
}

// rootNames lists every root name defined, for "not defined" hints.
func (env *Env) rootNames() []string {
	names := []string{"execution", "parameters", "trigger"}
	names = slices.AppendSeq(names, maps.Keys(env.Context))
	names = slices.AppendSeq(names, maps.Keys(env.Ancestors))
	slices.Sort(names)
	return slices.Compact(names)
}

// view is the map #stage returns: the stage's fields plus Orca's
// hasSucceeded / hasFailed helpers.
func (s *StageInfo) view() map[string]any {
	return map[string]any{
		"id":           s.ID,
		"refId":        s.RefID,
		"name":         s.Name,
		"type":         s.Type,
		"status":       s.Status,
		"context":      orEmpty(s.Context),
		"outputs":      orEmpty(s.Outputs),
		"startTime":    epoch(s.StartTime),
		"endTime":      epoch(s.EndTime),
		"hasSucceeded": s.Status == string(status.Succeeded),
		"hasFailed":    s.Status == string(status.Terminal),
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func epoch(ms int64) any {
	if ms == 0 {
		return nil
	}
	return int(ms)
}
