package expr

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/status"
)

// function is a Go function callable from expressions. The sandbox passes
// the evaluation state as an extra argument; call strips it.
type function func(r *run, args []any) (any, error)

// call adapts a function to expr's calling convention. The state is the
// first argument, or the second for $method, whose receiver comes first.
//
// Each call costs memory: expr allocates a slice for the arguments of every
// call (16 bytes each) and boxes most results, and $method's arguments are
// copied once more. That is charged to the memory budget, so that a loop's
// garbage is bounded however fast the machine runs it.
func (f function) call(params ...any) (any, error) {
	var r *run
	cost := 16 * (len(params) + 1)
	switch {
	case len(params) > 0 && isRun(params[0]):
		r, params = params[0].(*run), params[1:]
	case len(params) > 1 && isRun(params[1]):
		r = params[1].(*run)
		params = append([]any{params[0]}, params[2:]...)
		cost += 16 * len(params)
	default:
		return nil, errorf("internal error: function called without its evaluation state")
	}
	if err := r.tick(); err != nil {
		return nil, err
	}
	if err := r.callCost(cost); err != nil {
		return nil, err
	}
	return f(r, params)
}

func isRun(v any) bool { _, ok := v.(*run); return ok }

// functions are every Go function an expression can reach: the Spinnaker
// helpers (spelled #name in SpEL), the sandbox's own hooks, and size-checked
// replacements for expr builtins.
var functions = map[string]function{
	// Spinnaker helpers.
	"$stage":          stageFn,
	"$stageByRefId":   stageByRefIDFn,
	"$stageExists":    stageExistsFn,
	"$currentStage":   currentStageFn,
	"$currentUser":    currentUserFn,
	"$judgment":       judgmentFn,
	"$toJson":         toJSONCompactFn,
	"$readJson":       readJSONFn,
	"$toInt":          toIntFn,
	"$toFloat":        toFloatFn,
	"$toBoolean":      toBooleanFn,
	"$toBase64":       toBase64Fn,
	"$fromBase64":     fromBase64Fn,
	"$alphanumerical": alphanumericalFn,
	"$pipelineId":     pipelineIDFn,

	"$triggerResolvedArtifact":       triggerResolvedArtifactFn("#triggerResolvedArtifact", "name"),
	"$triggerResolvedArtifactByType": triggerResolvedArtifactFn("#triggerResolvedArtifactByType", "type"),
	"$resolvedArtifacts":             resolvedArtifactsFn,

	// Sandbox hooks inserted by the patcher.
	"$tick":     tickFn,
	"$charge":   chargeFn,
	"$args":     argsFn,
	"$add":      addFn,
	"$sub":      subFn,
	"$mul":      mulFn,
	"$neg":      negFn,
	"$sumAdd":   sumAddFn,
	"$abs":      absFn,
	"$sortBy":   sortByFn,
	"$matches":  matchesFn,
	"$nonEmpty": nonEmptyFn,
	"$method":   methodFn,
	"$div":      divFn,
	"$spelList": spelListFn,

	// Builtins replaced by size-checked versions.
	"repeat":     repeatFn,
	"join":       joinFn,
	"replace":    replaceFn,
	"concat":     concatFn,
	"flatten":    flattenFn,
	"uniq":       uniqFn,
	"toJSON":     toJSONIndentFn,
	"string":     stringFn,
	"split":      splitFn(false),
	"splitAfter": splitFn(true),
	"sort":       sortFn,
	"fromJSON":   fromJSONFn,
}

// arity checks the number of arguments of helper name.
func arity(name string, args []any, n int, what string) error {
	if len(args) != n {
		if n == 0 {
			return errorf("%s() takes no arguments, got %d", name, len(args))
		}
		return errorf("%s takes %s, got %d arguments", name, what, len(args))
	}
	return nil
}

