package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	yaml "go.yaml.in/yaml/v4"
)

// A document keeps the order its author gave its keys: Parse reads into
// maps and MarshalJSON writes sorted keys, so whoever stores a normalized
// document puts its keys back in the written order with KeepKeyOrder, and
// ToYAML writes a JSON document as YAML in its own order.

// orderedValue is a JSON value that remembers the order of its objects'
// keys. Exactly one of keys (an object, with fields), items (an array) or
// scalar is set; an empty object or array has a non-nil empty keys or
// items.
type orderedValue struct {
	keys   []string
	fields map[string]*orderedValue
	items  []*orderedValue
	scalar json.Token // string, json.Number, bool or nil
}

// KeepKeyOrder returns the JSON document doc with the keys of each object
// in the order that the same object (by path) has them in written, a JSON
// or YAML document; keys that written lacks follow, in doc's order. The
// values are doc's: only the order changes.
func KeepKeyOrder(doc, written []byte) ([]byte, error) {
	d, err := decodeOrdered(doc)
	if err != nil {
		return nil, fmt.Errorf("read the normalized document: %w", err)
	}
	w, err := writtenOrder(written)
	if err != nil {
		return nil, fmt.Errorf("read the written document: %w", err)
	}
	reorder(d, w)
	var buf bytes.Buffer
	if err := d.writeJSON(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ToYAML writes a JSON document as YAML, with its keys in the document's
// order.
func ToYAML(doc []byte) ([]byte, error) {
	d, err := decodeOrdered(doc)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(d.yamlNode()); err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// writtenOrder reads the key order of a document as written: JSON, or
// YAML when it does not start with '{'.
func writtenOrder(written []byte) (*orderedValue, error) {
	if t := bytes.TrimSpace(written); len(t) > 0 && t[0] == '{' {
		return decodeOrdered(written)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(written, &n); err != nil {
		return nil, err
	}
	return yamlOrder(&n), nil
}

// yamlOrder is the key order of a YAML node; its scalars are left out.
func yamlOrder(n *yaml.Node) *orderedValue {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return yamlOrder(n.Content[0])
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			return yamlOrder(n.Alias)
		}
	case yaml.MappingNode:
		v := &orderedValue{keys: []string{}, fields: map[string]*orderedValue{}}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := v.fields[k]; !dup {
				v.keys = append(v.keys, k)
			}
			v.fields[k] = yamlOrder(n.Content[i+1])
		}
		return v
	case yaml.SequenceNode:
		v := &orderedValue{items: []*orderedValue{}}
		for _, c := range n.Content {
			v.items = append(v.items, yamlOrder(c))
		}
		return v
	}
	return &orderedValue{}
}

// decodeOrdered reads one JSON value.
func decodeOrdered(data []byte) (*orderedValue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readOrdered(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

func readOrdered(dec *json.Decoder) (*orderedValue, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		v := &orderedValue{keys: []string{}, fields: map[string]*orderedValue{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			f, err := readOrdered(dec)
			if err != nil {
				return nil, err
			}
			if _, dup := v.fields[k]; !dup {
				v.keys = append(v.keys, k)
			}
			v.fields[k] = f
		}
		_, err := dec.Token() // '}'
		return v, err
	case json.Delim('['):
		v := &orderedValue{items: []*orderedValue{}}
		for dec.More() {
			item, err := readOrdered(dec)
			if err != nil {
				return nil, err
			}
			v.items = append(v.items, item)
		}
		_, err := dec.Token() // ']'
		return v, err
	}
	return &orderedValue{scalar: t}, nil
}

// reorder puts d's keys in w's order, at every depth.
func reorder(d, w *orderedValue) {
	if d == nil || w == nil {
		return
	}
	if d.keys != nil && w.keys != nil {
		keys := make([]string, 0, len(d.keys))
		for _, k := range w.keys {
			if _, ok := d.fields[k]; ok {
				keys = append(keys, k)
			}
		}
		for _, k := range d.keys {
			if _, ok := w.fields[k]; !ok {
				keys = append(keys, k)
			}
		}
		d.keys = keys
		for _, k := range keys {
			reorder(d.fields[k], w.fields[k])
		}
	}
	if d.items != nil && w.items != nil {
		for i := range min(len(d.items), len(w.items)) {
			reorder(d.items[i], w.items[i])
		}
	}
}

// writeJSON writes v as compact JSON without HTML escaping.
func (v *orderedValue) writeJSON(buf *bytes.Buffer) error {
	switch {
	case v.keys != nil:
		buf.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSONString(buf, k); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := v.fields[k].writeJSON(buf); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case v.items != nil:
		buf.WriteByte('[')
		for i, item := range v.items {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := item.writeJSON(buf); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	default:
		switch s := v.scalar.(type) {
		case string:
			return writeJSONString(buf, s)
		case json.Number:
			buf.WriteString(s.String())
		case bool:
			fmt.Fprint(buf, s)
		default:
			buf.WriteString("null")
		}
	}
	return nil
}

func writeJSONString(buf *bytes.Buffer, s string) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return nil
}

// yamlNode is v as a YAML node.
func (v *orderedValue) yamlNode() *yaml.Node {
	switch {
	case v.keys != nil:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range v.keys {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, v.fields[k].yamlNode())
		}
		return n
	case v.items != nil:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, item := range v.items {
			n.Content = append(n.Content, item.yamlNode())
		}
		return n
	}
	switch s := v.scalar.(type) {
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
		if strings.Contains(s, "\n") {
			n.Style = yaml.LiteralStyle
		}
		return n
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(s.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s.String()}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(s)}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}
