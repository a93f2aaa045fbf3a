package sqs

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The query protocol: a request is form parameters (Action=SendMessage&
// QueueUrl=…&MessageAttribute.1.Name=…), an answer is XML. Requests are
// turned into the JSON protocol's shape, so that one decoder serves both;
// answers are rendered from the same values the JSON protocol marshals.

const xmlns = "http://queue.amazonaws.com/doc/2012-11-05/"

// maxQueryParams bounds the parameters of one query request.
const maxQueryParams = 1000

// queryMaps are the flattened maps of the query protocol: the parameter
// prefix, the JSON member it becomes, and the names of the key and value.
var queryMaps = map[string]struct{ member, key, value string }{
	"Attribute":              {"Attributes", "Name", "Value"},
	"Tag":                    {"Tags", "Key", "Value"},
	"MessageAttribute":       {"MessageAttributes", "Name", "Value"},
	"MessageSystemAttribute": {"MessageSystemAttributes", "Name", "Value"},
}

// queryLists are the flattened lists: parameter prefix → JSON member.
var queryLists = map[string]string{
	"AttributeName":                            "AttributeNames",
	"MessageAttributeName":                     "MessageAttributeNames",
	"MessageSystemAttributeName":               "MessageSystemAttributeNames",
	"TagKey":                                   "TagKeys",
	"SendMessageBatchRequestEntry":             "Entries",
	"DeleteMessageBatchRequestEntry":           "Entries",
	"ChangeMessageVisibilityBatchRequestEntry": "Entries",
}

// queryToJSON turns the form of a query request into the JSON protocol's
// request object for op.
func queryToJSON(op string, form url.Values) ([]byte, error) {
	if len(form) > maxQueryParams {
		return nil, invalidParameter("The request has %d parameters; the local SQS takes at most %d.", len(form), maxQueryParams)
	}
	tree := map[string]any{}
	for key, vs := range form {
		if key == "Action" || key == "Version" || strings.HasPrefix(key, "X-Amz-") || strings.HasPrefix(key, "AWSAccessKeyId") {
			continue
		}
		if err := insertPath(tree, strings.Split(key, "."), vs[0]); err != nil {
			return nil, err
		}
	}
	obj, err := convert(tree)
	if err != nil {
		return nil, err
	}
	if op == "CreateQueue" {
		if tags, ok := obj["Tags"]; ok {
			obj["tags"] = tags
			delete(obj, "Tags")
		}
	}
	return json.Marshal(obj)
}

// insertPath stores value at path in tree: "Attribute.1.Name" becomes
// tree["Attribute"]["1"]["Name"].
func insertPath(tree map[string]any, path []string, value string) error {
	for i, seg := range path {
		if seg == "" {
			return invalidParameter("The parameter %q is malformed.", strings.Join(path, "."))
		}
		if i == len(path)-1 {
			if _, ok := tree[seg].(map[string]any); ok {
				return invalidParameter("The parameter %q is given both as a value and as a structure.", strings.Join(path, "."))
			}
			tree[seg] = value
			return nil
		}
		next, ok := tree[seg].(map[string]any)
		if !ok {
			if _, isValue := tree[seg]; isValue {
				return invalidParameter("The parameter %q is given both as a value and as a structure.", strings.Join(path, "."))
			}
			next = map[string]any{}
			tree[seg] = next
		}
		tree = next
	}
	return nil
}

// convert turns a parameter tree into the JSON protocol's object:
// flattened maps and lists become JSON maps and arrays.
func convert(tree map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range tree {
		if m, ok := queryMaps[k]; ok {
			entries, err := indexed(k, v)
			if err != nil {
				return nil, err
			}
			obj := map[string]any{}
			for _, e := range entries {
				em, ok := e.(map[string]any)
				if !ok {
					return nil, invalidParameter("The parameter %s.N must have .%s and .%s.", k, m.key, m.value)
				}
				name, _ := em[m.key].(string)
				if name == "" {
					return nil, invalidParameter("The parameter %s.N.%s is missing.", k, m.key)
				}
				val := em[m.value]
				if vm, ok := val.(map[string]any); ok {
					c, err := convert(vm)
					if err != nil {
						return nil, err
					}
					val = c
				}
				obj[name] = val
			}
			out[m.member] = obj
			continue
		}
		if member, ok := queryLists[k]; ok {
			entries, err := indexed(k, v)
			if err != nil {
				return nil, err
			}
			list := []any{}
			for _, e := range entries {
				if em, ok := e.(map[string]any); ok {
					c, err := convert(em)
					if err != nil {
						return nil, err
					}
					e = c
				}
				list = append(list, e)
			}
			out[member] = list
			continue
		}
		if sub, ok := v.(map[string]any); ok {
			c, err := convert(sub)
			if err != nil {
				return nil, err
			}
			out[k] = c
			continue
		}
		out[k] = v
	}
	return out, nil
}

// indexed returns the members 1, 2, … of a flattened parameter in order.
func indexed(name string, v any) ([]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidParameter("The parameter %s must be given as %s.1, %s.2, ….", name, name, name)
	}
	idx := make([]int, 0, len(m))
	for k := range m {
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 || n > maxQueryParams {
			return nil, invalidParameter("The parameter %s.%s is malformed: members are numbered from 1.", name, k)
		}
		idx = append(idx, n)
	}
	slices.Sort(idx)
	out := make([]any, len(idx))
	for i, n := range idx {
		out[i] = m[strconv.Itoa(n)]
	}
	return out, nil
}

