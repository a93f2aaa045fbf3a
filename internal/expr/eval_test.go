package expr

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// testEnv is an execution part-way through: Build and Approve done, Deploy
// failed, Gate waiting for a judgment, Wait running.
func testEnv() *Env {
	return &Env{
		Trigger: map[string]any{
			"type": "manual",
			"user": "alice",
			"parameters": map[string]any{
				"env": "prod", "count": "3", "empty": "", "flag": "true", "tag": "v1.2.3-rc1",
			},
			"buildNumber": float64(42),
		},
		Execution: map[string]any{"id": "01HX", "application": "orders", "name": "deploy", "status": "RUNNING"},
		Stages: []StageInfo{
			{ID: "s1", RefID: "1", Name: "Build", Type: "wait", Status: "SUCCEEDED",
				Outputs: map[string]any{"version": "1.2.3"}, StartTime: 1000, EndTime: 2000},
			{ID: "s2", RefID: "2", Name: "Deploy", Type: "Aws.LambdaDeploymentStage", Status: "TERMINAL",
				Context: map[string]any{"functionName": "orders-prod"}},
			{ID: "s3", RefID: "3", Name: "Approve", Type: "manualJudgment", Status: "SUCCEEDED",
				Context: map[string]any{"judgmentInput": "promote", "judgmentStatus": "continue"}},
			{ID: "s4", RefID: "4", Name: "Gate", Type: "manualJudgment", Status: "RUNNING", Context: map[string]any{}},
			{ID: "s5", RefID: "5", Name: "Wait", Type: "wait", Status: "RUNNING"},
		},
		Current: "s5",
		Context: map[string]any{
			"waitTime": float64(30),
			"region":   "us-east-1",
			"items":    []any{"a", "b", "c"},
			"nums":     []any{float64(3), float64(1), float64(2)},
			"nested":   map[string]any{"k": nil, "list": []any{map[string]any{"name": "x"}}},
		},
		Ancestors: map[string]any{"version": "1.2.3", "region": "eu-west-1", "artifact": map[string]any{"name": "orders.zip"}},
		User:      "alice",
	}
}

