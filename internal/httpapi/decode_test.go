package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/store"
)

func TestDecodeTrigger(t *testing.T) {
	tests := []struct {
		body    string
		want    string // JSON of the decoded request, or "" for an error
		wantErr string
	}{
		{body: ``, want: `{}`},
		{body: `{}`, want: `{}`},
		{body: `{"parameters":{"env":"prod","n":3,"f":1.5,"list":[1,{"x":2}]},"type":"webhook"}`,
			want: `{"parameters":{"env":"prod","f":1.5,"list":[1,{"x":2}],"n":3},"type":"webhook"}`},
		{body: `{"parameter":{}}`, wantErr: `unknown field "parameter"; the body takes parameters, type`},
		// Who triggers comes from authentication, never from the body.
		{body: `{"user":"admin@example.com"}`, wantErr: `unknown field "user"; the body takes parameters, type`},
		{body: `{"parameters":"env=prod"}`, wantErr: `field "parameters" must be an object, not string`},
		{body: `{"type":7}`, wantErr: `field "type" must be a string, not number`},
		{body: `[]`, wantErr: `must be a JSON object, not array`},
		{body: `{"type":"manual"`, wantErr: `truncated JSON`},
		{body: `{"type":"manual"} {}`, wantErr: `data after the JSON object`},
		{body: `{"type":manual}`, wantErr: `not valid JSON: invalid character 'm'`},
		{body: `{"artifacts":[{"type":"s3/object","reference":"s3://b/k","size":3}],"expectedArtifactIds":["code"]}`,
			want: `{"artifacts":[{"reference":"s3://b/k","size":3,"type":"s3/object"}],"expectedArtifactIds":["code"]}`},
		{body: `{"artifacts":[{"reference":"s3://b/k"}]}`, wantErr: `artifacts[0].type is required`},
		{body: `{"artifacts":[{"type":"s3/object","name":7}]}`, wantErr: `artifacts[0].name must be a string`},
		{body: `{"artifacts":{"type":"s3/object"}}`, wantErr: `field "artifacts" must be a list, not object`},
	}
	for _, tt := range tests {
		req, err := decodeTrigger([]byte(tt.body))
		if tt.wantErr != "" {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || !strings.Contains(e.Message, tt.wantErr) {
				t.Errorf("decodeTrigger(%s) error = %v, want a 400 containing %q", tt.body, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("decodeTrigger(%s): %v", tt.body, err)
			continue
		}
		got, _ := json.Marshal(req)
		if string(got) != tt.want {
			t.Errorf("decodeTrigger(%s) = %s, want %s", tt.body, got, tt.want)
		}
		if n, ok := req.Parameters["n"]; ok {
			if _, isInt := n.(int64); !isInt {
				t.Errorf("whole number parameter decoded as %T, want int64", n)
			}
		}
	}
}

func TestFindStage(t *testing.T) {
	exec := &store.Execution{ID: "e1", Stages: []*store.Stage{
		{ID: "s-a", RefID: "1", Name: "Deploy"},
		{ID: "s-b", RefID: "2", Name: "Wait"},
		{ID: "s-c", RefID: "3", Name: "Wait"},
		{ID: "s-d", RefID: "Deploy", Name: "Other"},
	}}
	tests := []struct {
		ref        string
		wantID     string
		wantStatus int
	}{
		{ref: "s-b", wantID: "s-b"},
		{ref: "3", wantID: "s-c"},
		{ref: "Deploy", wantID: "s-d"}, // a refId beats a name
		{ref: "Other", wantID: "s-d"},
		{ref: "Wait", wantStatus: 400},
		{ref: "nope", wantStatus: 404},
		{ref: "", wantStatus: 400},
	}
	for _, tt := range tests {
		st, err := findStage(exec, tt.ref)
		if tt.wantStatus != 0 {
			var e *Error
			if !errors.As(err, &e) || e.Status != tt.wantStatus {
				t.Errorf("findStage(%q) = %v, want status %d", tt.ref, err, tt.wantStatus)
			}
			continue
		}
		if err != nil || st.ID != tt.wantID {
			t.Errorf("findStage(%q) = %v, %v; want %s", tt.ref, st, err, tt.wantID)
		}
	}
}

// FuzzDecodeTrigger checks that no trigger body panics the decoder and that
// every rejection is a 400 with a message.
func FuzzDecodeTrigger(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"parameters":{"a":"b","n":1e400}}`, `{"type":"x","user":"u"}`, `[`, `{"parameters":{"a":[{"b":-0.5}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeTrigger(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Message == "" {
				t.Fatalf("decodeTrigger error %v (%T) is not a 400 with a message", err, err)
			}
			return
		}
		if _, err := json.Marshal(req); err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
	})
}

// FuzzParseDocument checks that no pipeline body panics parse-and-validate,
// that every rejection is a client error with paths or a message, and that
// an accepted document encodes to one that parses again with the URL's
// application and name.
func FuzzParseDocument(f *testing.F) {
	for _, s := range []string{
		`{"application":"demo","name":"hello","stages":[{"refId":"1","type":"wait","waitTime":1}]}`,
		"application: demo\nname: hello\nstages:\n- refId: 1\n  type: wait\n",
		`{"stages":[{"refId":"1"},{"refId":"1","requisiteStageRefIds":["1"]}]}`,
		`{"application":7,"parameterConfig":[{"name":"x","required":"yes"}]}`,
		`[]`, `{`, "- a\n- b", `{"stages":"no"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, warnings, err := parseDocument(body, "demo", "hello", pipeline.ValidateOptions{})
		if err != nil {
			var e *Error
			var ve *pipeline.ValidationError
			switch {
			case errors.As(err, &ve):
				if len(ve.Problems) == 0 {
					t.Fatal("validation error without problems")
				}
			case errors.As(err, &e):
				if e.Status != http.StatusBadRequest || e.Code != apitype.CodeInvalidPipeline || e.Message == "" {
					t.Fatalf("parse error %+v is not a 400 invalid_pipeline with a message", e)
				}
			default:
				t.Fatalf("parseDocument error %v (%T) is neither *Error nor *pipeline.ValidationError", err, err)
			}
			return
		}
		doc, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("encode accepted document: %v", err)
		}
		for _, w := range warnings {
			if w.Path == "" || w.Message == "" {
				t.Fatalf("warning %+v lacks a path or a message", w)
			}
		}
		again, againWarnings, err := parseDocument(doc, "demo", "hello", pipeline.ValidateOptions{})
		if err != nil {
			t.Fatalf("the saved form of an accepted document is rejected: %v\n%s", err, doc)
		}
		if !slices.Equal(againWarnings, warnings) {
			t.Fatalf("the saved form warns %v, the document %v\n%s", againWarnings, warnings, doc)
		}
		if again.Application != "demo" || again.Name != "hello" {
			t.Fatalf("saved form names %s/%s, want demo/hello", again.Application, again.Name)
		}
	})
}

// FuzzDecodePlanRequest checks that no plan body panics the decoder, that
// every rejection is a 400 with a message, and that what it accepts
// encodes again.
func FuzzDecodePlanRequest(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"parameters":{"a":"b","n":1e400}}`, `{"parameters":null}`, `{"type":"manual"}`, `[`, `{"parameters":{"a":[{"b":-0.5}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodePlanRequest(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Message == "" {
				t.Fatalf("decodePlanRequest error %v (%T) is not a 400 with a message", err, err)
			}
			return
		}
		if _, err := json.Marshal(req); err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
	})
}
