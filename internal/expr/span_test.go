package expr

import (
	"errors"
	"strings"
	"testing"
)

func TestSpans(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string // bodies
		wantErr int      // offset of the SpanError, -1 for none
	}{
		{in: "", wantErr: -1},
		{in: "no expressions here", wantErr: -1},
		{in: "${a}", want: []string{"a"}, wantErr: -1},
		{in: "x-${a}-${b.c}-y", want: []string{"a", "b.c"}, wantErr: -1},
		{in: "${ {'a': 1}['a'] }", want: []string{" {'a': 1}['a'] "}, wantErr: -1},
		{in: "${'}'}", want: []string{"'}'"}, wantErr: -1},
		{in: `${"}"}`, want: []string{`"}"`}, wantErr: -1},
		{in: "${'it''s}'}", want: []string{"'it''s}'"}, wantErr: -1},
		{in: `${'a\'}`, want: []string{`'a\'`}, wantErr: -1}, // SpEL: no backslash escapes
		{in: "${}", want: []string{""}, wantErr: -1},
		{in: "$ {a} ${b}", want: []string{"b"}, wantErr: -1},
		{in: "${a", wantErr: 0},
		{in: "ok ${a} then ${b", wantErr: 13},
		{in: "${'abc}", wantErr: 2},
		{in: "${ {a }", wantErr: 0},
	}
	for _, tt := range tests {
		spans, err := Spans(tt.in)
		if tt.wantErr >= 0 {
			var se *SpanError
			if !errors.As(err, &se) || se.Offset != tt.wantErr {
				t.Errorf("Spans(%q) error = %v, want a SpanError at offset %d", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Spans(%q) error = %v", tt.in, err)
			continue
		}
		var got []string
		for _, s := range spans {
			got = append(got, s.Expr)
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("Spans(%q) = %q, want %q", tt.in, got, tt.want)
		}
		checkSpans(t, tt.in, spans)
	}
}

// checkSpans verifies the invariants every result of Spans must hold.
func checkSpans(t *testing.T, s string, spans []Span) {
	t.Helper()
	prev := 0
	for _, sp := range spans {
		if sp.Start < prev || sp.End <= sp.Start || sp.End > len(s) {
			t.Fatalf("Spans(%q): span %+v out of order or bounds", s, sp)
		}
		if !strings.HasPrefix(s[sp.Start:], "${") || s[sp.End-1] != '}' || s[sp.Start+2:sp.End-1] != sp.Expr {
			t.Fatalf("Spans(%q): span %+v does not match the text %q", s, sp, s[sp.Start:sp.End])
		}
		prev = sp.End
	}
}

func FuzzSpans(f *testing.F) {
	for _, s := range []string{"", "${a}", "x ${'}'} y ${b", "${ {a: '}'} }", "${'it''s'}", `${"a"}${`, "$${{}}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spans, err := Spans(s)
		if err != nil {
			var se *SpanError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset >= len(s) {
				t.Fatalf("Spans(%q) error %v is not a SpanError inside the string", s, err)
			}
		}
		if !strings.Contains(s, "${") && (len(spans) > 0 || err != nil) {
			t.Fatalf("Spans(%q) = %v, %v for a string without ${", s, spans, err)
		}
		checkSpans(t, s, spans)
	})
}
