package pipeline

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sluice-cd/sluice/internal/jsondoc"
)

// KnownFields is what Sluice knows of the keys of one JSON object in a
// pipeline document: the keys it reads, and the Spinnaker keys it keeps
// without acting on. Validate warns about every other key, naming the
// nearest known one, and about every ignored key that is set.
type KnownFields struct {
	// Keys are the keys Sluice reads (or accepts because they change
	// nothing in Spinnaker either). Each maps to what is known of the keys
	// of its value when that is an object, or a list of objects, whose
	// keys are checked too; to nil when they are not.
	Keys map[string]*KnownFields
	// Ignored maps each Spinnaker key Sluice keeps but does not act on to
	// what Sluice does instead, in words that end a warning:
	// "kept, not acted on: <reason>". A key in Keys too is read, not
	// ignored: a stage type that starts reading a key wins over the table.
	Ignored map[string]string
	// Acts maps an ignored key to the value whose meaning is what Sluice
	// does anyway ("failPipeline": true); the key set to it is not warned
	// about. An ignored key not in Acts is warned about unless empty
	// (null, false, 0, "", [], {}), which asks for nothing.
	Acts map[string]any
	// Differs maps a key Sluice reads (in Keys) to how its effect differs
	// from Spinnaker's, where Sluice deliberately differs because
	// Spinnaker's behaviour is a reported bug. Check does not warn about
	// them (the document does what Sluice documents); Report lists them
	// under "runs with a different effect". Sluice's own opt-in keys are
	// not differences.
	Differs map[string]Difference
}

// Difference is one way a key's effect in Sluice differs from Spinnaker's.
type Difference struct {
	// Why says what Spinnaker does, what Sluice does instead, and cites
	// the bug report or the document that says so.
	Why string
	// When reports whether the difference shows for the object holding
	// the key; nil means whenever the key is set to a non-empty value.
	When func(DiffContext) bool
}

// DiffContext is what Difference.When may look at.
type DiffContext struct {
	// Application is the document's application.
	Application string
	// Object holds the key: a stage's fields, say.
	Object map[string]any
	// Value is the key's value; Present is false when the key is absent.
	Value   any
	Present bool
}

// Merge returns a copy of k with the keys of other added; other wins where
// both know a key.
func (k *KnownFields) Merge(other *KnownFields) *KnownFields {
	out := &KnownFields{Keys: map[string]*KnownFields{}, Ignored: map[string]string{}}
	for _, src := range []*KnownFields{k, other} {
		if src == nil {
			continue
		}
		maps.Copy(out.Keys, src.Keys)
		maps.Copy(out.Ignored, src.Ignored)
		if src.Differs != nil {
			if out.Differs == nil {
				out.Differs = map[string]Difference{}
			}
			maps.Copy(out.Differs, src.Differs)
		}
		if src.Acts != nil {
			if out.Acts == nil {
				out.Acts = map[string]any{}
			}
			maps.Copy(out.Acts, src.Acts)
		}
	}
	return out
}

// names returns every key k knows, read or ignored, sorted.
func (k *KnownFields) names() []string {
	names := slices.Collect(maps.Keys(k.Keys))
	names = slices.AppendSeq(names, maps.Keys(k.Ignored))
	slices.Sort(names)
	return names
}

// merge returns the keys of a and b together.
func merge(a, b map[string]*KnownFields) map[string]*KnownFields {
	maps.Copy(a, b)
	return a
}

// keys makes a KnownFields of keys whose values are not checked.
func keys(names ...string) map[string]*KnownFields {
	m := make(map[string]*KnownFields, len(names))
	for _, n := range names {
		m[n] = nil
	}
	return m
}

// pipelineFields are the top-level keys of a document. Stages, parameters
// and triggers are checked by their own tables.
var pipelineFields = &KnownFields{
	Keys: merge(keys("application", "name", "id", "description", "stages", "parameterConfig", "triggers",
		"limitConcurrent", "maxConcurrentExecutions", "keepWaitingPipelines", "rollbackOnFailure",
		"expectedArtifacts", "disabled",
		// Spinnaker's bookkeeping, which changes no run.
		"index", "updateTs", "lastModifiedBy", "spelEvaluator", "schema"),
		map[string]*KnownFields{"notifications": notificationFields}),
	Ignored: map[string]string{
		"respectQuietPeriod": "Sluice has no quiet period; its triggers fire whenever they match",
	},
}