// text converts a helper's argument to a string the way SpEL's conversion
// service would: strings as is, numbers and booleans printed, others refused.
func text(name string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case nil:
		return "", errorf("%s(null): the argument is null; pass a string", name)
	case bool, int, float64, json.Number:
		return format(x), nil
	}
	return "", errorf("%s expects a string, got %s", name, kind(v))
}

func stageFn(r *run, args []any) (any, error) {
	if err := arity("#stage", args, 1, "one argument (a stage name or id)"); err != nil {
		return nil, err
	}
	name, err := text("#stage", args[0])
	if err != nil {
		return nil, err
	}
	for i := range r.env.Stages {
		if s := &r.env.Stages[i]; s.Name == name || s.ID == name {
			return s.view(), nil
		}
	}
	return nil, errorf("no stage named %q; %s", clip(name), r.stageNames())
}

func stageByRefIDFn(r *run, args []any) (any, error) {
	if err := arity("#stageByRefId", args, 1, "one argument (a refId)"); err != nil {
		return nil, err
	}
	ref, err := text("#stageByRefId", args[0])
	if err != nil {
		return nil, err
	}
	refs := make([]string, 0, len(r.env.Stages))
	for i := range r.env.Stages {
		s := &r.env.Stages[i]
		if s.RefID == ref {
			return s.view(), nil
		}
		if s.RefID != "" {
			refs = append(refs, s.RefID)
		}
	}
	if len(refs) == 0 {
		return nil, errorf("no stage with refId %q; this execution has no stages with refIds", clip(ref))
	}
	return nil, errorf("no stage with refId %q; refIds are: %s", clip(ref), quoteList(refs, 20))
}

func stageExistsFn(r *run, args []any) (any, error) {
	if err := arity("#stageExists", args, 1, "one argument (a stage name or id)"); err != nil {
		return nil, err
	}
	name, err := text("#stageExists", args[0])
	if err != nil {
		return nil, err
	}
	for i := range r.env.Stages {
		if s := &r.env.Stages[i]; s.Name == name || s.ID == name {
			return true, nil
		}
	}
	return false, nil
}

func currentStageFn(r *run, args []any) (any, error) {
	if err := arity("#currentStage", args, 0, ""); err != nil {
		return nil, err
	}
	if r.env.Current == "" {
		return nil, errorf("#currentStage() is only available in an expression that belongs to a stage")
	}
	for i := range r.env.Stages {
		if s := &r.env.Stages[i]; s.ID == r.env.Current {
			return s.view(), nil
		}
	}
	return nil, errorf("#currentStage(): the current stage %q is not among the execution's stages", r.env.Current)
}

func currentUserFn(r *run, args []any) (any, error) {
	if err := arity("#currentUser", args, 0, ""); err != nil {
		return nil, err
	}
	if r.env.User == "" {
		return "anonymous", nil
	}
	return r.env.User, nil
}

// judgmentFn is Orca's #judgment: the judgmentInput of the first
// manualJudgment stage with exactly this name that has one.
func judgmentFn(r *run, args []any) (any, error) {
	if err := arity("#judgment", args, 1, "one argument (the manual judgment stage's name)"); err != nil {
		return nil, err
	}
	name, err := text("#judgment", args[0])
	if err != nil {
		return nil, err
	}
	quoted := clip(name) // for messages
	var named *StageInfo
	for i := range r.env.Stages {
		s := &r.env.Stages[i]
		if s.Name != name {
			continue
		}
		if s.Type == "manualJudgment" {
			if in, ok := s.Context["judgmentInput"]; ok && in != nil {
				return in, nil
			}
		}
		if named == nil || named.Type != "manualJudgment" {
			named = s
		}
	}
	switch {
	case named == nil:
		return nil, errorf("#judgment(%q): no stage named %q; %s", quoted, quoted, r.stageNames())
	case named.Type != "manualJudgment":
		return nil, errorf("#judgment(%q): stage %q is a %s stage, not a manualJudgment stage", quoted, quoted, named.Type)
	case named.Status == string(status.Skipped):
		return nil, errorf("#judgment(%q): stage %q was skipped, so nobody judged it and it has no judgment input", quoted, quoted)
	}
	return nil, errorf("#judgment(%q): no judgment input recorded for stage %q (status %s); it is set when someone judges the stage and picks one of its judgmentInputs", quoted, quoted, cmp.Or(named.Status, "unknown"))
}

