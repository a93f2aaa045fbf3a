package expr

import (
	"strings"
	"testing"
)

func TestTranslate(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"trigger.parameters.x", "trigger.parameters.x"},
		{"#stage('Deploy').context.x", `$stage("Deploy").context.x`},
		{"#judgement('A')", `$judgment("A")`},
		{"#stage ('Deploy')", `$stage ("Deploy")`},
		{"'it''s'", `"it's"`},
		{`"say ""hi"""`, `"say \"hi\""`},
		{`'a\d+'`, `"a\\d+"`},
		{"'#stage(x) null eq'", `"#stage(x) null eq"`},
		{"a == null", "a == nil"},
		{"a.null", "a.null"},
		{"a eq b", "a  ==  b"},
		{"a NE b", "a  !=  b"},
		{"1 lt 2 AND 3 ge 2", "1  <  2  and  3  >=  2"},
		{"10 div 4 mod 3", "10  /  4  %  3"},
		{"eq == 1", "eq == 1"},
		{"NOT a", "not a"},
		{"a not in b", "a not in b"},
		{"a ?: 'b'", `a ?? "b"`},
		{"a?.b", "a?.b"},
		{"a ? b : c", "a ? b : c"},
		{"#root.execution.id", "execution.id"},
		{"map(xs, #this * 2)", "map(xs, # * 2)"},
		{"reduce(xs, #acc + #, 0)", "reduce(xs, #acc + #, 0)"},
		{"filter(xs, #.a > .5)", "filter(xs, #.a > .5)"},
		{"1..3", "1..3"},
		{"b'x'", `b "x"`},
		{"x.T(1)", "x.T(1)"},
		{"newest", "newest"},
		{"new", "new"},
		{"'café' + 'ü'", `"café" + "ü"`},
		{"'line\nbreak'", `"line\x0abreak"`},
	}
	for _, tt := range tests {
		got, err := translate(tt.in)
		if err != nil {
			t.Errorf("translate(%q) error: %s", tt.in, err.msg)
			continue
		}
		if got.src != tt.want {
			t.Errorf("translate(%q) = %q, want %q", tt.in, got.src, tt.want)
		}
	}
}

func TestTranslateRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		pos      int
	}{
		{"T(java.lang.Runtime).getRuntime().exec('id')", "type references T(…) are not supported", 0},
		{"x == T (java.lang.Math).random()", "type references T(…) are not supported", 5},
		{"new java.io.File('/etc/passwd')", "constructors (new …) are not supported", 0},
		{"'a' + new String('b')", "constructors (new …) are not supported", 6},
		{"#fromUrl('http://x')", "#fromUrl is not supported in Sluice: it fetches a URL", 0},
		{"#fetchReference(x)", "#fetchReference is not supported in Sluice: expressions cannot fetch references", 0},
		{"#nope('x')", "unknown function #nope; available: #alphanumerical", 0},
		{"#stage", "#stage is a function; call it", 0},
		{"#root", "#root is only supported followed by a property", 0},
		{"'abc", "unterminated string starting with '", 0},
		{"a + \"abc", "unterminated string starting with \"", 4},
		{".?[type == 'wait']", ".?[…] needs a list before it", 0},
		{"#pipelineIdInApplication('deploy', 'app')", "#pipelineIdInApplication is not supported in Sluice: expressions can look up pipelines of their own application only", 0},
		{"a // b", "comments are not supported", 2},
		{"a /* b */", "comments are not supported", 2},
		{"`raw`", "backquoted strings are not supported", 0},
		{"@bean.x", "bean references (@name) are not supported", 0},
		{"::repeat('x', 1)", "'::' is not supported", 0},
		{"x instanceof y", "the SpEL operator instanceof is not supported", 2},
		{strings.Repeat("(", 101) + "1" + strings.Repeat(")", 101), "nests brackets more than 100 deep", 100},
		{strings.Repeat("a", maxSourceBytes+1), "expression is 32769 bytes long; the limit is 32768", -1},
		{"'\xff'", "", -2}, // accepted: invalid UTF-8 inside a string is escaped
		{"\xff", "not valid UTF-8", 0},
	}
	for _, tt := range tests {
		_, err := translate(tt.in)
		if tt.pos == -2 {
			if err != nil {
				t.Errorf("translate(%q) error %q, want success", tt.in, err.msg)
			}
			continue
		}
		if err == nil {
			t.Errorf("translate(%q) succeeded, want error containing %q", tt.in, tt.want)
			continue
		}
		if !strings.Contains(err.msg, tt.want) || err.pos != tt.pos {
			t.Errorf("translate(%q) error = %q at %d, want %q at %d", tt.in, err.msg, err.pos, tt.want, tt.pos)
		}
	}
}
