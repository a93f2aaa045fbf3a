package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Pipeline is one pipeline document. Parse fills and normalizes it; see the
// package documentation for the rules.
type Pipeline struct {
	Application string
	Name        string
	ID          string
	Description string

	Stages          []*Stage
	ParameterConfig []Parameter
	Triggers        []Trigger

	// LimitConcurrent queues a new execution while another of this pipeline
	// runs. It is true when the document leaves it out.
	LimitConcurrent bool
	// MaxConcurrentExecutions limits running executions when LimitConcurrent
	// is false; 0 means no limit.
	MaxConcurrentExecutions int
	// KeepWaitingPipelines starts queued executions oldest first instead of
	// starting the newest and canceling the rest.
	KeepWaitingPipelines bool
	// RollbackOnFailure runs the compensations recorded by route stages when
	// the execution fails. A Sluice extension; stages may override it.
	RollbackOnFailure bool

	Notifications []map[string]any

	// Extra holds the top-level keys Sluice does not know, and known keys
	// whose value has the wrong JSON type, as written. MarshalJSON re-emits
	// them; a known key kept here wins over its typed field.
	Extra map[string]any
}

// Trigger is one entry of the pipeline's triggers.
type Trigger struct {
	Type string
	// Fields is the whole trigger object as written, including "type".
	Fields map[string]any
}

// Stage returns the stage with the given refId, or nil.
func (p *Pipeline) Stage(refID string) *Stage {
	if refID == "" {
		return nil
	}
	for _, s := range p.Stages {
		if s.RefID == refID {
			return s
		}
	}
	return nil
}

// InitialStages returns the stages with no requisite stages, in document
// order: the stages an execution starts with.
func (p *Pipeline) InitialStages() []*Stage {
	var out []*Stage
	for _, s := range p.Stages {
		if len(s.RequisiteStageRefIDs) == 0 {
			out = append(out, s)
		}
	}
	return out
}

// Downstream returns the stages that list refID among their requisite
// stages, in document order.
func (p *Pipeline) Downstream(refID string) []*Stage {
	if refID == "" {
		return nil
	}
	var out []*Stage
	for _, s := range p.Stages {
		if slices.Contains(s.RequisiteStageRefIDs, refID) {
			out = append(out, s)
		}
	}
	return out
}

// Summary describes a pipeline that Validate accepted, for example
// `pipeline "myapp/canary" is valid: 7 stages, 2 parameters`.
func (p *Pipeline) Summary() string {
	return fmt.Sprintf("pipeline %q is valid: %s, %s",
		p.Application+"/"+p.Name,
		plural(len(p.Stages), "stage"),
		plural(len(p.ParameterConfig), "parameter"))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// MarshalJSON emits the normalized document: the typed fields in
// Spinnaker's spelling over the kept keys, with sorted keys and without
// HTML escaping.
func (p Pipeline) MarshalJSON() ([]byte, error) {
	return encode(p.document())
}

// UnmarshalJSON parses a JSON pipeline document as Parse does, so a
// Pipeline can sit inside a request body or a stored record.
func (p *Pipeline) UnmarshalJSON(data []byte) error {
	parsed, err := parseJSON(data)
	if err != nil {
		return err
	}
	*p = *parsed
	return nil
}

// document returns the pipeline as a JSON-ready map.
func (p *Pipeline) document() map[string]any {
	out := copyMap(p.Extra)
	set := func(key string, v any) {
		if _, kept := p.Extra[key]; !kept {
			out[key] = v
		}
	}
	setString := func(key, v string) {
		if v != "" {
			set(key, v)
		}
	}
	setString("application", p.Application)
	setString("name", p.Name)
	setString("id", p.ID)
	setString("description", p.Description)

	stages := make([]any, len(p.Stages))
	for i, s := range p.Stages {
		stages[i] = s.document()
	}
	set("stages", stages)

	params := make([]any, len(p.ParameterConfig))
	for i := range p.ParameterConfig {
		params[i] = p.ParameterConfig[i].document()
	}
	set("parameterConfig", params)

	triggers := make([]any, len(p.Triggers))
	for i := range p.Triggers {
		triggers[i] = p.Triggers[i].document()
	}
	set("triggers", triggers)

	set("limitConcurrent", p.LimitConcurrent)
	set("keepWaitingPipelines", p.KeepWaitingPipelines)
	if p.MaxConcurrentExecutions != 0 {
		set("maxConcurrentExecutions", int64(p.MaxConcurrentExecutions))
	}
	if p.RollbackOnFailure {
		set("rollbackOnFailure", true)
	}
	if p.Notifications != nil {
		n := make([]any, len(p.Notifications))
		for i, m := range p.Notifications {
			n[i] = m
		}
		set("notifications", n)
	}
	return out
}

// MarshalJSON emits the trigger object: Fields with Type written over it.
func (t Trigger) MarshalJSON() ([]byte, error) {
	return encode(t.document())
}

// document returns the trigger as a JSON-ready map.
func (t *Trigger) document() map[string]any {
	out := copyMap(t.Fields)
	if t.Type != "" && isStringOrNull(t.Fields["type"]) {
		out["type"] = t.Type
	}
	return out
}

// encode marshals v without HTML escaping and without a trailing newline.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