func TestEval(t *testing.T) {
	t.Parallel()
	env := testEnv()
	tests := []struct {
		src  string
		want any
	}{
		// Roots, and map access both ways; a missing key is nil.
		{"trigger.parameters.env", "prod"},
		{"trigger['parameters']['env']", "prod"},
		{"parameters.env", "prod"},
		{"trigger.parameters.missing == null", true},
		{"trigger.parameters.missing", nil},
		{"trigger.buildNumber", float64(42)},
		{"execution.application", "orders"},
		{"#root.execution.id", "01HX"},
		{"waitTime", float64(30)},
		{"region", "us-east-1"}, // context beats ancestors
		{"version", "1.2.3"},    // ancestor output
		{"artifact.name", "orders.zip"},
		{"undefinedName == null", true},

		// Type preservation.
		{"1 + 1", 2},
		{"1.5 * 2", float64(3)},
		{"true", true},
		{"[1, 'a', null]", []any{1, "a", nil}},
		{"{'a': 1, 'b': [true]}", map[string]any{"a": 1, "b": []any{true}}},
		{"items", []any{"a", "b", "c"}},
		{"nested.list[0].name", "x"},

		// #stage and friends.
		{"#stage('Build').outputs.version", "1.2.3"},
		{"#stage('Deploy').context.functionName", "orders-prod"},
		{"#stage('Deploy')['context']['functionName']", "orders-prod"},
		{"#stage('s2').name", "Deploy"},
		{"#stage('Build').status == 'SUCCEEDED'", true},
		{"#stage('Build').hasSucceeded", true},
		{"#stage('Deploy').hasFailed", true},
		{"#stage('Deploy').hasSucceeded", false},
		{"#stage('Build').startTime", 1000},
		{"#stage('Deploy').startTime", nil},
		{"#stage('Wait').outputs", map[string]any{}},
		{"#stageByRefId('3').name", "Approve"},
		{"#stageByRefId(3).name", "Approve"},
		{"#stageExists('Deploy')", true},
		{"#stageExists('s4')", true},
		{"#stageExists('Nope')", false},
		{"#currentStage().name", "Wait"},
		{"#currentUser()", "alice"},
		{"#judgment('Approve')", "promote"},
		{"#judgement('Approve')", "promote"},
		{"#judgment(\"Approve\") == 'promote'", true},
		{"#judgment('Approve') == 'rollback'", false},

		// Conversions.
		{"#toJson({'a': [1, 2], 'b': '<&>'})", `{"a":[1,2],"b":"<&>"}`},
		{"#toJson(parameters.env)", `"prod"`},
		{"#readJson('{\"a\": [1]}').a[0]", float64(1)},
		{"#toInt('42')", 42},
		{"#toInt(parameters.count) + 1", 4},
		{"#toInt(waitTime)", 30},
		{"#toFloat('1.5')", 1.5},
		{"#toFloat(2)", float64(2)},
		{"#toBoolean('TRUE')", true},
		{"#toBoolean(parameters.flag)", true},
		{"#toBoolean('yes')", false},
		{"#toBoolean(null)", false},
		{"#toBase64('hi there')", "aGkgdGhlcmU="},
		{"#fromBase64('aGkgdGhlcmU=')", "hi there"},
		{"#fromBase64('aGkgdGhlcmU')", "hi there"},
		{"#alphanumerical('orders-v1.2_rc!')", "ordersv12rc"},

		// SpEL operators.
		{"null", nil},
		{"parameters.env eq 'prod'", true},
		{"parameters.env ne 'prod'", false},
		{"1 lt 2 and 2 le 2 and 3 gt 2 and 3 ge 3", true},
		{"true AND false OR true", true},
		{"not false", true},
		{"NOT (1 eq 1)", false},
		{"7 mod 4", 3},
		{"10 div 4", 2}, // Java's integer division, as in SpEL
		{"parameters.empty ?: 'default'", "default"},
		{"parameters.missing ?: 'default'", "default"},
		{"parameters.env ?: 'default'", "prod"},
		{"parameters.env ?: #stage('Nope')", "prod"}, // short-circuits
		{"map(items, parameters.empty ?: #)", []any{"a", "b", "c"}},
		{"parameters.missing ?? 'x'", "x"},
		{"parameters.empty ?? 'x'", ""}, // expr's ?? only replaces null
		{"parameters.tag matches 'v\\d+\\.\\d+\\.\\d+(-rc\\d+)?'", true},
		{"parameters.tag matches 'v1'", false}, // whole-string match, as in SpEL
		{"parameters.env matches 'prod|staging'", true},
		{"'preprod' matches 'prod|staging'", false},
		{"parameters.missing matches 'x'", false},
		{"'abc' not matches 'a'", true},
		{"parameters.env == 'prod' ? 'big' : 'small'", "big"},

		// + concatenates like SpEL.
		{"'build-' + trigger.buildNumber", "build-42"},
		{"'v' + 1.5", "v1.5"},
		{"'x' + null", "xnull"},
		{"'list ' + [1, 2]", "list [1,2]"},
		{"1 + 2.5", 3.5},

		// Java-style methods.
		{"parameters.env.toUpperCase()", "PROD"},
		{"'ABC'.toLowerCase()", "abc"},
		{"'  x '.trim()", "x"},
		{"parameters.tag.substring(0, 6)", "v1.2.3"},
		{"parameters.tag.substring(7)", "rc1"},
		{"parameters.tag.length()", 10},
		{"parameters.tag.startsWith('v1') && parameters.tag.endsWith('rc1')", true},
		{"parameters.tag.contains('-rc')", true},
		{"items.contains('b')", true},
		{"items.contains('z')", false},
		{"trigger.parameters.containsKey('env')", true},
		{"trigger.parameters.containsKey('nope')", false},
		{"parameters.env.equals('prod')", true},
		{"parameters.env.equalsIgnoreCase('PROD')", true},
		{"'a,b,,c,,'.split(',')", []any{"a", "b", "", "c"}},
		{"'a1b22c'.split('\\d+')", []any{"a", "b", "c"}},
		{"'a-b-c'.replace('-', '+')", "a+b+c"},
		{"'abc'.indexOf('c')", 2},
		{"items.indexOf('b')", 1},
		{"items.size()", 3},
		{"trigger.parameters.size()", 5},
		{"parameters.empty.isEmpty()", true},
		{"items.get(1)", "b"},
		{"trigger.get('user')", "alice"},
		{"trigger.buildNumber.toString()", "42"},
		{"parameters.tag.matches('v.*')", true},
		{"parameters.missing?.toUpperCase()", nil},
		{"nested?.k?.trim()", nil},

		// expr builtins and closures.
		{"len(items)", 3},
		{"map(items, upper(#))", []any{"A", "B", "C"}},
		{"filter(items, # != 'b')", []any{"a", "c"}},
		{"sort(nums)", []any{float64(1), float64(2), float64(3)}},
		{"items | map(# + '!') | join(',')", "a!,b!,c!"},
		{"reduce(1..4, #acc + #, 0)", 10},
		{"sum(1..10)", 55},
		{"any(#stage('Build').outputs | values(), # == '1.2.3')", true},
		{"let v = parameters.env; v + '-' + v", "prod-prod"},
		{"repeat('ab', 3)", "ababab"},
		{"join(['a', 'b'])", "ab"},
		{"replace('aaa', 'a', 'b')", "bbb"},
		{"concat([1], [2, 3])", []any{1, 2, 3}},
		{"flatten([[1, [2]], 3])", []any{1, 2, 3}},
		{"uniq([1, 1, 'a', 'a', [1], [1]])", []any{1, "a", []any{1}}},
		{"toJSON({'a': 1})", "{\n  \"a\": 1\n}"},
		{"string(1.0)", "1"},
		{"string([1, 'a'])", `[1,"a"]`},
		{"toBase64('x')", "eA=="},
		{"groupBy([1, 2, 3], # % 2 == 0)", map[string]any{"false": []any{1, 3}, "true": []any{2}}},
		{"trimPrefix('v1.2', 'v')", "1.2"},
		{"1 < 2 < 3", true},
	}
	for _, tt := range tests {
		got, err := Eval(context.Background(), tt.src, env)
		if err != nil {
			t.Errorf("Eval(%q) error: %v", tt.src, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Eval(%q) = %#v, want %#v", tt.src, got, tt.want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	t.Parallel()
	env := testEnv()
	tests := []struct {
		src  string
		want string // substring of the message
	}{
		{"#stage('Nope')", `no stage named "Nope"; stages are: "Build", "Deploy", "Approve", "Gate", "Wait"`},
		{"#stageByRefId('9')", `no stage with refId "9"; refIds are: "1", "2", "3", "4", "5"`},
		{"#stage()", "#stage takes one argument (a stage name or id), got 0 arguments"},
		{"#stage(null)", "#stage(null): the argument is null; pass a string"},
		{"#stage(['x'])", "#stage expects a string, got a list"},
		{"#judgment('Nope')", `#judgment("Nope"): no stage named "Nope"; stages are:`},
		{"#judgment('Deploy')", `#judgment("Deploy"): stage "Deploy" is a Aws.LambdaDeploymentStage stage, not a manualJudgment stage`},
		{"#judgment('Gate')", `#judgment("Gate"): no judgment input recorded for stage "Gate" (status RUNNING)`},
		{"#judgment('approve')", `no stage named "approve"`}, // exact, case-sensitive name
		{"#currentUser('x')", "#currentUser() takes no arguments, got 1"},
		{"#toInt('abc')", `#toInt("abc"): not an integer`},
		{"#toInt(2.5)", "#toInt(2.5): not a whole number"},
		{"#toFloat('x')", `#toFloat("x"): not a number`},
		{"#fromBase64('***')", "#fromBase64: the argument is not valid base64"},
		{"#toJson('${x}')", "#toJson: the result cannot contain an expression"},
		{"#readJson('{')", "#readJson: not valid JSON"},
		{"foo.bar", `cannot read bar of null ("foo" is not defined; defined names are "artifact", "execution", "items"`},
		{"nested.k.x", "cannot read x of null"},
		{"parameters.missing.toUpperCase()", "cannot call .toUpperCase() on null; use ?.toUpperCase() to get null instead"},
		{"items.foo()", "method .foo() is not supported; expressions can call .contains()"},
		{"items.size(1)", ".size() takes no arguments"},
		{"'abc'.substring(2, 9)", ".substring(2, 9) is out of range for a string of 3 characters"},
		{"'abc' matches '('", `invalid regular expression "("`},
		{"items[7]", "index out of range"},
		{"null + 1", "cannot add null and a number"},
		{"{'a': 1} + 1", "cannot add a map and a number"},
		{"1.0 / 0", "+Inf is not a finite number (a division by zero?)"},
		{"1 / 0", "division by zero in 1 / 0"},
		{"filter(items, 1)", "must be true or false, got a number"},
		{"all(items, #)", "must be true or false, got a string"},
		{"items ? 1 : 2", "must be true or false, got a list"},
		{"join([1, 2])", "join needs a list of strings, but element 0 is a number"},
		{"repeat('x', -1)", "repeat count must not be negative"},
		{"repeat('x', 2.5)", "repeat expects a whole number, got 2.5"},
		{"'abc'.substring('a')", ".substring() expects a whole number, got a string"},
		{"nope(1)", "unknown function nope(); expressions can call the builtins and the # helpers"},
		{"now()", "unknown function now()"},
		{"date('2024-01-01')", "unknown function date()"},
		{"timezone('Europe/Paris')", "unknown function timezone()"},
		{"$env", "$env is not available"},
		{"$env['trigger']", "$env is not available"},
		{"(items)()", "unexpected token"},
		{"1 +", "expression ends too early"},
		{"a b", "unexpected token"},
		{"", "empty expression"},
		{"   ", "empty expression"},
		{"T(java.lang.Runtime).getRuntime().exec('touch /tmp/x')", "type references T(…) are not supported"},
		{"new java.lang.ProcessBuilder('id').start()", "constructors (new …) are not supported"},
		{"#jsonFromUrl('http://169.254.169.254/')", "expressions cannot reach the network"},
	}
	for _, tt := range tests {
		_, err := Eval(context.Background(), tt.src, env)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Eval(%q) error = %v, want an *Error containing %q", tt.src, err, tt.want)
			continue
		}
		if !strings.Contains(e.Msg, tt.want) {
			t.Errorf("Eval(%q) message = %q, want it to contain %q", tt.src, e.Msg, tt.want)
		}
		if e.Expr != tt.src {
			t.Errorf("Eval(%q) Error.Expr = %q", tt.src, e.Expr)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "expression ${"+tt.src+"}: ") {
			t.Errorf("Eval(%q) error text %q does not start with the expression", tt.src, msg)
		}
	}
}

func TestEvalUnwrapsDollarBraces(t *testing.T) {
	t.Parallel()
	got, err := Eval(context.Background(), " ${#judgment('Approve') == 'promote'} ", testEnv())
	if err != nil || got != true {
		t.Fatalf("Eval of a ${…} body = %v, %v; want true", got, err)
	}
}

func TestEvalNilEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want any
	}{
		{"trigger.parameters.x", nil},
		{"#currentUser()", "anonymous"},
		{"#stageExists('x')", false},
		{"len(execution)", 0},
	}
	for _, tt := range tests {
		got, err := Eval(context.Background(), tt.src, nil)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Eval(%q, nil env) = %#v, %v; want %#v", tt.src, got, err, tt.want)
		}
	}
	if _, err := Eval(context.Background(), "#stage('x')", nil); err == nil || !strings.Contains(err.Error(), "this execution has no stages") {
		t.Errorf("Eval(#stage, nil env) error = %v", err)
	}
}

