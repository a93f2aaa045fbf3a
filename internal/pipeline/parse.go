package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/sluice-cd/sluice/internal/jsondoc"
)

// Parse reads a pipeline document, JSON or YAML, and normalizes it (see the
// package documentation). The document is JSON when its first non-blank
// byte is '{' or '['; otherwise it is YAML.
//
// A syntax error names its line and column. A document whose shape cannot
// be held by Pipeline gives a *ValidationError naming every such place.
// Parse does not validate: call Validate.
func Parse(data []byte) (*Pipeline, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errors.New("empty pipeline document")
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		return parseJSON(data)
	}
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("parse YAML: %s", yamlMessage(err))
	}
	return parseJSON(j)
}

// yamlMessage flattens a YAML error onto one line: "line 3: key "name"
// already set in map".
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.Contains(msg, "unsupported value") { // from JSON encoding
		return "numbers must be finite; .inf and .nan have no JSON form"
	}
	msg = strings.TrimPrefix(msg, "unmarshal errors:")
	var lines []string
	for line := range strings.Lines(msg) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "; ")
}

// parseJSON decodes and normalizes a JSON document.
func parseJSON(data []byte) (*Pipeline, error) {
	var v any
	if err := jsondoc.Decode(data, &v, "the pipeline object"); err != nil {
		return nil, err
	}
	v, err := convertNumbers(v)
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("pipeline document must be an object, got %s", jsondoc.TypeName(v))
	}
	p, err := decodePipeline(doc)
	if err != nil {
		return nil, err
	}
	p.normalize()
	return p, nil
}

// decodePipeline reads the typed fields of a document. It fails only when a
// list that Pipeline holds as typed entries is not a list of objects.
func decodePipeline(doc map[string]any) (*Pipeline, error) {
	p := &Pipeline{LimitConcurrent: true, Extra: map[string]any{}}
	var shape []Problem
	objects := func(key, what string) []map[string]any {
		v := doc[key]
		if v == nil {
			return nil
		}
		list, ok := v.([]any)
		if !ok {
			shape = append(shape, Problem{Path: key, Msg: fmt.Sprintf("must be a list of %s objects, got %s", what, jsondoc.TypeName(v))})
			return nil
		}
		out := make([]map[string]any, 0, len(list))
		for i, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				shape = append(shape, Problem{Path: key + "[" + strconv.Itoa(i) + "]", Msg: fmt.Sprintf("must be a %s object, got %s", what, jsondoc.TypeName(e))})
				continue
			}
			out = append(out, m)
		}
		return out
	}

	for _, m := range objects("stages", "stage") {
		p.Stages = append(p.Stages, decodeStage(m))
	}
	for _, m := range objects("parameterConfig", "parameter") {
		p.ParameterConfig = append(p.ParameterConfig, decodeParameter(m))
	}
	for _, m := range objects("triggers", "trigger") {
		t := Trigger{Fields: m}
		t.Type, _ = m["type"].(string)
		p.Triggers = append(p.Triggers, t)
	}
	if n := objects("notifications", "notification"); doc["notifications"] != nil {
		p.Notifications = n
	}
	if len(shape) > 0 {
		return nil, &ValidationError{Problems: shape}
	}

	for k, v := range doc {
		ok := true
		switch k {
		case "stages", "parameterConfig", "triggers", "notifications":
		case "application":
			ok = setString(&p.Application, v)
		case "name":
			ok = setString(&p.Name, v)
		case "id":
			ok = setString(&p.ID, v)
		case "description":
			ok = setString(&p.Description, v)
		case "limitConcurrent":
			ok = setBool(&p.LimitConcurrent, v)
		case "keepWaitingPipelines":
			ok = setBool(&p.KeepWaitingPipelines, v)
		case "rollbackOnFailure":
			ok = setBool(&p.RollbackOnFailure, v)
		case "maxConcurrentExecutions":
			if v != nil {
				n, whole := asInt64(v)
				ok = whole && n == int64(int(n))
				if ok {
					p.MaxConcurrentExecutions = int(n)
				}
			}
		default:
			ok = false
		}
		if !ok {
			p.Extra[k] = v
		}
	}
	return p, nil
}

// normalize applies the rules in the package documentation that need the
// whole pipeline, then writes each stage's normalized values into its
// Fields.
func (p *Pipeline) normalize() {
	if len(p.Stages) > 0 && !slices.ContainsFunc(p.Stages, hasRefID) {
		for i, s := range p.Stages {
			s.RefID = strconv.Itoa(i + 1)
			s.RequisiteStageRefIDs = []string{}
			if i > 0 {
				s.RequisiteStageRefIDs = []string{strconv.Itoa(i)}
			}
			delete(s.Fields, "requisiteStageRefIds")
		}
	}
	for _, s := range p.Stages {
		s.Fields = s.document()
	}
}

func hasRefID(s *Stage) bool { return !lacking(s.Fields, "refId") }
