package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	yaml "go.yaml.in/yaml/v4"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/sluice-cd/sluice/internal/jsondoc"
)

// SplitDocuments splits an export into its pipeline documents, each of
// which Parse reads: a JSON array of pipelines (what front50's
// GET /pipelines/{application} returns) gives one document per element, as
// written; a YAML sequence, or a YAML stream of several documents ("---"),
// gives one YAML document per pipeline; anything else is one document.
// Like Parse, it takes JSON when the first non-blank byte is '{' or '['.
// An element that is not an object is an error naming it.
func SplitDocuments(data []byte) ([][]byte, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return nil, errors.New("empty document: give a pipeline object or an array of them")
	case trimmed[0] == '{':
		return [][]byte{data}, nil
	case trimmed[0] == '[':
		var list []json.RawMessage
		if err := jsondoc.Decode(data, &list, "the array of pipelines"); err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return nil, errors.New("the array holds no pipelines")
		}
		docs := make([][]byte, len(list))
		for i, raw := range list {
			if raw[0] != '{' {
				var v any
				_ = json.Unmarshal(raw, &v)
				return nil, fmt.Errorf("[%d] must be a pipeline object, got %s", i, jsondoc.TypeName(v))
			}
			docs[i] = raw
		}
		return docs, nil
	}
	return splitYAML(data)
}

// splitYAML splits a YAML stream into one document per pipeline.
func splitYAML(data []byte) ([][]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs [][]byte
	split := false // more than one document, or a sequence
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse YAML: %s", yamlMessage(err))
		}
		root := &n
		if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
			root = n.Content[0]
		}
		items := []*yaml.Node{root}
		if root.Kind == yaml.SequenceNode {
			items, split = root.Content, true
		}
		if len(docs) > 0 {
			split = true
		}
		for _, item := range items {
			if item.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("line %d: a pipeline must be a mapping; give one, or a list of them", max(item.Line, 1))
			}
			out, err := yaml.Marshal(item)
			if err != nil {
				return nil, fmt.Errorf("parse YAML: %s", yamlMessage(err))
			}
			docs = append(docs, out)
		}
	}
	switch {
	case len(docs) == 0:
		return nil, errors.New("empty document: give a pipeline object or a list of them")
	case !split:
		return [][]byte{data}, nil // as written, comments and all
	}
	return docs, nil
}

// Identify returns a document's application and name when they are
// strings, best effort: for reporting a document Parse refused.
func Identify(data []byte) (application, name string) {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		j, err := sigsyaml.YAMLToJSON(data)
		if err != nil {
			return "", ""
		}
		data = j
	}
	var doc struct {
		Application any `json:"application"`
		Name        any `json:"name"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return "", ""
	}
	application, _ = doc.Application.(string)
	name, _ = doc.Name.(string)
	return application, name
}