// TestEvalResultIsACopy checks that results share nothing with the Env.
func TestEvalResultIsACopy(t *testing.T) {
	t.Parallel()
	env := testEnv()
	got, err := Eval(context.Background(), "trigger.parameters", env)
	if err != nil {
		t.Fatal(err)
	}
	got.(map[string]any)["env"] = "changed"
	if env.Trigger["parameters"].(map[string]any)["env"] != "prod" {
		t.Fatal("modifying a result changed the Env")
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want string // "" for valid
	}{
		{"#judgment('Approve') == 'promote'", ""},
		{"${#stage('x').status == 'SUCCEEDED'}", ""},
		{"trigger.parameters.x ?: 'y'", ""},
		{"anything.at.all.is.fine", ""},
		{"map(items, #.name)", ""},
		{"1 +", "expression ends too early"},
		{"#foo()", "unknown function #foo"},
		{"x.nope()", "method .nope() is not supported"},
		{"T(String)", "type references"},
		{"a ? b", "expression ends too early"},
		{"(1 + 2", "expression ends too early"},
		{"foo(1)", "unknown function foo()"},
		{"a = 1", "use == to compare (expressions cannot assign) (column 3)"},
		{"{1, 2} {3}", "unexpected token"},
		{"{1, 2}.?[#this > 1", "expression ends too early"},
	}
	for _, tt := range tests {
		err := Check(tt.src)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Check(%q) = %v, want nil", tt.src, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Check(%q) = %v, want an error containing %q", tt.src, err, tt.want)
		}
	}
}