// parameterFields are the keys of a parameterConfig entry.
var parameterFields = &KnownFields{
	Keys: keys("name", "label", "description", "default", "required", "hasOptions", "options", "pinned"),
	Ignored: map[string]string{
		"condition": "Sluice asks for every parameter, whatever the values of the others",
	},
}

// stageFields are the keys every stage has, whatever its type: the ones
// the engine reads, and Orca's stage options Sluice does not run yet.
var stageFields = &KnownFields{
	Keys: map[string]*KnownFields{
		"refId": nil, "requisiteStageRefIds": nil, "name": nil, "type": nil,
		"stageEnabled":                  {Keys: keys("type", "expression")},
		"failPipeline":                  nil,
		"continuePipeline":              nil,
		"stageTimeoutMs":                nil,
		"rollbackOnFailure":             nil,
		"completeOtherBranchesThenFail": nil,
		"failOnFailedExpressions":       nil,
		// Deck's note on a stage, shown and never run; Deck's checkbox
		// that reveals stageTimeoutMs, which is what Orca reads.
		"comments": nil, "overrideTimeout": nil,
		"notifications": notificationFields, "sendNotifications": nil,
		// Deployment windows: the keys of restrictedExecutionWindow are
		// the window stage type's (ExecutionWindowType), merged in by
		// warnings when that type is known.
		"restrictExecutionDuringTimeWindow": nil, "restrictedExecutionWindow": nil, "skipWindowText": nil,
	},
	Ignored: map[string]string{
		"propagateAuthenticationContext": "Sluice runs every stage as itself; there is no authentication context to pass on",
	},
}

// warnings finds what Validate warns about: unknown keys, set keys Sluice
// ignores, and enabled triggers of types Sluice does not run.
func (v *validator) warnings(p *Pipeline) {
	v.app = p.Application
	top := map[string]any{}
	maps.Copy(top, p.Extra)
	if p.Notifications != nil {
		list := make([]any, len(p.Notifications))
		for i, n := range p.Notifications {
			list[i] = n
		}
		top["notifications"] = list
	}
	from := len(v.warns)
	v.unknownKeys("", top, pipelineFields)
	v.notificationWarnings("notifications", top["notifications"], nil)
	v.sortWarnings(from)
	for i, prm := range p.ParameterConfig {
		v.unknownKeys(fmt.Sprintf("parameterConfig[%d]", i), prm.Extra, parameterFields)
		if len(prm.Condition) > 0 {
			v.unknownKeys(fmt.Sprintf("parameterConfig[%d]", i), map[string]any{"condition": prm.Condition}, parameterFields)
		}
	}
	for i, t := range p.Triggers {
		if enabled, ok := t.Fields["enabled"].(bool); ok && !enabled || t.Type == "pipeline" {
			continue // pipeline triggers run: pipeline_trigger.go
		}
		if tt := v.opts.TriggerTypes; tt != nil && tt.Known(t.Type) {
			continue
		}
		what := "triggers"
		if t.Type != "" {
			what = fmt.Sprintf("%q triggers", t.Type)
		}
		runs := ""
		if tt, ok := v.opts.TriggerTypes.(interface{ Names() []string }); ok {
			runs = fmt.Sprintf(" (it runs %s)", strings.Join(tt.Names(), ", "))
		}
		v.warn(KindIgnored, fmt.Sprintf("triggers[%d]", i), "kept, not acted on: Sluice does not run %s%s; start the pipeline with sluice run or the API", what, runs)
	}
	for i, s := range p.Stages {
		known := stageFields
		if st := v.opts.StageTypes; st != nil && st.Known(ExecutionWindowType) {
			known = known.Merge(st.KnownFields(ExecutionWindowType))
		}
		var typeFields *KnownFields
		if st := v.opts.StageTypes; st != nil && s.Type != "" && st.Known(s.Type) {
			typeFields = st.KnownFields(s.Type)
		}
		path := fmt.Sprintf("stages[%d]", i)
		from := len(v.warns)
		v.notificationWarnings(path+".notifications", s.Fields["notifications"], s)
		if typeFields == nil {
			// The type's keys are not known: warn only about ignored keys.
			known = &KnownFields{Ignored: stageFields.Ignored}
			v.ignoredKeys(path, s.Fields, known)
			v.unknownKeys(jsondoc.JoinKey(path, "stageEnabled"), asObject(s.Fields["stageEnabled"]), stageFields.Keys["stageEnabled"])
			v.sortWarnings(from)
			continue
		}
		v.unknownKeys(path, s.Fields, known.Merge(typeFields))
		v.sortWarnings(from)
	}
}