// stageNames lists the stage names for "no stage named" errors.
func (r *run) stageNames() string {
	if len(r.env.Stages) == 0 {
		return "this execution has no stages"
	}
	names := make([]string, 0, len(r.env.Stages))
	seen := make(map[string]bool, len(r.env.Stages))
	for _, s := range r.env.Stages {
		if !seen[s.Name] {
			seen[s.Name] = true
			names = append(names, s.Name)
		}
	}
	return "stages are: " + quoteList(names, 20)
}

// toJSONCompactFn is Spinnaker's #toJson: compact JSON, and (as in Orca) an
// error if the JSON contains "${", so that its output is never evaluated again.
func toJSONCompactFn(r *run, args []any) (any, error) {
	if err := arity("#toJson", args, 1, "one argument"); err != nil {
		return nil, err
	}
	s, err := r.marshal(args[0], "#toJson", false)
	if err != nil {
		return nil, err
	}
	if strings.Contains(s, "${") {
		return nil, errorf("#toJson: the result cannot contain an expression (${…})")
	}
	return s, nil
}

func readJSONFn(r *run, args []any) (any, error) {
	if err := arity("#readJson", args, 1, "one argument (a JSON string)"); err != nil {
		return nil, err
	}
	s, err := text("#readJson", args[0])
	if err != nil {
		return nil, err
	}
	return r.readJSON(s, "#readJson")
}

func toIntFn(r *run, args []any) (any, error) {
	if err := arity("#toInt", args, 1, "one argument"); err != nil {
		return nil, err
	}
	switch x := args[0].(type) {
	case int:
		return x, nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return nil, errorf("#toInt(%s): not a whole number", formatFloat(x))
		}
		return int(x), nil
	}
	s, err := text("#toInt", args[0])
	if err != nil {
		return nil, err
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, errorf("#toInt(%q): not an integer", clip(s))
	}
	return int(i), nil
}

func toFloatFn(r *run, args []any) (any, error) {
	if err := arity("#toFloat", args, 1, "one argument"); err != nil {
		return nil, err
	}
	switch x := args[0].(type) {
	case int:
		return float64(x), nil
	case float64:
		return x, nil
	}
	s, err := text("#toFloat", args[0])
	if err != nil {
		return nil, err
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, errorf("#toFloat(%q): not a number", clip(s))
	}
	return f, nil
}

// toBooleanFn is Java's Boolean.valueOf: true only for "true" in any case.
func toBooleanFn(r *run, args []any) (any, error) {
	if err := arity("#toBoolean", args, 1, "one argument"); err != nil {
		return nil, err
	}
	switch x := args[0].(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	}
	s, err := text("#toBoolean", args[0])
	if err != nil {
		return nil, err
	}
	return strings.EqualFold(s, "true"), nil
}

func toBase64Fn(r *run, args []any) (any, error) {
	if err := arity("#toBase64", args, 1, "one argument (a string)"); err != nil {
		return nil, err
	}
	s, err := text("#toBase64", args[0])
	if err != nil {
		return nil, err
	}
	n := base64.StdEncoding.EncodedLen(len(s))
	if n > r.maxBytes {
		return nil, r.tooLarge("the result of #toBase64", n)
	}
	if err := r.alloc(len(s)+2*n, "the result of #toBase64"); err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// fromBase64Fn decodes standard base64, padded or not (as Java's decoder).
func fromBase64Fn(r *run, args []any) (any, error) {
	if err := arity("#fromBase64", args, 1, "one argument (a base64 string)"); err != nil {
		return nil, err
	}
	s, err := text("#fromBase64", args[0])
	if err != nil {
		return nil, err
	}
	if err := r.alloc(2*base64.RawStdEncoding.DecodedLen(len(s)), "the result of #fromBase64"); err != nil {
		return nil, err
	}
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, errorf("#fromBase64: the argument is not valid base64: %v", err)
	}
	return string(b), nil
}

