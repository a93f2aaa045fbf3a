package pipeline

import (
	"reflect"
	"testing"
)

func TestFindExpressions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string // bodies
		wantErr string
	}{
		{in: "no expressions", want: nil},
		{in: "${a}", want: []string{"a"}},
		{in: "x-${a}-${ b.c }-y", want: []string{"a", " b.c "}},
		{in: "${ {'a': {'b': 1}}['a'] }", want: []string{" {'a': {'b': 1}}['a'] "}},
		{in: `${ '}' + "}" + '{' }`, want: []string{` '}' + "}" + '{' `}},
		{in: `${ 'it''s' }`, want: []string{` 'it''s' `}},
		{in: `${ "a\"}" }`, want: []string{` "a\"}" `}},
		{in: "$ {a} and {b} and $a", want: nil},
		{in: "${}", want: []string{""}},
		{in: "${${a}}", want: []string{"${a}"}},
		{in: "ok ${a} then ${b", want: []string{"a"}, wantErr: `unterminated "${" at character 14; close it with "}"`},
		{in: "${ 'open }", want: nil, wantErr: `unterminated "${" at character 1; close it with "}"`},
		{in: `é${ "\`, want: nil, wantErr: `unterminated "${" at character 2; close it with "}"`},
	}
	for _, tt := range tests {
		spans, err := FindExpressions(tt.in)
		var bodies []string
		for _, s := range spans {
			bodies = append(bodies, s.Body)
			if got := tt.in[s.Start:s.End]; got != "${"+s.Body+"}" {
				t.Errorf("FindExpressions(%q): span %d:%d is %q, want ${%s}", tt.in, s.Start, s.End, got, s.Body)
			}
		}
		if !reflect.DeepEqual(bodies, tt.want) {
			t.Errorf("FindExpressions(%q) bodies = %q, want %q", tt.in, bodies, tt.want)
		}
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if gotErr != tt.wantErr {
			t.Errorf("FindExpressions(%q) err = %q, want %q", tt.in, gotErr, tt.wantErr)
		}
	}
}
