package lambda

import (
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/stage"
)

func TestExpectations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fields  map[string]any
		payload string
		wantErr string // "" passes
	}{
		{"equal ignoring order and spacing", map[string]any{"expectedOutput": `{"b":[1,2],"a":{"x":null}}`}, "{ \"a\": {\"x\": null},\n \"b\": [1, 2] }", ""},
		{"numbers by value", map[string]any{"expectedOutput": map[string]any{"n": 1}}, `{"n": 1.0}`, ""},
		{"large integers exactly", map[string]any{"expectedOutput": `{"n": 9007199254740993}`}, `{"n": 9007199254740992}`, "at $.n: want 9007199254740993, got 9007199254740992"},
		{"array order matters", map[string]any{"expectedOutput": `[1,2]`}, `[2,1]`, "at $[0]: want 1, got 2"},
		{"type differs", map[string]any{"expectedOutput": `{"ok": true}`}, `{"ok": "true"}`, `at $.ok: want true, got "true"`},
		{"odd keys are quoted in paths", map[string]any{"expectedOutput": `{"a b": 1}`}, `{"a b": 2}`, `at $["a b"]: want 1, got 2`},
		{"a JSON string response", map[string]any{"expectedOutput": `"pong"`}, `"pong"`, ""},
		{"a non-JSON expectation matches text, whitespace removed", map[string]any{"expectedOutput": "hello world"}, `"hello world"`, ""},
		{"a non-JSON expectation against other text", map[string]any{"expectedOutput": "hello"}, `"bye"`, `expectedOutput: want hello, got "bye"`},
		{"API Gateway body", map[string]any{"expectedOutput": `{"ok":true}`}, `{"statusCode":200,"body":"{\"ok\": true}"}`, ""},
		{"API Gateway body, subset", map[string]any{"expectedSubset": `{"ok":true}`}, `{"statusCode":200,"body":"{\"ok\":true,\"n\":2}"}`, ""},
		{"subset ignores extra keys", map[string]any{"expectedSubset": map[string]any{"a": map[string]any{"b": 1}}}, `{"a":{"b":1,"c":2},"d":3}`, ""},
		{"subset missing key", map[string]any{"expectedSubset": map[string]any{"a": map[string]any{"z": 1}}}, `{"a":{"b":1}}`, `at $.a: key "z" is missing`},
		{"response not JSON", map[string]any{"expectedSubset": `{"a":1}`}, `not json`, "the response is not JSON"},
		{"regex on the raw body", map[string]any{"expectedRegex": `^\{"a":\d+\}$`}, `{"a":12}`, ""},
		{"regex fails", map[string]any{"expectedRegex": `^x`}, `{"a":12}`, `expectedRegex: "^x" does not match the response {"a":12}`},
		{"all failures listed", map[string]any{"expectedOutput": `1`, "expectedRegex": `2`}, `3`, "expectedOutput: at $: want 1, got 3; expectedRegex"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s invokeSpec
			stage.Validate(tc.fields, &s) // decodes; a missing functionName does not matter here
			e, errs := s.parse()
			if len(errs) > 0 {
				t.Fatalf("parse: %v", errs)
			}
			err := e.check([]byte(tc.payload))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("check(%s) = %v, want a pass", tc.payload, err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("check(%s) passed, want %q", tc.payload, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("check(%s) = %q, want it to contain %q", tc.payload, err, tc.wantErr)
			}
		})
	}
}

func TestDecodeJSONRejectsTrailingData(t *testing.T) {
	t.Parallel()
	for _, s := range []string{`{} }`, `{} x`, `1 2`, ``} {
		if _, err := decodeJSON([]byte(s)); err == nil {
			t.Errorf("decodeJSON(%q) accepted it", s)
		}
	}
	if _, err := decodeJSON([]byte(" {\"a\":1}\n ")); err != nil {
		t.Errorf("decodeJSON with surrounding space: %v", err)
	}
}

func TestSnippetCutsLongText(t *testing.T) {
	t.Parallel()
	s := snippet(strings.Repeat("é", 400))
	if !strings.HasSuffix(s, "… (800 bytes)") || len(s) > snippetLen+40 {
		t.Errorf("snippet = %q", s)
	}
}