// TestSandbox checks that expressions reach nothing but data: no Go
// methods, no $env, no removed builtins.
func TestSandbox(t *testing.T) {
	t.Parallel()
	env := testEnv()
	// A Go value with methods smuggled into the Env must not be callable.
	env.Context["smuggled"] = &strings.Builder{}
	for _, src := range []string{
		"smuggled.WriteString('x')",
		"smuggled.Len()",
		"let f = smuggled.Len; f()",
		"(smuggled.Len)()",
		"smuggled | Len()",
		"$env.smuggled",
		"get($env, '#run')",
		"now().Unix()",
		"duration('1h')",
	} {
		if _, err := Eval(context.Background(), src, env); err == nil {
			t.Errorf("Eval(%q) succeeded; want it rejected", src)
		}
	}
	// Reading it as data is refused at the boundary: it is not data.
	if _, err := Eval(context.Background(), "smuggled", env); err == nil || !strings.Contains(err.Error(), "is not data") {
		t.Errorf("returning a Go value: error = %v, want a 'not data' error", err)
	}
}

// TestConcurrentEval evaluates shared programs from many goroutines; run it
// with -race.
func TestConcurrentEval(t *testing.T) {
	t.Parallel()
	env := testEnv()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				src := fmt.Sprintf("#stage('Build').outputs.version + '-%d'", i%5)
				want := fmt.Sprintf("1.2.3-%d", i%5)
				if got, err := Eval(context.Background(), src, env); err != nil || got != want {
					t.Errorf("goroutine %d: Eval(%q) = %v, %v", g, src, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
