package stage

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// HasExpression reports whether v is a string holding a ${…} expression,
// whose type is only known once it is evaluated.
func HasExpression(v any) bool {
	s, ok := v.(string)
	return ok && strings.Contains(s, "${")
}

// Number reads a numeric field. JSON numbers and numeric strings are
// accepted (Deck writes some numbers as strings). ok is false when the
// field is absent.
func Number(fields map[string]any, key string) (n float64, ok bool, err error) {
	v, present := fields[key]
	if !present || v == nil {
		return 0, false, nil
	}
	switch x := v.(type) {
	case float64:
		return x, true, nil
	case int:
		return float64(x), true, nil
	case int64:
		return float64(x), true, nil
	case json.Number:
		f, err := x.Float64()
		return f, true, err
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, true, fmt.Errorf("must be a number, not %q", x)
		}
		return f, true, nil
	}
	return 0, true, fmt.Errorf("must be a number, not %s", jsonType(v))
}

// String reads a string field; ok is false when it is absent.
func String(fields map[string]any, key string) (s string, ok bool, err error) {
	v, present := fields[key]
	if !present || v == nil {
		return "", false, nil
	}
	s, isString := v.(string)
	if !isString {
		return "", true, fmt.Errorf("must be a string, not %s", jsonType(v))
	}
	return s, true, nil
}

// Bool reads a boolean field (true/false or "true"/"false").
func Bool(fields map[string]any, key string) (b bool, ok bool, err error) {
	v, present := fields[key]
	if !present || v == nil {
		return false, false, nil
	}
	switch x := v.(type) {
	case bool:
		return x, true, nil
	case string:
		b, err := strconv.ParseBool(x)
		if err != nil {
			return false, true, fmt.Errorf("must be true or false, not %q", x)
		}
		return b, true, nil
	}
	return false, true, fmt.Errorf("must be true or false, not %s", jsonType(v))
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int64, json.Number:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}
