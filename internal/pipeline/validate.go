package pipeline

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluice-cd/sluice/internal/jsondoc"
)

// ValidateOptions says what Validate checks beyond the document's own rules.
// The zero value checks the document alone.
type ValidateOptions struct {
	// StageTypes knows the stage types and their fields; nil skips the
	// stage-type checks.
	StageTypes StageTypes
	// CheckExpression checks that one expression body (the text inside
	// ${…}, or a stageEnabled expression) parses; nil skips the check. Only
	// the first line of its error is kept.
	CheckExpression func(src string) error
	// CheckAccount checks that the pipeline's application may use an AWS
	// account a stage names literally in its account field (or
	// credentials, Clouddriver's name for it); nil skips the check. An
	// account given by an expression is checked when the stage runs. Only
	// the first line of its error is kept.
	CheckAccount func(application, account string) error
	// CheckTarget checks that an account exists and has a region ("" is
	// its first), for each stage whose type reads "account": the account
	// it names literally (absent or null: "local") and its literal
	// region. Nil skips the check. The import report sets it; saving does
	// not, since an account may be configured after a pipeline is saved
	// (the stage then fails when it runs, naming the accounts).
	CheckTarget func(account, region string) error
	// TriggerTypes knows the trigger types Sluice runs and checks their
	// fields; nil skips the trigger-type checks, and then every enabled
	// trigger is warned about as not run.
	TriggerTypes TriggerTypes
	// CheckApplication checks that pipelines of application from may start
	// pipelines of application to: a pipeline stage naming another
	// application literally, a pipeline trigger on another application's
	// pipeline. Nil skips the check; the engine checks again at run time.
	CheckApplication func(from, to string) error
}

// TriggerTypes is what Validate needs to know about trigger types. The
// trigger registry (package trigger) is adapted to it: a type it knows is
// run, so Validate checks its fields instead of warning that it is not.
type TriggerTypes interface {
	// Known reports whether Sluice runs triggers of this type.
	Known(name string) bool
	// ValidateFields checks the fields of a trigger of a known type (the
	// whole trigger object) and returns every problem found; Field is a
	// path inside the trigger, such as "cronExpression".
	ValidateFields(triggerType string, fields map[string]any) []FieldProblem
}

// StageTypes is what Validate needs to know about stage types. The stage
// registry is adapted to it.
type StageTypes interface {
	// Known reports whether name is a stage type.
	Known(name string) bool
	// Names returns every stage type name.
	Names() []string
	// ValidateFields checks the fields of a stage of a known type (the
	// whole stage object) and returns every problem found.
	ValidateFields(stageType string, fields map[string]any) []FieldProblem
	// KnownFields returns the keys a stage of a known type may have
	// besides the keys every stage has, or nil when the type does not
	// declare them; Validate then calls none of its keys unknown.
	KnownFields(stageType string) *KnownFields
}

// FieldProblem is a problem a stage type found in one of its fields. Field
// is a path inside the stage, such as "waitTime" or "variables[0].key".
type FieldProblem struct {
	Field string
	Msg   string
}

// Problem is one thing wrong with a document. Path is a JSON path into the
// document, such as "stages[2].requisiteStageRefIds[0]" or
// "parameterConfig[1].name"; Msg says what is wrong and what to do. Kind
// sorts a warning (and a difference from Spinnaker); an error has none.
type Problem struct {
	Path string
	Msg  string
	Kind ProblemKind
}

// ProblemKind sorts what Check and Report find besides errors.
type ProblemKind string

const (
	// KindUnknown is a key no table knows: kept, not read, likely a typo.
	KindUnknown ProblemKind = "unknown"
	// KindIgnored is a Spinnaker key, or a trigger, that Sluice keeps but
	// does not act on.
	KindIgnored ProblemKind = "ignored"
	// KindDiffers is a key Sluice acts on with an effect other than
	// Spinnaker's, where Spinnaker's is a reported bug (KnownFields.Differs).
	KindDiffers ProblemKind = "differs"
)

func (p Problem) String() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// ValidationError is every problem found in a document.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Validate checks the pipeline and returns nil or a *ValidationError that
// lists every problem at once. It is Check without the warnings.
func (p *Pipeline) Validate(opts ValidateOptions) error {
	_, err := p.Check(opts)
	return err
}