// sortWarnings sorts the warnings from index from on by path: those of
// one object, found by several checks, in the order of its keys.
func (v *validator) sortWarnings(from int) {
	slices.SortStableFunc(v.warns[from:], func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
}

func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func (v *validator) warn(kind ProblemKind, path, format string, args ...any) {
	v.warns = append(v.warns, Problem{Path: path, Msg: fmt.Sprintf(format, args...), Kind: kind})
}

// differences finds the keys of obj, at path, whose effect differs from
// Spinnaker's (known.Differs), present or, where the difference is in
// their absence, absent.
func (v *validator) differences(path string, obj map[string]any, known *KnownFields) {
	for _, k := range slices.Sorted(maps.Keys(known.Differs)) {
		d := known.Differs[k]
		val, present := obj[k]
		shows := present && !isEmpty(val)
		if d.When != nil {
			shows = d.When(DiffContext{Application: v.app, Object: obj, Value: val, Present: present})
		}
		if shows {
			v.diffs = append(v.diffs, Problem{Path: jsondoc.JoinKey(path, k), Msg: d.Why, Kind: KindDiffers})
		}
	}
}

// unknownKeys warns about the keys of obj, at path, that known does not
// read, and looks inside the values whose keys it knows.
func (v *validator) unknownKeys(path string, obj map[string]any, known *KnownFields) {
	v.differences(path, obj, known)
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		val := obj[k]
		if sub, read := known.Keys[k]; read {
			if sub != nil {
				v.nested(jsondoc.JoinKey(path, k), val, sub)
			}
			continue
		}
		if _, ignored := known.Ignored[k]; ignored {
			v.ignoredKeys(path, map[string]any{k: val}, known)
			continue
		}
		if near := nearest(k, known.names()); near != "" {
			v.warn(KindUnknown, jsondoc.JoinKey(path, k), "unknown field; did you mean %s?", near)
		} else {
			v.warn(KindUnknown, jsondoc.JoinKey(path, k), "unknown field; Sluice keeps it but does not read it")
		}
	}
}

// nested checks the keys of val, an object or a list of objects.
func (v *validator) nested(path string, val any, known *KnownFields) {
	switch val := val.(type) {
	case map[string]any:
		v.unknownKeys(path, val, known)
	case []any:
		for i, e := range val {
			if m, ok := e.(map[string]any); ok {
				v.unknownKeys(fmt.Sprintf("%s[%d]", path, i), m, known)
			}
		}
	}
}

// ignoredKeys warns about the keys of obj that known ignores (and does
// not read) when obj sets them to ask for something: to a value other than
// the one Sluice acts as (Acts) or, without one, other than an empty value
// (false, 0, "", [], {}, null). Deck writes many such keys with their
// empty value, which asks for nothing.
func (v *validator) ignoredKeys(path string, obj map[string]any, known *KnownFields) {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		why, ignored := known.Ignored[k]
		if _, read := known.Keys[k]; !ignored || read {
			continue
		}
		val := obj[k]
		asks := !isEmpty(val)
		if acts, ok := known.Acts[k]; ok {
			asks = val != nil && val != acts
		}
		if asks {
			v.warn(KindIgnored, jsondoc.JoinKey(path, k), "kept, not acted on: %s", why)
		}
	}
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		return strings.TrimSpace(v) == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	n, whole := asInt64(v)
	return whole && n == 0
}
