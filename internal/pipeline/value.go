package pipeline

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strconv"
)

// convertNumbers replaces every json.Number in a decoded tree with an int64
// (a whole number that fits) or a float64, in place where it can.
func convertNumbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		return convertNumber(v)
	case map[string]any:
		for k, e := range v {
			c, err := convertNumbers(e)
			if err != nil {
				return nil, err
			}
			v[k] = c
		}
	case []any:
		for i, e := range v {
			c, err := convertNumbers(e)
			if err != nil {
				return nil, err
			}
			v[i] = c
		}
	}
	return v, nil
}

func convertNumber(n json.Number) (any, error) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %s is out of range", n)
	}
	if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
		return int64(f), nil
	}
	return f, nil
}

func isNumber(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
		float32, float64, json.Number:
		return true
	}
	return false
}

// asInt64 returns v as an int64 when it is a whole number that fits.
func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		return int64(n), n <= math.MaxInt64
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), n <= math.MaxInt64
	case float32:
		return asInt64(float64(n))
	case float64:
		if n != math.Trunc(n) || n < math.MinInt64 || n >= math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		c, err := convertNumber(n)
		if err != nil {
			return 0, false
		}
		return asInt64(c)
	}
	return 0, false
}

// refString returns a refId written as a string or a number as a string.
func refString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), true
	}
	if i, ok := asInt64(v); ok {
		return strconv.FormatInt(i, 10), true
	}
	return "", false
}

// isBoolOrNull reports whether v may stand where a boolean belongs.
func isBoolOrNull(v any) bool {
	switch v.(type) {
	case nil, bool:
		return true
	}
	return false
}

func isStringOrNull(v any) bool {
	switch v.(type) {
	case nil, string:
		return true
	}
	return false
}

// lacking reports whether a key is absent, null or the empty string.
func lacking(m map[string]any, key string) bool {
	v, ok := m[key]
	return !ok || v == nil || v == ""
}

// copyMap returns a copy of m to write into, never nil (as maps.Clone of a
// nil map would be), with room for a few more keys.
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+4)
	maps.Copy(out, m)
	return out
}
