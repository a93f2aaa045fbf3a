package lambda

import (
	"encoding/json"
	"fmt"

	"github.com/sluice-cd/sluice/internal/stage"
)

// What tasks record in the stage context, for the tasks after them and for
// their own re-runs, and how they read it back. The engine stores the
// context as JSON, so values come back as plain JSON values.

// ctxString reads a string the stage's earlier tasks recorded.
func ctxString(t *stage.Task, key string) string {
	s, _ := t.Context[key].(string)
	return s
}

func toAnyList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func toAnyFloatMap(m map[string]float64) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// anyStrings reads a list of strings a task recorded in the context.
func anyStrings(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = append(out, x...)
	}
	return out
}

// storedTarget reads the route target the resolve task recorded.
func storedTarget(t *stage.Task) (routeTarget, error) {
	var target routeTarget
	if err := fromContext(t.Context, routeTargetKey, &target); err != nil || target.Version == "" {
		return routeTarget{}, fail("the stage context has no resolved route target (%s); the %s task must run first", routeTargetKey, taskResolveRoute)
	}
	if target.Weights == nil {
		target.Weights = map[string]float64{}
	}
	return target, nil
}

// fromContext decodes a value an earlier task stored in the context.
func fromContext(fields map[string]any, key string, dst any) error {
	v, ok := fields[key]
	if !ok || v == nil {
		return fmt.Errorf("%s is missing", key)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// jsonValue converts v to plain JSON values (maps, lists, strings,
// float64s), as the engine stores them.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}