// Check checks the pipeline as Validate does, and also returns its
// warnings: what Sluice accepts but that may not do what the author
// meant — keys it does not know (each with the nearest known key when one
// is close: a typo, likely), Spinnaker keys it keeps without acting on,
// and triggers, which it does not run. Warnings do not make a document
// invalid; each has the JSON path of its key.
func (p *Pipeline) Check(opts ValidateOptions) (warnings []Problem, err error) {
	v := p.check(opts)
	if len(v.problems) == 0 {
		return v.warns, nil
	}
	return v.warns, &ValidationError{Problems: v.problems}
}

// check runs every check of the document.
func (p *Pipeline) check(opts ValidateOptions) *validator {
	v := &validator{opts: opts}
	v.topLevel(p)
	v.parameters(p.ParameterConfig)
	v.triggers(p.Triggers)
	v.stages(p.Stages)
	v.notifications(p)
	v.accounts(p)
	v.targets(p)
	v.pipelineTriggers(p)
	v.pipelineStages(p)
	v.cycles(p.Stages)
	v.warnings(p)
	return v
}

type validator struct {
	opts     ValidateOptions
	problems []Problem
	warns    []Problem
	// diffs are the keys whose effect differs from Spinnaker's
	// (KnownFields.Differs); only Report shows them.
	diffs []Problem
	// app is the document's application, for Differs' conditions.
	app string
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// keptTypes checks known keys kept in an Extra map because of their type.
func (v *validator) keptTypes(base string, extra map[string]any, kinds map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		if val, kept := extra[k]; kept {
			v.add(jsondoc.JoinKey(base, k), "must be %s, got %s", kinds[k], describe(val))
		}
	}
}

const (
	aString  = "a string"
	aBoolean = "true or false"
)

func (v *validator) topLevel(p *Pipeline) {
	v.keptTypes("", p.Extra, map[string]string{
		"application": aString, "name": aString, "id": aString, "description": aString,
		"limitConcurrent": aBoolean, "keepWaitingPipelines": aBoolean, "rollbackOnFailure": aBoolean,
		"maxConcurrentExecutions": "a whole number",
	})
	if _, kept := p.Extra["application"]; !kept && p.Application == "" {
		v.add("application", `missing application; set "application" to the application this pipeline belongs to`)
	}
	if _, kept := p.Extra["name"]; !kept && p.Name == "" {
		v.add("name", `missing pipeline name; set "name"`)
	}
	_, problems := p.ExpectedArtifacts()
	v.problems = append(v.problems, problems...)
	if p.MaxConcurrentExecutions < 0 {
		v.add("maxConcurrentExecutions", "must not be negative, got %d; use 0 for no limit", p.MaxConcurrentExecutions)
	}
}

func (v *validator) parameters(params []Parameter) {
	seen := map[string]int{}
	for i := range params {
		prm := &params[i]
		path := fmt.Sprintf("parameterConfig[%d]", i)
		v.keptTypes(path, prm.Extra, map[string]string{
			"name": aString, "label": aString, "description": aString,
			"required": aBoolean, "hasOptions": aBoolean, "pinned": aBoolean,
			"options":   `a list of {"value": …} objects`,
			"condition": "an object",
		})
		if _, kept := prm.Extra["name"]; !kept {
			if strings.TrimSpace(prm.Name) == "" {
				v.add(path+".name", `parameter has no name; set "name" (expressions read it as parameters.<name>)`)
			} else if j, dup := seen[prm.Name]; dup {
				v.add(path+".name", "duplicate parameter name %q, also used by parameterConfig[%d]; give each parameter its own name", prm.Name, j)
			} else {
				seen[prm.Name] = i
			}
		}
		_, optionsKept := prm.Extra["options"]
		if !optionsKept && !prm.HasOptions && prm.hasRealOptions() {
			v.add(path+".options", `options are given but hasOptions is false; set "hasOptions": true or remove the options`)
		}
	}
}

