package trigger

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/sluice-cd/sluice/internal/pipeline"
)

// The trigger types this package runs.
const (
	TypeWebhook = "webhook"
	TypeGit     = "git"
	TypeCron    = "cron"
	// TypePipeline starts a pipeline when another ends (the engine runs
	// it; package pipeline validates it).
	TypePipeline = "pipeline"
)

// Kind is one trigger type: it checks the fields of a trigger of its type
// when a pipeline is saved.
type Kind interface {
	// Validate checks the whole trigger object and returns every problem,
	// each with a path inside the trigger ("cronExpression").
	Validate(fields map[string]any) []pipeline.FieldProblem
}

// Registry holds the trigger types Sluice runs. It implements
// pipeline.TriggerTypes. Register every type before the registry is used;
// it is not safe to register while validating.
type Registry struct {
	kinds map[string]Kind
}

// NewRegistry returns a registry of no types.
func NewRegistry() *Registry {
	return &Registry{kinds: map[string]Kind{}}
}

// Register adds a trigger type. It panics when the name is taken: that is
// a programming error at start-up.
func (r *Registry) Register(name string, k Kind) {
	if _, dup := r.kinds[name]; dup {
		panic(fmt.Sprintf("trigger: type %q registered twice", name))
	}
	r.kinds[name] = k
}

// Known implements pipeline.TriggerTypes.
func (r *Registry) Known(name string) bool {
	_, ok := r.kinds[name]
	return ok
}

// Names returns the registered type names, sorted.
func (r *Registry) Names() []string {
	return slices.Sorted(maps.Keys(r.kinds))
}

// ValidateFields implements pipeline.TriggerTypes.
func (r *Registry) ValidateFields(triggerType string, fields map[string]any) []pipeline.FieldProblem {
	k, ok := r.kinds[triggerType]
	if !ok {
		return nil
	}
	return k.Validate(fields)
}

// Secrets reports whether the server holds a trigger secret of this name
// (sluice.yaml's triggerSecrets).
type Secrets func(name string) bool

// pipelineKind is the pipeline trigger, which the engine runs when an
// execution ends; package pipeline checks its fields (pipeline, status)
// with the application grants, so it adds no check here.
type pipelineKind struct{}

func (pipelineKind) Validate(map[string]any) []pipeline.FieldProblem { return nil }

// Builtin returns a registry of the webhook, git, cron and pipeline types. secrets
// says which secret names a trigger may use; nil accepts any (a check
// away from the server, which cannot know its secrets).
func Builtin(secrets Secrets) *Registry {
	if secrets == nil {
		secrets = func(string) bool { return true }
	}
	r := NewRegistry()
	r.Register(TypeWebhook, webhookKind{secrets: secrets})
	r.Register(TypeGit, gitKind{secrets: secrets})
	r.Register(TypeCron, cronKind{})
	r.Register(TypePipeline, pipelineKind{})
	return r
}

// Key names a trigger within its pipeline: its "id" when it has one (Deck
// gives every trigger one), else its position ("#0", "#1", …). Last
// firings and cron ticks are recorded under it.
func Key(index int, fields map[string]any) string {
	if id, ok := fields["id"].(string); ok && id != "" {
		return id
	}
	return "#" + strconv.Itoa(index)
}

// Enabled reports whether a trigger runs: Echo runs a trigger whose
// "enabled" is true; Deck writes it on every trigger.
func Enabled(fields map[string]any) bool {
	b, _ := fields["enabled"].(bool)
	return b
}

// Source is what addresses a trigger: a webhook's or git trigger's
// "source", which deliveries name; a pipeline trigger's "pipeline", the id
// of the pipeline whose end fires it; "" for other types.
func Source(fields map[string]any) string {
	key := "source"
	if fields["type"] == TypePipeline {
		key = "pipeline"
	}
	s, _ := fields[key].(string)
	return s
}

// str returns fields[key] as a string, and a problem when it is set but not
// a string.
func str(fields map[string]any, key string, problems *[]pipeline.FieldProblem) string {
	switch v := fields[key].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		*problems = append(*problems, pipeline.FieldProblem{Field: key, Msg: fmt.Sprintf("must be a string, got %T", v)})
		return ""
	}
}

// checkSecret checks the secret fields of a webhook or git trigger.
func checkSecret(fields map[string]any, secrets Secrets, problems *[]pipeline.FieldProblem) {
	if s, ok := fields["secret"].(string); ok && s != "" {
		*problems = append(*problems, pipeline.FieldProblem{Field: "secret",
			Msg: "a secret must not be written in the pipeline document, which everyone who may read the pipeline reads; " +
				"put it in sluice.yaml under triggerSecrets and name it here with \"secretName\""})
	}
	name := str(fields, "secretName", problems)
	if name != "" && !secrets(name) {
		*problems = append(*problems, pipeline.FieldProblem{Field: "secretName",
			Msg: fmt.Sprintf("the server holds no trigger secret named %q; add it to sluice.yaml under triggerSecrets, or remove secretName to accept only deliveries with an API token", name)})
	}
}