// xmlLists names the element of each member of a list in an answer, per
// JSON member (and, for batch results, per operation).
var xmlLists = map[string]string{
	"QueueUrls": "QueueUrl",
	"queueUrls": "QueueUrl",
	"Messages":  "Message",
	"Failed":    "BatchResultErrorEntry",
}

// writeXMLResponse renders resp, the value the JSON protocol would
// marshal, as the query protocol's answer to op.
func writeXMLResponse(w http.ResponseWriter, op, requestID string, resp any) {
	raw, _ := json.Marshal(resp)
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	_ = d.Decode(&v)
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?><` + op + `Response xmlns="` + xmlns + `">`)
	if len(v) > 0 {
		b.WriteString("<" + op + "Result>")
		writeXMLObject(&b, op, v)
		b.WriteString("</" + op + "Result>")
	}
	b.WriteString(`<ResponseMetadata><RequestId>` + requestID + `</RequestId></ResponseMetadata></` + op + `Response>`)
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(b.Bytes())
}

func writeXMLObject(b *bytes.Buffer, op string, v map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(v)) {
		val := v[k]
		switch k {
		case "Attributes", "Tags", "MessageAttributes":
			m, _ := val.(map[string]any)
			elem, key := strings.TrimSuffix(k, "s"), "Name"
			if k == "Tags" {
				key = "Key"
			}
			for _, name := range slices.Sorted(maps.Keys(m)) {
				b.WriteString("<" + elem + "><" + key + ">")
				xmlEscape(b, name)
				b.WriteString("</" + key + ">")
				writeXMLValue(b, op, "Value", m[name])
				b.WriteString("</" + elem + ">")
			}
			continue
		}
		if list, ok := val.([]any); ok {
			elem := xmlLists[k]
			if k == "Successful" {
				elem = op + "ResultEntry"
			}
			if elem == "" {
				elem = k
			}
			for _, e := range list {
				writeXMLValue(b, op, elem, e)
			}
			continue
		}
		writeXMLValue(b, op, k, val)
	}
}

func writeXMLValue(b *bytes.Buffer, op, name string, v any) {
	b.WriteString("<" + name + ">")
	switch v := v.(type) {
	case map[string]any:
		writeXMLObject(b, op, v)
	case string:
		xmlEscape(b, v)
	case json.Number:
		b.WriteString(v.String())
	case bool:
		b.WriteString(strconv.FormatBool(v))
	}
	b.WriteString("</" + name + ">")
}

func xmlEscape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s))
}