func (v *validator) triggers(triggers []Trigger) {
	ids := map[string]int{}
	for i, t := range triggers {
		if id, ok := t.Fields["id"].(string); ok && id != "" {
			if j, dup := ids[id]; dup {
				v.add(fmt.Sprintf("triggers[%d].id", i), "duplicate trigger id %q, also used by triggers[%d]; give each trigger its own id (its last firing is kept under it)", id, j)
			} else {
				ids[id] = i
			}
		}
		path := fmt.Sprintf("triggers[%d].type", i)
		switch raw := t.Fields["type"]; {
		case !isStringOrNull(raw):
			v.add(path, "must be a string, got %s", describe(raw))
		case t.Type == "":
			v.add(path, `missing trigger type; set "type", e.g. "cron", "webhook" or "pipeline"`)
		case v.opts.TriggerTypes != nil && v.opts.TriggerTypes.Known(t.Type):
			if raw, ok := t.Fields["enabled"]; ok && raw != nil {
				if _, isBool := raw.(bool); !isBool {
					v.add(fmt.Sprintf("triggers[%d].enabled", i), "must be true or false, got %s", describe(raw))
				}
			}
			for _, fp := range v.opts.TriggerTypes.ValidateFields(t.Type, t.document()) {
				path := fmt.Sprintf("triggers[%d]", i)
				if fp.Field != "" && !strings.HasPrefix(fp.Field, "[") {
					path += "."
				}
				v.add(path+fp.Field, "%s", fp.Msg)
			}
		}
	}
}

func (v *validator) stages(stages []*Stage) {
	refSet := map[string]bool{}
	var known []string // quoted, in document order
	nextRef := 1       // a free numeric refId to suggest
	for _, s := range stages {
		if s.RefID != "" && !refSet[s.RefID] {
			refSet[s.RefID] = true
			known = append(known, strconv.Quote(s.RefID))
		}
		if n, err := strconv.Atoi(s.RefID); err == nil && n >= nextRef && n < 1<<31 {
			nextRef = n + 1
		}
	}

	firstByRef := map[string]int{}
	for i, s := range stages {
		path := fmt.Sprintf("stages[%d]", i)
		f := s.Fields

		v.stageType(path, s)
		if raw := f["name"]; !isStringOrNull(raw) {
			v.add(path+".name", "must be a string, got %s", describe(raw))
		}

		switch raw, present := f["refId"]; {
		case present && !isRef(raw):
			v.add(path+".refId", "must be a string, got %s", describe(raw))
		case s.RefID == "":
			v.add(path+".refId", "stage %s has no refId; give it one unique in this pipeline, e.g. %q", stageLabel(s), strconv.Itoa(nextRef))
			nextRef++
		default:
			if j, dup := firstByRef[s.RefID]; dup {
				v.add(path+".refId", "refId %q is used by both stages[%d] %s and stages[%d] %s; give each stage its own refId",
					s.RefID, j, stageLabel(stages[j]), i, stageLabel(s))
			} else {
				firstByRef[s.RefID] = i
			}
		}

		v.requisites(path, s, refSet, known)
		v.stageEnabled(path, s)

		for _, key := range []string{"failPipeline", "continuePipeline", "completeOtherBranchesThenFail", "failOnFailedExpressions", "rollbackOnFailure"} {
			if raw := f[key]; !isBoolOrNull(raw) {
				v.add(path+"."+key, "must be true or false, got %s", describe(raw))
			}
		}
		v.executionWindow(path, s)
		if raw := f["stageTimeoutMs"]; raw != nil {
			if _, whole := asInt64(raw); !whole {
				v.add(path+".stageTimeoutMs", "must be a whole number of milliseconds, got %s", describe(raw))
			}
		}
		if s.StageTimeoutMs < 0 {
			v.add(path+".stageTimeoutMs", "must not be negative, got %d; remove it to keep the stage type's timeout", s.StageTimeoutMs)
		}

		if st := v.opts.StageTypes; st != nil && s.Type != "" && st.Known(s.Type) {
			for _, fp := range st.ValidateFields(s.Type, s.document()) {
				v.add(joinField(path, fp.Field), "%s", oneLine(fp.Msg))
			}
		}
		v.stageExpressions(path, f)
	}
}

func (v *validator) stageType(path string, s *Stage) {
	raw := s.Fields["type"]
	st := v.opts.StageTypes
	switch {
	case !isStringOrNull(raw):
		v.add(path+".type", "must be a string, got %s", describe(raw))
	case s.Type == "" && st == nil:
		v.add(path+".type", `missing stage type; set "type"`)
	case s.Type == "":
		v.add(path+".type", `missing stage type; set "type" to one of: %s`, strings.Join(sortedNames(st), ", "))
	case st != nil && !st.Known(s.Type):
		names := sortedNames(st)
		if near := nearest(s.Type, names); near != "" {
			v.add(path+".type", "unknown stage type %q; did you mean %q? known types: %s", s.Type, near, strings.Join(names, ", "))
		} else {
			v.add(path+".type", "unknown stage type %q; known types: %s", s.Type, strings.Join(names, ", "))
		}
	}
}

