package webhook

import (
	"strings"

	"github.com/theory/jsonpath"
)

// compilePath parses a JSONPath as Orca's Jayway JsonPath reads it: a path
// that does not start at the root ($) is taken from it ("status" is
// "$.status"). The grammar is RFC 9535's, which covers what Orca's
// documentation and Deck write ($.a.b, $.a[0], $['a'], filters).
func compilePath(p string) (*jsonpath.Path, error) {
	p = strings.TrimSpace(p)
	switch {
	case strings.HasPrefix(p, "$"):
	case strings.HasPrefix(p, "["):
		p = "$" + p
	default:
		p = "$." + p
	}
	return jsonpath.Parse(p)
}

// readPath is what path selects in doc, as Jayway returns it: the value
// of a definite (singular) path, or false when there is none; the list of
// matches of any other path, possibly empty.
func readPath(path *jsonpath.Path, doc any) (any, bool) {
	nodes := path.Select(doc)
	if path.Query().Singular() != nil {
		if len(nodes) == 0 {
			return nil, false
		}
		return nodes[0], true
	}
	return []any(nodes), true
}