func alphanumericalFn(r *run, args []any) (any, error) {
	if err := arity("#alphanumerical", args, 1, "one argument (a string)"); err != nil {
		return nil, err
	}
	s, err := text("#alphanumerical", args[0])
	if err != nil {
		return nil, err
	}
	if err := r.alloc(len(s), "the result of #alphanumerical"); err != nil {
		return nil, err
	}
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			return c
		}
		return -1
	}, s), nil
}

// spelListFn checks the operand of a SpEL selection or projection (its
// operator first): a list passes through; a map, whose entries SpEL would
// select as key/value pairs, is refused with what to write instead.
func spelListFn(r *run, args []any) (any, error) {
	if len(args) != 2 {
		return nil, errorf("$spelList takes two arguments")
	}
	op, _ := args[0].(string)
	switch v := args[1].(type) {
	case []any:
		return v, nil
	case nil:
		return nil, errorf("%s…] applies to a list, and the value before it is null", op)
	case map[string]any:
		return nil, errorf("%s…] over a map is not supported; select over its keys(…), values(…) or toPairs(…) instead", op)
	}
	if reflect.ValueOf(args[1]).Kind() == reflect.Slice {
		return args[1], nil
	}
	return nil, errorf("%s…] applies to a list, not to %s", op, format(args[1]))
}

// triggerResolvedArtifactFn is Orca's #triggerResolvedArtifact(name) and
// #triggerResolvedArtifactByType(type): the bound artifact of the first of
// trigger.resolvedExpectedArtifacts whose name (type) is the argument.
func triggerResolvedArtifactFn(helper, field string) function {
	return func(r *run, args []any) (any, error) {
		if err := arity(helper, args, 1, "one argument (an artifact "+field+")"); err != nil {
			return nil, err
		}
		want, err := text(helper, args[0])
		if err != nil {
			return nil, err
		}
		list, _ := r.env.Trigger["resolvedExpectedArtifacts"].([]any)
		for _, item := range list {
			e, _ := item.(map[string]any)
			if b, ok := e["boundArtifact"].(map[string]any); ok && b[field] == want {
				return b, nil
			}
		}
		return nil, errorf("unable to locate resolved artifact %q in the trigger: no expected artifact of this execution is bound to an artifact of %s %q", clip(want), field, clip(want))
	}
}

// resolvedArtifactsFn is Orca's #resolvedArtifacts(): the artifacts the
// execution's stages put in their outputs' "artifacts".
func resolvedArtifactsFn(r *run, args []any) (any, error) {
	if err := arity("#resolvedArtifacts", args, 0, ""); err != nil {
		return nil, err
	}
	out := []any{}
	for i := range r.env.Stages {
		if list, ok := r.env.Stages[i].Outputs["artifacts"].([]any); ok {
			out = append(out, list...)
		}
	}
	return out, nil
}

// pipelineIDFn is Orca's #pipelineId(name): the ID of the pipeline with
// this name in the execution's application.
func pipelineIDFn(r *run, args []any) (any, error) {
	if err := arity("#pipelineId", args, 1, "one argument (a pipeline name)"); err != nil {
		return nil, err
	}
	name, err := text("#pipelineId", args[0])
	if err != nil {
		return nil, err
	}
	if r.env.Pipelines == nil {
		return nil, errorf("#pipelineId(%q) cannot look up pipelines here: this evaluation was given no list of the application's pipelines", clip(name))
	}
	if id, ok := r.env.Pipelines[name]; ok {
		return id, nil
	}
	names := slices.Sorted(maps.Keys(r.env.Pipelines))
	if len(names) > 20 {
		names = append(names[:20], "…")
	}
	return nil, errorf("no pipeline named %q in this application; its pipelines are %s", clip(name), strings.Join(names, ", "))
}