func (v *validator) requisites(path string, s *Stage, refSet map[string]bool, known []string) {
	path += ".requisiteStageRefIds"
	type entry struct {
		index int
		id    string
	}
	var entries []entry
	if raw, present := s.Fields["requisiteStageRefIds"]; present && !isRefList(raw) {
		list, ok := raw.([]any)
		if !ok {
			v.add(path, "must be a list of refIds, got %s", describe(raw))
			return
		}
		// The list as written holds entries of the wrong type; report each
		// at its own index.
		for j, e := range list {
			if id, ok := refString(e); ok {
				entries = append(entries, entry{j, id})
			} else {
				v.add(fmt.Sprintf("%s[%d]", path, j), "must be a refId string, got %s", describe(e))
			}
		}
	} else {
		for j, id := range s.RequisiteStageRefIDs {
			entries = append(entries, entry{j, id})
		}
	}
	for _, e := range entries {
		if refSet[e.id] {
			continue
		}
		if len(known) == 0 {
			v.add(fmt.Sprintf("%s[%d]", path, e.index), "unknown refId %q; no stage has a refId", e.id)
		} else {
			v.add(fmt.Sprintf("%s[%d]", path, e.index), "unknown refId %q; known refIds: %s", e.id, strings.Join(known, ", "))
		}
	}
}

func (v *validator) stageEnabled(path string, s *Stage) {
	path += ".stageEnabled"
	raw, present := s.Fields["stageEnabled"]
	if present && !isStageEnabledOrNull(raw) {
		m, ok := raw.(map[string]any)
		if !ok {
			v.add(path, `must be an object like {"type": "expression", "expression": "…"}, got %s`, describe(raw))
			return
		}
		for _, key := range []string{"expression", "type"} {
			if !isStringOrNull(m[key]) {
				v.add(path+"."+key, "must be a string, got %s", describe(m[key]))
			}
		}
		return
	}
	se := s.StageEnabled
	if se == nil {
		return
	}
	if se.Type != "expression" {
		v.add(path+".type", `unknown condition type %q; the only type is "expression"`, se.Type)
	}
	expr := strings.TrimSpace(se.Expression)
	if expr == "" {
		v.add(path+".expression", `missing expression; write a condition without ${…}, e.g. "parameters.deploy == 'true'", or remove stageEnabled`)
		return
	}
	if spans, err := FindExpressions(expr); err == nil && len(spans) == 1 && spans[0].Start == 0 && spans[0].End == len(expr) {
		v.add(path+".expression", "write the condition without ${…}: %q instead of %q", strings.TrimSpace(spans[0].Body), expr)
		return
	}
	if v.opts.CheckExpression != nil {
		if err := v.opts.CheckExpression(se.Expression); err != nil {
			v.add(path+".expression", "%s", firstLine(err))
		}
	}
}

// stageExpressions checks every ${…} in every string of a stage, except
// stageEnabled.expression, which is written without ${…}.
func (v *validator) stageExpressions(path string, fields map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		val := fields[k]
		if se, ok := val.(map[string]any); ok && k == "stageEnabled" {
			for _, k2 := range slices.Sorted(maps.Keys(se)) {
				if k2 != "expression" {
					v.expressions(jsondoc.JoinKey(jsondoc.JoinKey(path, k), k2), se[k2])
				}
			}
			continue
		}
		v.expressions(jsondoc.JoinKey(path, k), val)
	}
}

func (v *validator) expressions(path string, val any) {
	switch val := val.(type) {
	case string:
		v.expressionString(path, val)
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(val)) {
			v.expressions(jsondoc.JoinKey(path, k), val[k])
		}
	case []any:
		for i, e := range val {
			v.expressions(fmt.Sprintf("%s[%d]", path, i), e)
		}
	}
}

func (v *validator) expressionString(path, s string) {
	spans, err := FindExpressions(s)
	for _, e := range spans {
		src := s[e.Start:e.End]
		if strings.TrimSpace(e.Body) == "" {
			v.add(path, "empty expression %s; write an expression inside it or remove it", snippet(src))
			continue
		}
		if v.opts.CheckExpression != nil {
			if err := v.opts.CheckExpression(e.Body); err != nil {
				v.add(path, "expression %s: %s", snippet(src), firstLine(err))
			}
		}
	}
	if err != nil {
		v.add(path, "%s", err.Error())
	}
}

