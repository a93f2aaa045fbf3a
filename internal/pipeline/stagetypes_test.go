package pipeline

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/parser"
)

// fakeStageTypes is a small StageTypes for tests: a few stage types, each
// with a check or two on its fields.
type fakeStageTypes map[string]func(fields map[string]any) []FieldProblem

func (f fakeStageTypes) Known(name string) bool { _, ok := f[name]; return ok }

func (f fakeStageTypes) Names() []string {
	return slices.Sorted(maps.Keys(f))
}

// KnownFields declares no keys: every key of a test stage is accepted.
func (f fakeStageTypes) KnownFields(string) *KnownFields { return nil }

func (f fakeStageTypes) ValidateFields(stageType string, fields map[string]any) []FieldProblem {
	return f[stageType](fields)
}

// testStageTypes knows Spinnaker's core stages and the Lambda stages.
var testStageTypes = fakeStageTypes{
	"wait": func(f map[string]any) []FieldProblem {
		switch v := f["waitTime"].(type) {
		case nil:
			return []FieldProblem{{"waitTime", `missing waitTime; set the number of seconds to wait`}}
		case string:
			if !strings.Contains(v, "${") {
				return []FieldProblem{{"waitTime", "must be a number of seconds or an expression"}}
			}
		default:
			if n, ok := asInt64(v); !ok || n < 0 {
				return []FieldProblem{{"waitTime", "must be a whole, non-negative number of seconds"}}
			}
		}
		return nil
	},
	"manualJudgment": func(f map[string]any) []FieldProblem {
		if v, ok := f["judgmentInputs"]; ok {
			if _, ok := v.([]any); !ok {
				return []FieldProblem{{"judgmentInputs", `must be a list of {"value": …} objects`}}
			}
		}
		return nil
	},
	"evaluateVariables": func(f map[string]any) []FieldProblem {
		vars, ok := f["variables"].([]any)
		if !ok || len(vars) == 0 {
			return []FieldProblem{{"variables", `missing variables; add {"key": …, "value": …} entries`}}
		}
		var problems []FieldProblem
		for i, v := range vars {
			m, _ := v.(map[string]any)
			if k, _ := m["key"].(string); k == "" {
				problems = append(problems, FieldProblem{"variables[" + strconv.Itoa(i) + "].key", "missing key; name the variable"})
			}
		}
		return problems
	},
	"checkPreconditions": func(f map[string]any) []FieldProblem {
		if _, ok := f["preconditions"].([]any); !ok {
			return []FieldProblem{{"preconditions", "missing preconditions; add at least one"}}
		}
		return nil
	},
	"Aws.LambdaDeploymentStage":     lambdaFields,
	"Aws.LambdaInvokeStage":         lambdaFields,
	"Aws.LambdaTrafficRoutingStage": lambdaFields,
	"Aws.LambdaDeleteStage":         lambdaFields,
}

func lambdaFields(f map[string]any) []FieldProblem {
	if s, _ := f["functionName"].(string); s == "" {
		return []FieldProblem{{"functionName", "missing functionName; name the Lambda function"}}
	}
	return nil
}

// spelFunction matches Spinnaker's helper calls, #stage( → stage(.
var spelFunction = regexp.MustCompile(`#(\w+)\(`)

// checkExpression parses an expression body with expr's parser after
// turning Spinnaker's #fn( calls into fn(.
func checkExpression(src string) error {
	_, err := parser.Parse(spelFunction.ReplaceAllString(src, "$1("))
	return err
}

func testOptions() ValidateOptions {
	return ValidateOptions{StageTypes: testStageTypes, CheckExpression: checkExpression}
}
