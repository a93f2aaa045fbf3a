package lambda

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/stage"
)

// str reads a string field; absent is "".
func str(fields map[string]any, key string) (string, bool, error) {
	s, ok, err := stage.String(fields, key)
	if err != nil {
		return "", true, fmt.Errorf("%s %w", key, err)
	}
	return s, ok, nil
}

// integer reads a whole number (JSON number or numeric string).
func integer(fields map[string]any, key string) (int64, bool, error) {
	n, ok, err := stage.Number(fields, key)
	if err != nil || !ok {
		return 0, ok, err
	}
	if n != float64(int64(n)) {
		return 0, true, fmt.Errorf("must be a whole number, not %v", n)
	}
	return int64(n), true, nil
}

// boolean reads a boolean field with a default for when it is absent.
func boolean(fields map[string]any, key string, def bool) (bool, error) {
	b, ok, err := stage.Bool(fields, key)
	if err != nil {
		return false, fmt.Errorf("%s %w", key, err)
	}
	if !ok {
		return def, nil
	}
	return b, nil
}

// stringList reads a list of strings. A single string is a one-element
// list, or several when comma-separated (the plugin's test pipelines write
// "aliases": "prod"). Empty items are dropped. ok is false when absent.
func stringList(fields map[string]any, key string) ([]string, bool, error) {
	v, present := fields[key]
	if !present || v == nil {
		return nil, false, nil
	}
	var raw []string
	switch x := v.(type) {
	case string:
		raw = strings.Split(x, ",")
	case []string:
		raw = x
	case []any:
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, true, fmt.Errorf("%s[%d] must be a string, not %s", key, i, jsonKind(e))
			}
			raw = append(raw, s)
		}
	default:
		return nil, true, fmt.Errorf("%s must be a list of strings, not %s", key, jsonKind(v))
	}
	out := []string{}
	for _, s := range raw {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, true, nil
}

// stringMap reads an object of scalar values as strings (YAML writes
// PORT: 8080 as a number). ok is false when absent.
func stringMap(fields map[string]any, key string) (map[string]string, bool, error) {
	v, present := fields[key]
	if !present || v == nil {
		return nil, false, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		if sm, ok := v.(map[string]string); ok {
			return sm, true, nil
		}
		return nil, true, fmt.Errorf("%s must be an object of names to values, not %s", key, jsonKind(v))
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		switch x := e.(type) {
		case string:
			out[k] = x
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case int, int64, bool:
			out[k] = fmt.Sprint(x)
		default:
			return nil, true, fmt.Errorf("%s.%s must be a string, not %s", key, k, jsonKind(e))
		}
	}
	return out, true, nil
}

// object reads a nested object; ok is false when absent.
func object(fields map[string]any, key string) (map[string]any, bool, error) {
	v, present := fields[key]
	if !present || v == nil {
		return nil, false, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, true, fmt.Errorf("%s must be an object, not %s", key, jsonKind(v))
	}
	return m, true, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// ---- validation ----

type fieldKind int

const (
	kindString     fieldKind = iota
	kindInt                  // whole number, optionally in [min, max]
	kindBool                 // true / false
	kindStringList           // list of strings, or one (comma-separated) string
	kindStringMap            // object of scalar values
	kindObject               // object; sub lists its fields
)

// fieldSpec describes one stage field for Validate.
type fieldSpec struct {
	name     string
	kind     fieldKind
	required bool
	min, max int64             // kindInt range; max 0 means no upper bound
	emptyOK  bool              // kindInt: "" is allowed (it clears)
	oneOf    []string          // kindString: allowed values (case-sensitive)
	valid    func(string) bool // kindString: values must pass (non-empty values only)
	sub      []fieldSpec       // kindObject: its fields
	hint     string            // what the field is, added to messages
}

// validateSpecs checks fields against specs and returns every problem,
// sorted by field. Values containing ${ are not checked.
func validateSpecs(fields map[string]any, specs []fieldSpec, prefix string) []stage.FieldError {
	var errs []stage.FieldError
	add := func(s fieldSpec, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if s.hint != "" {
			msg += " (" + s.hint + ")"
		}
		errs = append(errs, stage.FieldError{Field: prefix + s.name, Msg: msg})
	}
	for _, s := range specs {
		v, present := fields[s.name]
		if !present || v == nil {
			if s.required {
				add(s, "is required")
			}
			continue
		}
		if containsExpression(v) {
			continue
		}
		switch s.kind {
		case kindString:
			x, ok := v.(string)
			switch {
			case !ok:
				add(s, "must be a string, not %s", jsonKind(v))
			case s.required && strings.TrimSpace(x) == "":
				add(s, "is required and must not be empty")
			case len(s.oneOf) > 0 && x != "" && !contains(s.oneOf, x):
				add(s, "must be one of %s, not %q", strings.Join(s.oneOf, ", "), x)
			case s.valid != nil && x != "" && !s.valid(x):
				add(s, "%q is not valid", x)
			}
		case kindInt:
			if v == "" && s.emptyOK {
				continue
			}
			n, _, err := integer(fields, s.name)
			switch {
			case err != nil:
				add(s, "%s", err)
			case n < s.min:
				add(s, "must be at least %d, not %d", s.min, n)
			case s.max > 0 && n > s.max:
				add(s, "must be at most %d, not %d", s.max, n)
			}
		case kindBool:
			if _, _, err := stage.Bool(fields, s.name); err != nil {
				add(s, "%s", err)
			}
		case kindStringList:
			if _, _, err := stringList(fields, s.name); err != nil {
				add(s, "%s", strings.TrimPrefix(err.Error(), s.name+" "))
			}
		case kindStringMap:
			if _, _, err := stringMap(fields, s.name); err != nil {
				add(s, "%s", strings.TrimPrefix(err.Error(), s.name+" "))
			}
		case kindObject:
			m, ok := v.(map[string]any)
			if !ok {
				add(s, "must be an object, not %s", jsonKind(v))
				continue
			}
			errs = append(errs, validateSpecs(m, s.sub, prefix+s.name+".")...)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	return errs
}

// containsExpression is in payload.go.

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

var (
	// functionNamePattern: a name (1–64), or a full or partial ARN,
	// optionally qualified — as the Lambda API accepts.
	functionNamePattern = regexp.MustCompile(`^((arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:)|(\d{12}:function:))?[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]+))?$`)
	// aliasNamePattern: AWS's alias names (not all digits).
	aliasNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
)

// commonSpecs are the fields every Lambda stage reads.
var commonSpecs = []fieldSpec{
	{name: "account", kind: kindString, hint: "the account from the accounts config; empty or absent means the local Lambda"},
	{name: "region", kind: kindString, valid: awsclient.ValidRegion, hint: "must be the account's region, e.g. us-east-1"},
	{name: "functionName", kind: kindString, required: true, valid: functionNamePattern.MatchString,
		hint: "a function name of letters, digits, '-' and '_' (at most 64), or a function ARN"},
	{name: "prefixApplicationNameToFunction", kind: kindBool, hint: "false keeps functionName as written instead of prefixing the application name"},
	{name: "waitTimeoutSeconds", kind: kindInt, min: 1, max: 86400, hint: "how long a task waits for AWS, in seconds; default 300"},
}
