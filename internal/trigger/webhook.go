package trigger

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/pipeline"
)

// webhookKind is Echo's webhook trigger: {type: "webhook", source,
// payloadConstraints, secretName}.
type webhookKind struct{ secrets Secrets }

func (k webhookKind) Validate(fields map[string]any) []pipeline.FieldProblem {
	var problems []pipeline.FieldProblem
	src := str(fields, "source", &problems)
	if strings.TrimSpace(src) == "" {
		problems = append(problems, pipeline.FieldProblem{Field: "source",
			Msg: `missing source; set "source" to the name deliveries are posted to: POST /webhooks/webhook/<source>`})
	} else if !validSource(src) {
		problems = append(problems, pipeline.FieldProblem{Field: "source",
			Msg: fmt.Sprintf("%q cannot be a URL path segment; use letters, digits, '-', '_' and '.'", src)})
	}
	checkSecret(fields, k.secrets, &problems)
	checkConstraints(fields, &problems)
	return problems
}

func validSource(s string) bool {
	if s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func checkConstraints(fields map[string]any, problems *[]pipeline.FieldProblem) {
	raw, ok := fields["payloadConstraints"]
	if !ok || raw == nil {
		return
	}
	m, ok := raw.(map[string]any)
	if !ok {
		*problems = append(*problems, pipeline.FieldProblem{Field: "payloadConstraints",
			Msg: `must be an object of payload key → regular expression, e.g. {"branch": "^main$"}`})
		return
	}
	for _, key := range slices.Sorted(maps.Keys(m)) {
		path := "payloadConstraints[" + strconv.Quote(key) + "]"
		if strings.HasPrefix(key, "$") {
			if _, err := parsePath(key); err != nil {
				*problems = append(*problems, pipeline.FieldProblem{Field: path, Msg: "key: " + err.Error()})
			}
		}
		switch v := m[key].(type) {
		case nil:
		case string:
			if _, err := regexp.Compile(v); err != nil {
				*problems = append(*problems, pipeline.FieldProblem{Field: path,
					Msg: fmt.Sprintf("not a regular expression (%v); Echo would never match it", err)})
			}
		default:
			*problems = append(*problems, pipeline.FieldProblem{Field: path, Msg: fmt.Sprintf("must be a regular expression string, got %T", v)})
		}
	}
}

// MatchPayload applies Echo's payloadConstraints (ArtifactMatcher
// isJsonPathConstraintInPayload): every key must be present in the
// payload with a value that is not null — a key starting with "$" is a
// JSONPath and any of the values it selects may match — and, when the
// constraint's value is not null, that value as text must contain a match
// of the constraint's regular expression (Java's Pattern.asPredicate, a
// search, not a whole match). A constraint whose expression does not
// compile never matches, as in Echo; Validate refuses it at save time.
func MatchPayload(constraints map[string]any, payload map[string]any) bool {
	for key, want := range constraints {
		var values []string
		if v, ok := payload[key]; ok && v != nil {
			values = []string{text(v)}
		} else if strings.HasPrefix(key, "$") {
			p, err := parsePath(key)
			if err != nil {
				return false
			}
			for _, v := range p.eval(payload) {
				if v != nil {
					values = append(values, text(v))
				}
			}
		}
		if len(values) == 0 {
			return false
		}
		re, isString := want.(string)
		if want == nil || !isString {
			if want != nil {
				return false
			}
			continue
		}
		rx, err := regexp.Compile(re)
		if err != nil {
			return false
		}
		if !slices.ContainsFunc(values, rx.MatchString) {
			return false
		}
	}
	return true
}

// text renders a JSON value as Echo's toString would for the common
// cases: strings as they are, whole numbers without a decimal point,
// objects and lists as JSON.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// WebhookParameters returns Echo's trigger parameters of a webhook
// delivery: the payload's "parameters" object, or none.
func WebhookParameters(payload map[string]any) map[string]any {
	p, _ := payload["parameters"].(map[string]any)
	return maps.Clone(p)
}

// jsonPath is the part of JSONPath payloadConstraints keys use: $, .name,
// ['name'], [n], [*] and .*.
type jsonPath []pathStep

type pathStep struct {
	name  string
	index int
	all   bool
	isIdx bool
}

func parsePath(s string) (jsonPath, error) {
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("a JSONPath starts with $")
	}
	var p jsonPath
	rest := s[1:]
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, ".*"):
			p = append(p, pathStep{all: true})
			rest = rest[2:]
		case rest[0] == '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, fmt.Errorf("empty name in JSONPath %q (only $, .name, ['name'], [n], [*] and .* are supported)", s)
			}
			p = append(p, pathStep{name: rest[:end]})
			rest = rest[end:]
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ in JSONPath %q", s)
			}
			inner := rest[1:end]
			rest = rest[end+1:]
			switch {
			case inner == "*":
				p = append(p, pathStep{all: true})
			case len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0]:
				p = append(p, pathStep{name: inner[1 : len(inner)-1]})
			default:
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("[%s] in JSONPath %q is not an index, a 'name' or *", inner, s)
				}
				p = append(p, pathStep{index: n, isIdx: true})
			}
		default:
			return nil, fmt.Errorf("unexpected %q in JSONPath %q (only $, .name, ['name'], [n], [*] and .* are supported)", rest[:1], s)
		}
	}
	return p, nil
}

func (p jsonPath) eval(root any) []any {
	cur := []any{root}
	for _, st := range p {
		var next []any
		for _, v := range cur {
			switch v := v.(type) {
			case map[string]any:
				switch {
				case st.all:
					for _, k := range slices.Sorted(maps.Keys(v)) {
						next = append(next, v[k])
					}
				case !st.isIdx:
					if x, ok := v[st.name]; ok {
						next = append(next, x)
					}
				}
			case []any:
				switch {
				case st.all:
					next = append(next, v...)
				case st.isIdx && st.index < len(v):
					next = append(next, v[st.index])
				}
			}
		}
		cur = next
	}
	return cur
}
