package cloudfront

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// node is one XML element of a request or stored document, kept whole:
// the control plane stores and returns every element a client sent, in
// order, and reads only the few it acts on. Attributes are dropped
// (CloudFront's documents have none but the root's namespace).
type node struct {
	Name     string  `json:"n"`
	Text     string  `json:"t,omitempty"`
	Children []*node `json:"c,omitempty"`
}

// Bounds of a request document.
const (
	maxDocument = 1 << 20 // bytes
	maxDepth    = 32      // element nesting
	maxElements = 20000
)

// errMalformed is a document that is not well-formed XML within the bounds.
var errMalformed = errors.New("malformed XML")

// parseDocument parses one XML document of at most maxDocument bytes into
// its root element. Text of an element with children is dropped
// (whitespace between them).
func parseDocument(r io.Reader) (*node, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("read the request body: %w", err)
	}
	if len(b) > maxDocument {
		return nil, fmt.Errorf("%w: the document is larger than %d bytes", errMalformed, maxDocument)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, io.EOF
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var stack []*node
	var root *node
	count := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > maxElements || len(stack) >= maxDepth {
				return nil, fmt.Errorf("%w: more than %d elements or deeper than %d", errMalformed, maxElements, maxDepth)
			}
			n := &node{Name: t.Name.Local}
			if len(stack) == 0 {
				if root != nil {
					return nil, fmt.Errorf("%w: more than one root element", errMalformed)
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			n := stack[len(stack)-1]
			if len(n.Children) > 0 {
				n.Text = ""
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, fmt.Errorf("%w: text outside the root element", errMalformed)
				}
				continue
			}
			n := stack[len(stack)-1]
			n.Text += string(t)
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no root element", errMalformed)
	}
	return root, nil
}

// child is n's first child named name, or nil.
func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// path follows child names from n; nil when one is missing.
func (n *node) path(names ...string) *node {
	for _, name := range names {
		n = n.child(name)
	}
	return n
}

// text is the trimmed text of the child at the path, "" when missing.
func (n *node) text(names ...string) string {
	c := n.path(names...)
	if c == nil {
		return ""
	}
	return strings.TrimSpace(c.Text)
}

// has says whether the child at the path exists.
func (n *node) has(names ...string) bool { return n.path(names...) != nil }

// items are the children of the Items child of the element at the path
// (CloudFront's {Quantity, Items} lists).
func (n *node) items(names ...string) []*node {
	c := n.path(append(names, "Items")...)
	if c == nil {
		return nil
	}
	return c.Children
}

// set sets the text of n's child name, adding it at the end if missing.
func (n *node) set(name, text string) {
	if c := n.child(name); c != nil {
		c.Text, c.Children = text, nil
		return
	}
	n.Children = append(n.Children, &node{Name: name, Text: text})
}

// remove drops n's children named name.
func (n *node) remove(name string) {
	kept := n.Children[:0]
	for _, c := range n.Children {
		if c.Name != name {
			kept = append(kept, c)
		}
	}
	n.Children = kept
}

// clone is a deep copy of n.
func (n *node) clone() *node {
	if n == nil {
		return nil
	}
	c := &node{Name: n.Name, Text: n.Text}
	for _, ch := range n.Children {
		c.Children = append(c.Children, ch.clone())
	}
	return c
}

// el builds an element with children.
func el(name string, children ...*node) *node { return &node{Name: name, Children: children} }

// leaf builds an element with text.
func leaf(name, text string) *node { return &node{Name: name, Text: text} }

// namespace is CloudFront's XML namespace, on the root of every document.
const namespace = "http://cloudfront.amazonaws.com/doc/2020-05-31/"

// render writes n as a document with CloudFront's namespace on the root.
func (n *node) render() []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	n.write(&b, true)
	return b.Bytes()
}

func (n *node) write(b *bytes.Buffer, root bool) {
	b.WriteByte('<')
	b.WriteString(n.Name)
	if root {
		b.WriteString(` xmlns="` + namespace + `"`)
	}
	b.WriteByte('>')
	if len(n.Children) == 0 {
		_ = xml.EscapeText(b, []byte(n.Text))
	}
	for _, c := range n.Children {
		c.write(b, false)
	}
	b.WriteString("</")
	b.WriteString(n.Name)
	b.WriteByte('>')
}