// ExecutionWindowType is the stage type that runs deployment windows
// (Orca's RestrictExecutionDuringTimeWindow.TYPE): the engine runs its
// tasks first in a stage with restrictExecutionDuringTimeWindow: true, and
// Validate checks such a stage's restrictedExecutionWindow with it.
const ExecutionWindowType = "restrictExecutionDuringTimeWindow"

// executionWindow checks restrictExecutionDuringTimeWindow, and the window
// of a stage that sets it, with the window stage type when it is known.
func (v *validator) executionWindow(path string, s *Stage) {
	raw, ok := s.Fields["restrictExecutionDuringTimeWindow"]
	if !ok || raw == nil {
		return
	}
	on, isBool := raw.(bool)
	if !isBool {
		v.add(path+".restrictExecutionDuringTimeWindow", "must be true or false, got %s", describe(raw))
		return
	}
	st := v.opts.StageTypes
	if !on || s.Type == ExecutionWindowType || st == nil || !st.Known(ExecutionWindowType) {
		return
	}
	for _, fp := range st.ValidateFields(ExecutionWindowType, s.document()) {
		v.add(joinField(path, fp.Field), "%s", oneLine(fp.Msg))
	}
}

// accountFields are the stage fields that name an AWS account: account,
// and credentials, Clouddriver's name for it.
var accountFields = []string{"account", "credentials"}

// accounts checks, with CheckAccount, that the pipeline's application may
// deploy to each account its stages name.
func (v *validator) accounts(p *Pipeline) {
	if v.opts.CheckAccount == nil || p.Application == "" {
		return
	}
	for i, s := range p.Stages {
		for _, key := range accountFields {
			account, ok := s.Fields[key].(string)
			if !ok || strings.Contains(account, "${") {
				continue
			}
			if err := v.opts.CheckAccount(p.Application, account); err != nil {
				v.add(fmt.Sprintf("stages[%d].%s", i, key), "%s", firstLine(err))
			}
		}
	}
}

// targets checks, with CheckTarget, that the account and region of each
// stage whose type reads "account" exist.
func (v *validator) targets(p *Pipeline) {
	st := v.opts.StageTypes
	if v.opts.CheckTarget == nil || st == nil {
		return
	}
	for i, s := range p.Stages {
		if s.Type == "" || !st.Known(s.Type) {
			continue
		}
		k := st.KnownFields(s.Type)
		if k == nil {
			continue
		}
		if _, reads := k.Keys["account"]; !reads {
			continue
		}
		account := "local"
		switch a := s.Fields["account"].(type) {
		case nil:
		case string:
			if strings.Contains(a, "${") {
				continue // checked when the stage runs
			}
			account = a
		default:
			continue // the stage type reports its type
		}
		path := fmt.Sprintf("stages[%d]", i)
		if err := v.opts.CheckTarget(account, ""); err != nil {
			v.add(path+".account", "%s", firstLine(err))
			continue
		}
		region, _ := s.Fields["region"].(string)
		if region == "" || strings.Contains(region, "${") {
			continue
		}
		if err := v.opts.CheckTarget(account, region); err != nil {
			v.add(path+".region", "%s", firstLine(err))
		}
	}
}

// stageLabel names a stage in messages: its name, or its type.
func stageLabel(s *Stage) string {
	if s.Name != "" {
		return strconv.Quote(s.Name)
	}
	if s.Type != "" {
		return strconv.Quote(s.Type)
	}
	return "(unnamed)"
}

func sortedNames(st StageTypes) []string {
	names := slices.Clone(st.Names())
	slices.Sort(names)
	return slices.Compact(names)
}

// joinField appends a stage type's field path to a stage's path.
func joinField(base, field string) string {
	switch {
	case field == "":
		return base
	case strings.HasPrefix(field, "["):
		return base + field
	}
	return base + "." + field
}

// describe shows a value in a message.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return snippet(v)
	case bool:
		return strconv.FormatBool(v)
	case map[string]any, []any:
		b, err := encode(v)
		if err != nil || utf8.RuneCount(b) > 60 {
			return jsondoc.TypeName(v)
		}
		return string(b)
	}
	if isNumber(v) {
		return fmt.Sprint(v)
	}
	return jsondoc.TypeName(v)
}

// snippet quotes s, shortened when long.
func snippet(s string) string {
	const limit = 60
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit-1]) + "…"
	}
	return strconv.Quote(s)
}

// oneLine keeps a message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func firstLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSpace(line)
}
